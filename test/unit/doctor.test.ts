import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import { describe, it } from "node:test";
import { type DoctorOptions, doctor, type Finding } from "../../cli/doctor";
import { inSandbox } from "./fakes/sandbox";

const options = (o: Partial<DoctorOptions>): DoctorOptions => ({
  host: "192.0.2.10",
  port: 22,
  user: "root",
  hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
  sudo: false,
  role: "director",
  vips: [],
  mode: "dr",
  dialTimeout: 5,
  ...o,
});
const verdicts = (fs: Finding[]) => Object.fromEntries(fs.map((f) => [f.check, f.ok ? "ok" : `FAIL ${f.detail}`]));

/** What a stand-in `ip -j` prints: the default route, the links, lo's addresses with a VIP (doctor-facts.sh reads `ip -o` text). */
const DEFAULT_ROUTE = JSON.stringify([{ dst: "default", gateway: "10.0.0.1", dev: "eth0", flags: [] }]);
const LINKS = JSON.stringify([
  { ifindex: 1, ifname: "lo", flags: ["LOOPBACK", "UP", "LOWER_UP"] },
  { ifindex: 2, ifname: "eth0", flags: ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"] },
]);
const LO_VIP = JSON.stringify([
  { ifindex: 1, ifname: "lo", addr_info: [{ family: "inet", local: "10.0.0.100", prefixlen: 32, scope: "global" }] },
]);

/** The host's facts come from doctor's own script, run by a real shell with stand-in commands. */
describe("doctor's checks, from the facts its script reads", () => {
  it("a director: ipvsadm, a loadable ip_vs, and keepalived running (another IPVS manager)", async () => {
    await inSandbox(async (box) => {
      box.command("ipvsadm", 'echo "ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v1.2.1)"');
      box.command("modprobe", "exit 0");
      box.command("pidof", '[ "$1" = keepalived ]');
      box.command("id", "echo 0");
      box.command("ip", `case "$*" in *route*) echo '${DEFAULT_ROUTE}';; *link*) echo '${LINKS}';; esac`);

      const f = await doctor(options({}), box.transport());
      assert.deepEqual(verdicts(f), {
        ssh: "ok",
        privileges: "ok",
        iproute2: "ok",
        ipvsadm: "ok",
        ip_vs: "ok",
        "other IPVS managers": "FAIL keepalived running: it manages IPVS rules too, and may fight pulumi-lvs over them",
      });
      assert.equal(
        f.find((x) => x.check === "ipvsadm")?.detail,
        "ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v1.2.1)",
      );
      assert.equal(f.find((x) => x.check === "ip_vs")?.detail, "loadable (not loaded yet)");
    });
  });

  it("an ip that prints no JSON fails the iproute2 check, naming what it needs", async () => {
    await inSandbox(async (box) => {
      box.command("id", "echo 0");
      // iproute2 before 4.13: -j is an unknown option
      box.command("ip", 'echo "Option \\"-j\\" is unknown, try \\"ip -help\\"." >&2; exit 255');
      const f = await doctor(options({}), box.transport());
      const check = f.find((x) => x.check === "iproute2");
      assert.equal(check?.ok, false);
      assert.match(check?.fix ?? "", /iproute2 4\.13 or later/);
    });
  });

  it("a DR real server: a non-root user, eth0 still answering ARP, one VIP of two on lo", async () => {
    await inSandbox(async (box) => {
      box.command("id", "echo 1000");
      box.command("pidof", "exit 1");
      box.command("modprobe", "exit 1");
      box.command(
        "ip",
        `case "$*" in *-j*route*) echo '${DEFAULT_ROUTE}';; *route*) echo "default via 10.0.0.1 dev eth0";; *link*) echo '${LINKS}';; *addr*) echo '${LO_VIP}';; esac`,
      );
      for (const [k, v] of [
        ["all/arp_ignore", "1"],
        ["all/arp_announce", "2"],
        ["eth0/arp_ignore", "0"],
        ["eth0/arp_announce", "2"],
      ]) {
        fs.mkdirSync(box.path(`proc/sys/net/ipv4/conf/${k.split("/")[0]}`), { recursive: true });
        fs.writeFileSync(box.path(`proc/sys/net/ipv4/conf/${k}`), `${v}\n`);
      }
      const f = await doctor(options({ role: "real-server", vips: ["10.0.0.100", "10.0.0.101"] }), box.transport());
      assert.deepEqual(verdicts(f), {
        ssh: "ok",
        privileges: "FAIL commands run as uid 1000",
        iproute2: "ok",
        "net.ipv4.conf.all.arp_ignore": "ok",
        "net.ipv4.conf.all.arp_announce": "ok",
        "net.ipv4.conf.eth0.arp_ignore": "FAIL is 0, LVS-DR needs 1",
        "net.ipv4.conf.eth0.arp_announce": "ok",
        "VIP 10.0.0.100": "ok",
        "VIP 10.0.0.101": "FAIL not on lo",
      });
    });
  });
});
