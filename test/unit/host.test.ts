import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { parseProbe } from "../../provider/host/probe";
import { directorPlan } from "../../provider/resources/director";
import { applyPlan, expectedState, observedState } from "../../provider/resources/host-config";
import { realServerHostPlan } from "../../provider/resources/real-server-host";
import type { ExecResult, RunOptions, Transport } from "../../provider/transport/transport";
import { conn } from "./fixtures";

// Captured from the lab's root namespace with probeScript (see test/unit/fixtures/host/).
const probe = fs.readFileSync(path.join(__dirname, "../../../test/unit/fixtures/host/probe-lab-root.txt"), "utf8");

class RecordingTransport implements Transport {
  readonly label = "root@rs1:22";
  readonly stats = { connections: 0, commands: 0 };
  readonly scripts: string[] = [];
  async run(command: string, opts: RunOptions = {}): Promise<ExecResult> {
    // a script passed on standard input is what runs
    this.scripts.push(command === "sh -s" && opts.stdin !== undefined ? opts.stdin : command);
    return { stdout: "#announce\nannounced\n", stderr: "", code: 0 };
  }
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return fn();
  }
}

describe("host probe (captured)", () => {
  const facts = parseProbe(probe);
  it("reads sysctls, and tells a missing parameter from a value", () => {
    assert.equal(facts.sysctls.get("net.ipv4.ip_forward"), "1");
    assert.equal(facts.sysctls.get("net.ipv4.conf.br0.arp_ignore"), "0");
    assert.ok(facts.sysctls.has("net.ipv4.conf.nosuch0.rp_filter"));
    assert.equal(facts.sysctls.get("net.ipv4.conf.nosuch0.rp_filter"), undefined);
  });
  it("reads addresses, links, modules, files and IPVS timeouts", () => {
    assert.ok(facts.addresses.some((a) => a.device === "br0" && a.address === "10.0.0.1" && a.prefix === 24));
    assert.ok(facts.addresses.some((a) => a.device === "br1" && a.address === "fd00:172::1" && a.prefix === 64));
    assert.equal(facts.links.get("br0"), true);
    assert.equal(facts.links.get("tunl0"), false, "tunl0 exists but is down");
    assert.ok(facts.modules.has("bridge"));
    assert.equal(facts.files.get("/etc/hostname"), "lab");
    assert.ok(!facts.files.has("/etc/nonexistent"));
    assert.deepEqual(facts.timeouts, { tcp: 900, tcpfin: 120, udp: 300 });
  });
});

describe("host plans", () => {
  it("DR: the ARP settings are written before any VIP is added", async () => {
    const { plan } = realServerHostPlan(
      { connection: conn() as any, mode: "dr", vips: ["10.0.0.100", "fd00:10::100"], persist: true },
      "eth0",
    );
    const t = new RecordingTransport();
    await applyPlan(t, plan, true);
    const script = t.scripts[0]!;
    const apply = script.slice(0, script.indexOf("#announce")); // what runs now (the rest writes the boot files)
    const lastArp = Math.max(apply.lastIndexOf("arp_ignore"), apply.lastIndexOf("arp_announce"));
    const firstVip = apply.indexOf("addr replace");
    assert.ok(lastArp > 0 && firstVip > lastArp, "sysctls first, then addresses");
    assert.match(script, /ip addr replace 10\.0\.0\.100\/32 dev lo/);
    assert.match(script, /ip -6 addr replace fd00:10::100\/128 dev lo nodad/);
    assert.match(script, /\/proc\/sys\/net\/ipv4\/conf\/eth0\/arp_ignore/);
    assert.match(script, /\/etc\/systemd\/system\/multi-user\.target\.wants\/pulumi-lvs-realserver\.service/);
  });

  it("TUN: loads ipip, brings tunl0 up, relaxes rp_filter, puts the VIP on tunl0", async () => {
    const { plan, links } = realServerHostPlan(
      { connection: conn() as any, mode: "tun", vips: ["10.0.0.100"], persist: false },
      "eth0",
    );
    assert.deepEqual(plan.modules, ["ipip"]);
    assert.deepEqual(links, ["tunl0"]);
    const t = new RecordingTransport();
    await applyPlan(t, plan, false);
    const script = t.scripts[0]!;
    assert.ok(script.indexOf("modprobe -a ipip") < script.indexOf("tunl0/rp_filter"));
    assert.ok(script.indexOf("ip link set tunl0 up") < script.indexOf("addr replace 10.0.0.100/32 dev tunl0"));
    assert.match(script, /rm -f .*pulumi-lvs-realserver\.conf/, "persist false removes the files");
  });

  it("drift shows as a difference between observed and expected state", () => {
    const { plan, links } = realServerHostPlan(
      { connection: conn() as any, mode: "dr", vips: ["10.0.0.100"], persist: false },
      "eth0",
    );
    const good = parseProbe(
      [
        "#pulumi-lvs:probe sysctls",
        ...plan.sysctls.map(([s, v]) => `${s.name}=${v}`),
        "#pulumi-lvs:probe addresses",
        "1: lo    inet 10.0.0.100/32 scope global lo",
        "#pulumi-lvs:probe files",
      ].join("\n"),
    );
    assert.deepEqual(observedState(plan, false, links, good), expectedState(plan, false, links));
    good.sysctls.set("net.ipv4.conf.all.arp_ignore", "0");
    assert.notDeepEqual(observedState(plan, false, links, good), expectedState(plan, false, links));
  });

  it("Director: the boot unit restores the owned IPVS rules, services first", () => {
    const plan = directorPlan({
      connection: conn() as any,
      ipForward: true,
      vips: [{ address: "10.0.0.100", interface: "eth0" }],
      modules: ["ip_vs", "ip_vs_wrr"],
      persist: true,
      timeouts: { tcp: 600 },
    });
    const unit = plan.files.find((f) => f.path.endsWith("pulumi-lvs-director.service"))!;
    assert.match(unit.content, /^ExecStart=\/bin\/sh \/etc\/pulumi-lvs\/pulumi-lvs-director\.sh$/m);
    const boot = plan.files.find((f) => f.path === "/etc/pulumi-lvs/pulumi-lvs-director.sh")!.content;
    assert.match(boot, /grep '\^-A' \/var\/lib\/pulumi-lvs\/ipvs\.rules; grep '\^-a'/);
    assert.match(boot, /ipvsadm --set 600 0 0/);
    assert.ok(boot.indexOf("modprobe -a ip_vs ip_vs_wrr") < boot.indexOf("ip_forward"), "modules before sysctls");
    assert.deepEqual(plan.timeouts, { tcp: 600, tcpfin: 0, udp: 0 });
    assert.deepEqual(
      plan.sysctls.map(([s, v]) => `${s.name}=${v}`),
      ["net.ipv4.ip_forward=1"],
    );
  });
});
