import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { announceCommand, announceFunction } from "../../provider/host/addresses";
import { type PersistedFile, removeFilesScript, writeFilesScript } from "../../provider/host/persist";
import { parseProbe } from "../../provider/host/probe";
import { LEDGER, restoreRulesScript } from "../../provider/ipvs/ledger";
import { directorPlan } from "../../provider/resources/director";
import {
  APPLY_MARK,
  applyPlan,
  createHost,
  deleteHost,
  expectedState,
  observedState,
  updateHost,
} from "../../provider/resources/host-plan";
import { realServerHostPlan } from "../../provider/resources/real-server-host";
import type { ExecResult, RunOptions, Transport } from "../../provider/transport/transport";
import { inSandbox, type Sandbox } from "./fakes/sandbox";
import { conn } from "./fixtures";

/** A host's journal before anything was recorded. */
const NO_JOURNAL = { sysctls: {}, addresses: [], planned: [] };

// Captured from the lab's root namespace with probeScript (see test/unit/fixtures/host/); its
// addresses and links written as `ip -j` prints them.
const probe = fs.readFileSync(path.join(__dirname, "../../../test/unit/fixtures/host/probe-lab-root.txt"), "utf8");

class RecordingTransport implements Transport {
  readonly label = "root@rs1:22";
  readonly stats = { connections: 0, commands: 0 };
  readonly scripts: string[] = [];
  async run(command: string, opts: RunOptions = {}): Promise<ExecResult> {
    // a script passed on standard input is what runs
    this.scripts.push(command === "sh -s" && opts.stdin !== undefined ? opts.stdin : command);
    return { stdout: `${APPLY_MARK} announce\nannounced\n`, stderr: "", code: 0 };
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
    assert.deepEqual(facts.timeouts, { tcp: 900, tcpFin: 120, udp: 300 });
  });
});

describe("host plans", () => {
  it("DR: the ARP settings are written before any VIP is added", async () => {
    const plan = realServerHostPlan(
      { connection: conn() as any, mode: "dr", vips: ["10.0.0.100", "fd00:10::100"], persist: true },
      "eth0",
    );
    const t = new RecordingTransport();
    await applyPlan(t, plan, true, NO_JOURNAL);
    const script = t.scripts[0]!;
    const apply = script.slice(0, script.indexOf(APPLY_MARK)); // what runs now (the rest writes the boot files)
    const lastArp = Math.max(apply.lastIndexOf("arp_ignore"), apply.lastIndexOf("arp_announce"));
    const firstVip = apply.indexOf("addr replace");
    assert.ok(lastArp > 0 && firstVip > lastArp, "sysctls first, then addresses");
    assert.match(script, /ip addr replace 10\.0\.0\.100\/32 dev lo/);
    assert.match(script, /ip -6 addr replace fd00:10::100\/128 dev lo nodad/);
    assert.match(script, /\/proc\/sys\/net\/ipv4\/conf\/eth0\/arp_ignore/);
    assert.match(script, /\/etc\/systemd\/system\/multi-user\.target\.wants\/pulumi-lvs-realserver\.service/);
  });

  it("TUN: loads ipip, brings tunl0 up, relaxes rp_filter, puts the VIP on tunl0", async () => {
    const plan = realServerHostPlan(
      { connection: conn() as any, mode: "tun", vips: ["10.0.0.100"], persist: false },
      "eth0",
    );
    assert.deepEqual(plan.modules, ["ipip"]);
    assert.deepEqual(expectedState(plan, false).links, ["tunl0"]);
    const t = new RecordingTransport();
    await applyPlan(t, plan, false, NO_JOURNAL);
    const script = t.scripts[0]!;
    assert.ok(script.indexOf("modprobe -a ipip") < script.indexOf("tunl0/rp_filter"));
    assert.ok(script.indexOf("ip link set tunl0 up") < script.indexOf("addr replace 10.0.0.100/32 dev tunl0"));
    assert.match(script, /rm -f .*pulumi-lvs-realserver\.conf/, "persist false removes the files");
  });

  it("TUN over gre, gue and IPv6: each tunnel's modules and device, a GUE port, IPv6 VIPs on ip6tnl0", async () => {
    const plan = realServerHostPlan(
      {
        connection: conn() as any,
        mode: "tun",
        vips: ["10.0.0.101", "fd00:10::100"],
        tunnels: [{ type: "gre" }, { type: "gue", port: 6080 }, { type: "ipip" }],
        persist: true,
      },
      "eth0",
    );
    assert.deepEqual(plan.modules, ["ip_gre", "fou", "ipip", "ip6_tunnel"]);
    const state = expectedState(plan, true);
    assert.deepEqual(state.links, ["gre0", "ip6tnl0", "tunl0"]);
    assert.deepEqual(state.addresses, ["10.0.0.101/32 dev gre0", "fd00:10::100/128 dev ip6tnl0", "fou: port 6080 gue"]);
    assert.deepEqual(
      plan.sysctls.filter(([s]) => s.name.endsWith("rp_filter")).map(([s, v]) => `${s.name}=${v}`),
      ["net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.gre0.rp_filter=0", "net.ipv4.conf.tunl0.rp_filter=0"],
    );
    const t = new RecordingTransport();
    await applyPlan(t, plan, true, NO_JOURNAL);
    const script = t.scripts[0]!;
    const at = (x: string) => script.indexOf(x);
    assert.ok(
      at("ip fou add port 6080 gue") > at("modprobe -a ip_gre fou ipip ip6_tunnel"),
      "the port after fou is loaded",
    );
    assert.ok(at("ip link set gre0 up") < at("addr replace 10.0.0.101/32 dev gre0"), "the device up before its VIP");
    assert.match(script, /ip -6 addr replace fd00:10::100\/128 dev ip6tnl0 nodad/);
    const boot = fileOf(plan.files, "pulumi-lvs-realserver.sh");
    assert.match(boot, /ip fou add port 6080 gue/, "the boot script adds the GUE port too");
    assert.match(fileOf(plan.files, "modules-load.d/pulumi-lvs-realserver.conf"), /^ip_gre$/m);
  });

  it("NAT: the return path is a route in its own table and a rule per address and port, after the network", async () => {
    const plan = realServerHostPlan(
      {
        connection: conn() as any,
        mode: "nat",
        vips: [],
        gateway: "10.0.0.2",
        ports: [80, 443],
        addresses: ["10.0.0.11"],
        persist: true,
      },
      "eth0",
    );
    assert.deepEqual(plan.sysctls, [], "no ARP or rp_filter settings");
    assert.deepEqual(expectedState(plan, true).addresses, [
      "route: default via 10.0.0.2 dev eth0",
      "rule: 7100: from 10.0.0.11 sport 443 lookup 7100",
      "rule: 7100: from 10.0.0.11 sport 80 lookup 7100",
    ]);
    const t = new RecordingTransport();
    await applyPlan(t, plan, true, NO_JOURNAL);
    const script = t.scripts[0]!;
    assert.match(script, /ip route replace default via 10\.0\.0\.2 dev eth0 table 7100/);
    assert.match(script, /ip rule add priority 7100 from 10\.0\.0\.11 sport 443 lookup 7100/);
    assert.doesNotMatch(
      script,
      /ip route \w+ default (?!.*table 7100)/,
      "the main table's default route is left alone",
    );
    const u = unitSection(fileOf(plan.files, "pulumi-lvs-realserver.service"));
    assert.ok(u.get("After")?.includes("network-online.target"), "the route needs the network");
    assert.match(fileOf(plan.files, "pulumi-lvs-realserver.sh"), /have_dev eth0/);
  });

  it("Director: an IPv6 VIP is never a source address (the outer header of a tunnel must not come from it)", async () => {
    const plan = directorPlan({
      connection: conn() as any,
      vips: [
        { address: "fd00:10::100", interface: "eth0" },
        { address: "10.0.0.100", interface: "eth0" },
      ],
      modules: ["ip_vs"],
      persist: false,
    });
    const t = new RecordingTransport();
    await applyPlan(t, plan, false, NO_JOURNAL);
    assert.match(t.scripts[0]!, /ip -6 addr replace fd00:10::100\/128 dev eth0 nodad preferred_lft 0/);
    assert.match(t.scripts[0]!, /ip addr replace 10\.0\.0\.100\/32 dev eth0\n/);
  });

  it("TUN: delete takes down only the devices and GUE ports that were not there before", async () => {
    const plan = realServerHostPlan(
      {
        connection: conn() as any,
        mode: "tun",
        vips: ["10.0.0.101"],
        tunnels: [{ type: "gre" }, { type: "gue", port: 6080 }],
        persist: false,
      },
      "eth0",
    );
    const t = new RecordingTransport();
    await deleteHost(t, plan, { sysctls: {}, addresses: ["fou: port 6080 gue"] });
    assert.match(t.scripts[0]!, /ip link set gre0 down/);
    assert.doesNotMatch(t.scripts[0]!, /ip fou del port 6080/, "the host had that port before");
    assert.match(t.scripts[0]!, /ip addr del 10\.0\.0\.101\/32 dev gre0/);
  });

  it("drift shows as a difference between observed and expected state", () => {
    const plan = realServerHostPlan(
      { connection: conn() as any, mode: "dr", vips: ["10.0.0.100"], persist: false },
      "eth0",
    );
    const good = parseProbe(
      [
        "#pulumi-lvs:probe sysctls",
        ...plan.sysctls.map(([s, v]) => `${s.name}=${v}`),
        "#pulumi-lvs:probe addresses",
        '[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"addr_info":[{"family":"inet","local":"10.0.0.100","prefixlen":32,"scope":"global","label":"lo"}]}]',
        "#pulumi-lvs:probe files",
      ].join("\n"),
    );
    assert.deepEqual(observedState(plan, false, good), expectedState(plan, false));
    good.sysctls.set("net.ipv4.conf.all.arp_ignore", "0");
    assert.notDeepEqual(observedState(plan, false, good), expectedState(plan, false));
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
    // (what the restore gives ipvsadm -R: ledger.test.ts)
    assert.ok(boot.includes(restoreRulesScript(LEDGER)), "the ledger module's restore");
    assert.match(boot, /ipvsadm --set 600 0 0/);
    assert.ok(boot.indexOf("modprobe -a ip_vs ip_vs_wrr") < boot.indexOf("ip_forward"), "modules before sysctls");
    assert.deepEqual(plan.timeouts, { tcp: 600, tcpFin: 0, udp: 0 });
    assert.deepEqual(
      plan.sysctls.map(([s, v]) => `${s.name}=${v}`),
      ["net.ipv4.ip_forward=1"],
    );
  });
});

/** The [Unit] settings of a unit file, by key (each value's words). */
function unitSection(content: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let section = "";
  for (const line of content.split("\n")) {
    if (/^\[.*\]$/.test(line)) section = line;
    else if (section === "[Unit]" && line.includes("=")) {
      const [k, v] = [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)];
      out.set(k, [...(out.get(k) ?? []), ...v.split(/\s+/).filter(Boolean)]);
    }
  }
  return out;
}

function fileOf(files: PersistedFile[], name: string): string {
  const f = files.find((x) => x.path.endsWith(`/${name}`));
  assert.ok(f, `no file ${name} in ${files.map((x) => x.path).join(", ")}`);
  return f.content;
}

/**
 * Writes the files into the sandbox with the provider's own writer, then runs the enabled units as
 * the lab's boot does (test/lab/guest/lab-host-boot): sorted, each ExecStart= line with /bin/sh -c,
 * a failing line ending its unit. @returns each unit's exit status
 */
async function bootUnits(box: Sandbox, files: PersistedFile[]): Promise<Map<string, number>> {
  const w = await box.run(writeFilesScript(files));
  assert.equal(w.code, 0, w.stderr);
  const wants = box.path("etc/systemd/system/multi-user.target.wants");
  const status = new Map<string, number>();
  for (const u of fs.readdirSync(wants).sort()) {
    const text = fs.readFileSync(path.join(wants, u), "utf8");
    let code = 0;
    for (const line of text.split("\n").filter((l) => l.startsWith("ExecStart="))) {
      const r = await box.run(line.slice("ExecStart=".length));
      code = r.code;
      if (code !== 0) {
        fs.appendFileSync(box.path("boot.log"), `${u}: ${r.stderr}`);
        break;
      }
    }
    status.set(u, code);
  }
  return status;
}

describe("boot units (systemd ordering, and the scripts run in a sandbox as the lab boots them)", () => {
  const director = (extra: Record<string, unknown> = {}) =>
    directorPlan({
      connection: conn() as any,
      vips: [{ address: "10.0.0.100", interface: "eth0" }],
      modules: ["ip_vs", "ip_vs_wrr"],
      persist: true,
      timeouts: { tcp: 600 },
      ...extra,
    });

  it("Director: the kernel settings and IPVS rules run before any network is configured; the VIPs after it", () => {
    const plan = director({ ipForward: true });
    const kernel = unitSection(fileOf(plan.files, "pulumi-lvs-director.service"));
    assert.deepEqual(kernel.get("DefaultDependencies"), ["no"]);
    for (const u of ["local-fs.target", "systemd-modules-load.service", "systemd-sysctl.service"])
      assert.ok(kernel.get("After")?.includes(u), `kernel unit after ${u}`);
    assert.deepEqual(kernel.get("Before"), ["network-pre.target"]);
    assert.deepEqual(kernel.get("Wants"), ["network-pre.target"]);
    assert.deepEqual(kernel.get("RequiresMountsFor"), ["/var/lib/pulumi-lvs"], "the ledger's file system");
    assert.ok(!kernel.get("After")?.some((u) => u.startsWith("network")), "the rules wait for no network");
    const script = fileOf(plan.files, "pulumi-lvs-director.sh");
    assert.doesNotMatch(script, /ip addr|arping/, "no VIP step in the rules' unit");
    const lines = script.split("\n");
    const restore = lines.findIndex((l) => l.includes("ipvsadm -R"));
    assert.ok(restore > lines.findIndex((l) => l.startsWith("modprobe")), "modules first");
    assert.ok(restore < lines.findIndex((l) => l.includes("ip_forward")), "the rules before the sysctls");
    assert.ok(restore < lines.findIndex((l) => l.includes("ipvsadm --set")), "the rules before the timeouts");

    const late = unitSection(fileOf(plan.files, "pulumi-lvs-director-network.service"));
    assert.deepEqual(late.get("After"), ["network-online.target", "ipvsadm.service"]);
    assert.deepEqual(late.get("Wants"), ["network-online.target"]);
    assert.equal(late.get("DefaultDependencies"), undefined);
    const vipScript = fileOf(plan.files, "pulumi-lvs-director-network.sh");
    const wait = vipScript.indexOf("have_dev eth0 ");
    assert.ok(wait > 0 && wait < vipScript.indexOf("addr replace"), "waits for the interface, then adds the VIP");
    assert.ok(vipScript.indexOf("addr replace") < vipScript.indexOf("then announce eth0 "), "announced once added");
  });

  it("Director: a failed gratuitous ARP, or an interface that comes late, keeps neither the rules nor the VIP from coming back", async () => {
    await inSandbox(async (box) => {
      box.command("modprobe", "");
      box.command("ipvsadm", `if [ "$1" = -R ]; then cat > ${box.path("restored")}; fi`);
      box.command("ip", "");
      box.command("arping", "exit 2"); // what iputils' arping does on an interface that is down
      fs.mkdirSync(box.path("var/lib/pulumi-lvs"), { recursive: true });
      fs.writeFileSync(
        box.path("var/lib/pulumi-lvs/ipvs.rules"),
        "-a -t 10.0.0.100:80 -r 10.0.0.11:80 -g -w 1 #owner=p/s/rs1\n-A -t 10.0.0.100:80 -s wrr #owner=p/s/web\n",
      );
      // eth0 appears 1.5 s into the boot (a slow driver, or a bridge its network manager makes)
      setTimeout(() => fs.mkdirSync(box.path("sys/class/net/eth0")), 1500);
      const t0 = Date.now();
      const status = await bootUnits(box, director().files);
      assert.deepEqual(Object.fromEntries(status), {
        "pulumi-lvs-director-network.service": 0,
        "pulumi-lvs-director.service": 0,
      });
      assert.equal(
        fs.readFileSync(box.path("restored"), "utf8"),
        "-A -t 10.0.0.100:80 -s wrr\n-a -t 10.0.0.100:80 -r 10.0.0.11:80 -g -w 1\n",
        "the owned rules restored, services first, without owner tags",
      );
      assert.ok(Date.now() - t0 >= 1500, "the VIP waited for its interface");
      const calls = box.calls();
      const add = calls.indexOf("ip addr replace 10.0.0.100/32 dev eth0");
      assert.ok(add >= 0, `the VIP added: ${calls.join("; ")}`);
      assert.ok(calls.findIndex((c) => c.startsWith("arping")) > add, "announced after it was added");
      assert.ok(calls.includes("ipvsadm --set 600 0 0"));
      assert.equal(calls.filter((c) => c === "ipvsadm -R").length, 1, "restored once: no ipvsadm autoload here");
    });
  });

  it("removing a file takes the temporary copy a write cut short left with it, and nothing else", async () => {
    await inSandbox(async (box) => {
      fs.mkdirSync(box.path("etc/sysctl.d"), { recursive: true });
      for (const f of ["60-pulumi-lvs-realserver.conf", "60-pulumi-lvs-realserver.conf.tmp.521", "99-sysctl.conf"])
        fs.writeFileSync(box.path(`etc/sysctl.d/${f}`), "x\n");
      const r = await box.run(removeFilesScript(["/etc/sysctl.d/60-pulumi-lvs-realserver.conf"]));
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(fs.readdirSync(box.path("etc/sysctl.d")), ["99-sysctl.conf"]);
    });
  });

  it("a failed gratuitous ARP never fails the script it is in (applied with set -e)", async () => {
    await inSandbox(async (box) => {
      box.command("arping", "exit 2");
      const a = { address: "10.0.0.100", prefix: 32, device: "eth0" };
      const r = await box.run(`set -e\n${announceFunction()}\n${announceCommand(a)}\necho next`);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.stdout.trim().split("\n"), [
        "not announced: arping failed on eth0 (is the interface up?)",
        "next",
      ]);
      box.command("arping", "exit 0");
      assert.equal((await box.run(`${announceFunction()}\n${announceCommand(a)}`)).stdout.trim(), "announced");
    });
  });

  it("Director: after Debian's ipvsadm autoload (AUTO=true, which flushes the table), the owned rules are restored again", async () => {
    await inSandbox(async (box) => {
      box.command("modprobe", "");
      box.command("ipvsadm", `if [ "$1" = -R ]; then cat >> ${box.path("restored")}; fi`);
      fs.mkdirSync(box.path("var/lib/pulumi-lvs"), { recursive: true });
      fs.writeFileSync(box.path("var/lib/pulumi-lvs/ipvs.rules"), "-A -t 10.0.0.100:80 -s wrr #owner=p/s/web\n");
      fs.mkdirSync(box.path("etc/default"), { recursive: true });
      fs.writeFileSync(box.path("etc/default/ipvsadm"), 'AUTO="true"\nDAEMON="none"\n');
      const status = await bootUnits(box, director({ vips: [] }).files);
      assert.deepEqual([...status.values()], [0, 0]);
      assert.equal(fs.readFileSync(box.path("restored"), "utf8"), "-A -t 10.0.0.100:80 -s wrr\n".repeat(2));
    });
  });

  it("Director: a sysctl.d file no longer planned goes (it would set the old values at boot)", async () => {
    const t = new RecordingTransport();
    await applyPlan(t, director(), true, NO_JOURNAL);
    assert.match(t.scripts[0]!, /rm -f [^\n]*\/etc\/sysctl\.d\/60-pulumi-lvs-director\.conf/);
    assert.doesNotMatch(t.scripts[0]!, /rm -f [^\n]*pulumi-lvs-director-network/);
  });

  it("RealServerHost DR: its unit runs after systemd-sysctl and before any network, and its script sets the ARP settings before the VIPs, stopping at the first failure", async () => {
    const plan = realServerHostPlan(
      { connection: conn() as any, mode: "dr", vips: ["10.0.0.100"], persist: true },
      "eth0",
    );
    const u = unitSection(fileOf(plan.files, "pulumi-lvs-realserver.service"));
    assert.ok(u.get("After")?.includes("systemd-sysctl.service"), "after sysctl.d is applied");
    assert.deepEqual(u.get("Before"), ["network-pre.target"]);
    assert.match(fileOf(plan.files, "pulumi-lvs-realserver.service"), /^# .*arp_ignore\/arp_announce .* before/m);
    await inSandbox(async (box) => {
      box.command("ip", "");
      for (const dev of ["all", "eth0"]) {
        fs.mkdirSync(box.path(`proc/sys/net/ipv4/conf/${dev}`), { recursive: true });
        for (const k of ["arp_ignore", "arp_announce"])
          fs.writeFileSync(box.path(`proc/sys/net/ipv4/conf/${dev}/${k}`), "0");
      }
      const status = Object.fromEntries(await bootUnits(box, plan.files));
      assert.deepEqual(
        status,
        { "pulumi-lvs-realserver.service": 0 },
        fs.readFileSync(box.path("boot.log"), { encoding: "utf8", flag: "a+" }),
      );
      for (const dev of ["all", "eth0"]) {
        assert.equal(fs.readFileSync(box.path(`proc/sys/net/ipv4/conf/${dev}/arp_ignore`), "utf8").trim(), "1");
        assert.equal(fs.readFileSync(box.path(`proc/sys/net/ipv4/conf/${dev}/arp_announce`), "utf8").trim(), "2");
      }
      assert.deepEqual(box.calls(), ["ip addr replace 10.0.0.100/32 dev lo"]);

      // a kernel that refuses an ARP setting: the VIP is not added
      fs.writeFileSync(box.log, "");
      fs.rmSync(box.path("proc/sys/net/ipv4/conf/all/arp_announce"));
      fs.mkdirSync(box.path("proc/sys/net/ipv4/conf/all/arp_announce"));
      assert.notEqual((await bootUnits(box, plan.files)).get("pulumi-lvs-realserver.service"), 0);
      assert.deepEqual(box.calls(), [], "no VIP without its ARP settings");
    });
  });
});

describe("an apply cut short (a power loss, a lost connection)", () => {
  const rsPlan = (vips: string[]) =>
    realServerHostPlan({ connection: conn() as any, mode: "dr", vips, persist: false }, "eth0");
  const arp = ["all", "eth0"].flatMap((i) => [`net/ipv4/conf/${i}/arp_ignore`, `net/ipv4/conf/${i}/arp_announce`]);

  it("a host whose ip prints no JSON (iproute2 before 4.13) fails to plan, naming iproute2, before anything changes", async () => {
    await inSandbox(async (box) => {
      box.command("modprobe", "");
      box.command("ip", 'echo \'Option "-j" is unknown, try "ip -help".\' >&2; exit 255');
      await assert.rejects(createHost(box.transport(), rsPlan(["10.0.0.120"]), false), /iproute2 4\.13 or later/);
      assert.equal(fs.existsSync(box.path("var/lib/pulumi-lvs/realserver.baseline")), false, "no journal written");
    });
  });

  it("a VIP it added before the cut is the stack's own on the rerun: it goes when it is no longer declared, and on delete", async () => {
    await inSandbox(async (box) => {
      box.command("modprobe", "");
      for (const k of arp) {
        fs.mkdirSync(path.dirname(box.path(`proc/sys/${k}`)), { recursive: true });
        fs.writeFileSync(box.path(`proc/sys/${k}`), "0\n");
      }
      const ip = box.addresses(["1: lo    inet 127.0.0.1/8 scope host lo"]);
      const t = box.transport();
      const one = rsPlan(["10.0.0.120"]);
      const two = rsPlan(["10.0.0.120", "10.0.0.140"]);
      const created = await createHost(t, one, false);
      // an update to two VIPs that reached the host, but whose result the stack never recorded
      await updateHost(t, one, two, created.baseline, false);
      assert.deepEqual(ip.list().sort(), ["10.0.0.120/32", "10.0.0.140/32", "127.0.0.1/8"]);
      // the rerun, from the state that still says one VIP
      const rerun = await updateHost(t, one, two, created.baseline, false);
      assert.deepEqual(rerun.baseline.addresses, [], "10.0.0.140 was pulumi-lvs's, not the host's");
      assert.equal(rerun.baseline.sysctls["net.ipv4.conf.all.arp_ignore"], "0", "the value before pulumi-lvs");
      await updateHost(t, two, one, rerun.baseline, false);
      assert.deepEqual(ip.list().sort(), ["10.0.0.120/32", "127.0.0.1/8"]);
      await deleteHost(t, one, rerun.baseline);
      assert.deepEqual(ip.list(), ["127.0.0.1/8"]);
      assert.equal(fs.readFileSync(box.path("proc/sys/net/ipv4/conf/all/arp_ignore"), "utf8").trim(), "0");
      assert.equal(fs.existsSync(box.path("var/lib/pulumi-lvs/realserver.baseline")), false, "the journal goes too");
    });
  });
});
