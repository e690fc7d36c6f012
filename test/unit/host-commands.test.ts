import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { parseAddresses, parseDefaultInterface, parseLinks } from "../../provider/host/iproute";
import { modprobeCommand, modprobeOrExit, modulesLoadConf } from "../../provider/host/modules";
import { DAEMON_RELOAD, parseFiles, readFilesScript, writeFilesScript } from "../../provider/host/persist";
import { linkUp, parseProbe, probeScript } from "../../provider/host/probe";
import { natRoute, natRule } from "../../provider/host/return-path";
import { readSysctlsScript, writeSysctlsScript } from "../../provider/host/sysctl";
import { guePort } from "../../provider/host/tunnels";
import { IpvsError } from "../../provider/ipvs/client";
import { IpvsadmClient } from "../../provider/ipvs/ipvsadm/client";
import { parseTimeoutsListing, setTimeoutsArgs } from "../../provider/ipvs/ipvsadm/command";
import { directorPlan } from "../../provider/resources/director";
import {
  APPLY_MARK,
  applyPlan,
  expectedState,
  observedState,
  setTimeoutsCommand,
} from "../../provider/resources/host-plan";
import { realServerHostPlan } from "../../provider/resources/real-server-host";
import { CannedTransport } from "./fakes/canned-transport";
import { FakeIpvs } from "./fakes/ipvs";
import { inSandbox } from "./fakes/sandbox";
import { conn } from "./fixtures";

const director = (timeouts?: { tcp?: number; tcpFin?: number; udp?: number }) =>
  directorPlan({
    connection: conn() as any,
    ipForward: true,
    vips: [],
    modules: ["ip_vs", "ip_vs_wrr"],
    persist: true,
    ...(timeouts ? { timeouts } : {}),
  } as any);

describe("IPVS timeouts", () => {
  it("are set by the same ipvsadm words in the apply and at boot", () => {
    assert.deepEqual(setTimeoutsArgs({ tcp: 600, tcpFin: 30, udp: 0 }), ["--set", "600", "30", "0"]);
    assert.equal(setTimeoutsCommand({ tcp: 600, tcpFin: 30, udp: 0 }), "ipvsadm --set 600 30 0");
    const boot = director({ tcp: 600, tcpFin: 30 }).files.find((f) => f.path.endsWith("pulumi-lvs-director.sh"))!;
    assert.ok(boot.content.split("\n").includes("ipvsadm --set 600 30 0"));
  });

  it("are read from ipvsadm's listing, and a listing without them reads as none", () => {
    const listing = "IP Virtual Server version 1.2.1 (size=4096)\nTimeout (tcp tcpfin udp): 900 120 300\n";
    assert.deepEqual(parseTimeoutsListing(listing), { tcp: 900, tcpFin: 120, udp: 300 });
    assert.equal(parseTimeoutsListing("IP Virtual Server version 1.2.1 (size=4096)\n"), undefined);
  });

  it("keep the state's spelling tcpfin, expected and observed alike", () => {
    const plan = director({ tcp: 600, tcpFin: 30 });
    assert.deepEqual(expectedState(plan, true).timeouts, { tcp: 600, tcpfin: 30, udp: 0 });
    const facts = parseProbe(
      `${"#pulumi-lvs:probe timeouts"}\nTimeout (tcp tcpfin udp): 600 30 300\n#pulumi-lvs:probe files\n`,
    );
    assert.deepEqual(observedState(plan, true, facts).timeouts, { tcp: 600, tcpfin: 30, udp: 0 });
  });

  it("are set over SSH by one ipvsadm --set, under the host's lock", async () => {
    const t = new CannedTransport({ stdout: "", stderr: "", code: 0 });
    let locked = 0;
    t.exclusive = async (fn) => {
      locked++;
      return fn();
    };
    await new IpvsadmClient(t).setTimeouts({ tcp: 600, tcpFin: 0, udp: 60 });
    assert.deepEqual(t.commands, ["ipvsadm --set 600 0 60"]);
    assert.equal(locked, 1);
  });

  it("an ipvsadm that refuses them is an IpvsError naming the host and the command", async () => {
    const t = new CannedTransport({ stdout: "", stderr: "Invalid argument", code: 2 });
    const err = await new IpvsadmClient(t).setTimeouts({ tcp: 600, tcpFin: 0, udp: 0 }).catch((e: Error) => e);
    assert.ok(err instanceof IpvsError);
    assert.match(err.message, /^on root@director:22: ipvsadm --set 600 0 0 failed: Invalid argument/);
  });

  it("are read over SSH without loading ip_vs", async () => {
    const t = new CannedTransport({ stdout: "Timeout (tcp tcpfin udp): 900 120 300\n", stderr: "", code: 0 });
    assert.deepEqual(await new IpvsadmClient(t).timeouts(), { tcp: 900, tcpFin: 120, udp: 300 });
    assert.match(t.commands[0]!, /^\[ ! -e \/proc\/net\/ip_vs \] \|\| ipvsadm -L -n --timeout$/);
  });

  it("a 0 leaves that timeout as it is (the in-memory host as the kernel)", async () => {
    const fake = new FakeIpvs();
    await fake.setTimeouts({ tcp: 600, tcpFin: 0, udp: 60 });
    assert.deepEqual(await fake.timeouts(), { tcp: 600, tcpFin: 120, udp: 60 });
  });

  it("the probe reads them with the listing's words only when asked", () => {
    assert.match(probeScript({ sysctls: [], files: [], timeouts: true }), /ipvsadm -L -n --timeout/);
    assert.doesNotMatch(probeScript({ sysctls: [], files: [] }), /ipvsadm/);
  });
});

describe("kernel modules and systemd, one builder each", () => {
  it("modprobe quotes every module name", () => {
    assert.equal(modprobeCommand(["ip_vs", "ip_vs_wrr"]), "modprobe -a ip_vs ip_vs_wrr");
    assert.equal(modprobeCommand(["odd name"]), "modprobe -a 'odd name'");
    assert.equal(modprobeCommand([]), ":");
  });

  it("a module that cannot be loaded stops the script, naming the modules", () => {
    assert.equal(
      modprobeOrExit(["ip_vs"]),
      "modprobe -a ip_vs || { echo 'cannot load kernel modules: ip_vs' >&2; exit 1; }",
    );
  });

  it("the director and the real-server host write the same modules-load.d text and boot modprobe", () => {
    assert.equal(modulesLoadConf(["ip_vs", "ip_vs_wrr"]), "# managed by pulumi-lvs\nip_vs\nip_vs_wrr\n");
    const d = director();
    assert.equal(d.files.find((f) => f.path.includes("modules-load.d"))!.content, modulesLoadConf(d.modules));
    const rsh = realServerHostPlan(
      { connection: conn() as any, mode: "tun", vips: ["10.0.0.100"], persist: true } as any,
      "eth0",
    );
    assert.equal(rsh.files.find((f) => f.path.includes("modules-load.d"))!.content, "# managed by pulumi-lvs\nipip\n");
    const boot = rsh.files.find((f) => f.path.endsWith("pulumi-lvs-realserver.sh"))!.content;
    assert.ok(boot.split("\n").includes("modprobe -a ipip"));
  });

  it("systemd reloads its units when a unit is written, and not for a plain file", () => {
    assert.ok(
      writeFilesScript([{ path: "/etc/systemd/system/x.service", content: "", enableLink: "/etc/x" }]).endsWith(
        DAEMON_RELOAD,
      ),
    );
    assert.ok(!writeFilesScript([{ path: "/etc/x.conf", content: "" }]).includes("daemon-reload"));
  });
});

describe("kernel objects: every value a quoted word", () => {
  it("the NAT return path's rule and route, as ip(8) takes them and as its listings print them", () => {
    const rule = natRule("10.0.0.11", 80);
    assert.equal(rule.name, "7100: from 10.0.0.11 sport 80 lookup 7100");
    assert.equal(
      rule.add,
      "while ip rule del priority 7100 from 10.0.0.11 sport 80 lookup 7100 2>/dev/null; do :; done; ip rule add priority 7100 from 10.0.0.11 sport 80 lookup 7100",
    );
    assert.equal(
      rule.remove,
      "while ip rule del priority 7100 from 10.0.0.11 sport 80 lookup 7100 2>/dev/null; do :; done",
    );
    const route = natRoute("10.0.0.1", "eth0");
    assert.equal(route.name, "default via 10.0.0.1 dev eth0");
    assert.equal(route.add, "ip route replace default via 10.0.0.1 dev eth0 table 7100");
    assert.equal(route.remove, "ip route del default table 7100 2>/dev/null || true");
  });

  it("a device name the shell would split or run stays one word", () => {
    assert.equal(
      natRoute("10.0.0.1", "eth0;reboot").add,
      "ip route replace default via 10.0.0.1 dev 'eth0;reboot' table 7100",
    );
    assert.equal(linkUp("my dev").add, "ip link set 'my dev' up");
    assert.equal(linkUp("tunl0").remove, "ip link set tunl0 down 2>/dev/null || true");
  });

  it("a GUE receive port is added only when ip fou does not list it", () => {
    const p = guePort(6080);
    assert.equal(p.name, "port 6080 gue");
    assert.equal(p.add, "ip fou show 2>/dev/null | grep -qx 'port 6080 gue' || ip fou add port 6080 gue");
    assert.equal(p.remove, "ip fou del port 6080 2>/dev/null || true");
  });
});

describe("sections read back from a host", () => {
  it("files come back by path, whatever characters the path holds (run by a real shell)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-lvs-files-"));
    try {
      const odd = path.join(dir, "it's a file.conf");
      const plain = path.join(dir, "plain.conf");
      fs.writeFileSync(odd, "# a comment\na = 1\n");
      fs.writeFileSync(plain, "b = 2\n");
      const out = execFileSync("sh", ["-c", readFilesScript([odd, plain, path.join(dir, "missing")])], {
        encoding: "utf8",
      });
      const files = parseFiles(out);
      assert.deepEqual([...files.keys()], [odd, plain]);
      assert.equal(files.get(odd), "# a comment\na = 1");
      assert.equal(files.get(plain)?.trim(), "b = 2");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the apply's announcements are the lines of its announce section only", async () => {
    const t = new CannedTransport({
      stdout: `written\n${APPLY_MARK} announce\nannounced\n\nnot announced: x\n`,
      stderr: "",
      code: 0,
    });
    const plan = director();
    const announced = await applyPlan(t, plan, false, { sysctls: {}, addresses: [], planned: [] });
    assert.deepEqual(announced, ["announced", "not announced: x"]);
  });
});

/**
 * A TUN real server as iproute2 6.1 prints it with `ip -j addr show` / `ip -j link show`: a VIP on
 * lo, tunl0 up with a VIP, gre0 down, ip6tnl0 with an IPv6 VIP (nodad, deprecated), eth0 a veth
 * (its peer in another namespace), eth1 down.
 */
const fixture = (name: string) =>
  fs.readFileSync(path.join(__dirname, "../../../test/unit/fixtures/host", name), "utf8");

describe("host state from iproute2's JSON", () => {
  it("every IPv4 and IPv6 address, by interface, tunnels and veths alike", () => {
    const got = parseAddresses(fixture("ip-addr.json")).map((a) => `${a.device} ${a.address}/${a.prefix}`);
    assert.deepEqual(got, [
      "lo 127.0.0.1/8",
      "lo 10.0.0.100/32",
      "lo ::1/128",
      "tunl0 10.0.0.101/32",
      "ip6tnl0 fd00:10::100/128",
      "ip6tnl0 fe80::4cd1:8aff:fe3b:2c1a/64",
      "eth0 10.0.0.14/24",
      "eth0 fd00:10::14/64",
      "eth0 fe80::cc55:1eff:fe8a:4007/64",
    ]);
  });

  it("whether each interface is up, a tunnel's fallback device and a down link included", () => {
    const links = parseLinks(fixture("ip-link.json"));
    assert.deepEqual(Object.fromEntries(links), {
      lo: true,
      tunl0: true,
      gre0: false,
      ip6tnl0: true,
      eth0: true,
      eth1: false,
    });
  });

  it("the default route's interface, and none when there is no default route", () => {
    assert.equal(parseDefaultInterface('[{"dst":"default","gateway":"10.0.0.1","dev":"eth0","flags":[]}]'), "eth0");
    assert.equal(parseDefaultInterface("[]"), undefined);
  });

  it("nothing printed, or what is not iproute2's JSON, is nothing there", () => {
    assert.deepEqual(parseAddresses(""), []);
    assert.deepEqual(parseAddresses('Option "-j" is unknown, try "ip -help".'), []);
    assert.equal(parseLinks("").size, 0);
  });

  it("the probe reads addresses, links and the default route as JSON", () => {
    const script = probeScript({ sysctls: [], files: [] });
    for (const c of ["ip -j addr show", "ip -j link show", "ip -j -4 route show default"])
      assert.ok(script.includes(c), c);
  });
});

describe("sysctls through /proc/sys (run by a real shell)", () => {
  it("are read as name=value, or name! when the kernel has none; a refused write names the parameter and stops", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-lvs-sysctl-"));
    try {
      const there = { name: "net.ipv4.ip_forward", path: path.join(dir, "ip forward") };
      const missing = { name: "net.ipv4.conf.nosuch0.rp_filter", path: path.join(dir, "nosuch0", "rp_filter") };
      fs.writeFileSync(there.path, "0\n");
      execFileSync("sh", ["-c", writeSysctlsScript([[there, "1"]])]);
      assert.equal(fs.readFileSync(there.path, "utf8"), "1");
      const read = execFileSync("sh", ["-c", readSysctlsScript([there, missing])], { encoding: "utf8" });
      assert.equal(read, "net.ipv4.ip_forward=1\nnet.ipv4.conf.nosuch0.rp_filter!\n");
      let failed: { status: number; stdout: string; stderr: string } | undefined;
      try {
        execFileSync("sh", ["-c", `${writeSysctlsScript([[missing, "0"]])}\necho after`], {
          encoding: "utf8",
          stdio: "pipe",
        });
      } catch (e) {
        failed = e as { status: number; stdout: string; stderr: string };
      }
      assert.equal(failed?.status, 1);
      assert.match(failed?.stderr ?? "", /cannot set net\.ipv4\.conf\.nosuch0\.rp_filter=0/);
      assert.doesNotMatch(failed?.stdout ?? "", /after/);
      assert.equal(readSysctlsScript([]), "");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("files written on a host (run by a real shell in a sandbox)", () => {
  it("each is written whole with its mode, a unit enabled by its link, no temporary copy left", async () => {
    await inSandbox(async (box) => {
      const script = "/etc/pulumi-lvs/boot it's.sh";
      const r = await box.run(
        writeFilesScript([
          { path: script, content: "#!/bin/sh\necho 'hi'\n", mode: "0755" },
          {
            path: "/etc/systemd/system/x.service",
            content: "[Unit]\n",
            enableLink: "/etc/systemd/system/multi-user.target.wants/x.service",
          },
        ]),
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(fs.readFileSync(box.path(script.slice(1)), "utf8"), "#!/bin/sh\necho 'hi'\n");
      assert.equal(fs.statSync(box.path(script.slice(1))).mode & 0o777, 0o755);
      const link = box.path("etc/systemd/system/multi-user.target.wants/x.service");
      assert.equal(fs.readlinkSync(link), box.path("etc/systemd/system/x.service"));
      assert.deepEqual(fs.readdirSync(box.path("etc/pulumi-lvs")), ["boot it's.sh"]);
    });
  });

  it("a file that cannot be written stops the script", async () => {
    await inSandbox(async (box) => {
      fs.mkdirSync(box.path("etc/pulumi-lvs"), { recursive: true });
      fs.writeFileSync(box.path("etc/pulumi-lvs/dir"), "a file where a directory should be");
      const r = await box.run(`${writeFilesScript([{ path: "/etc/pulumi-lvs/dir/x", content: "x" }])}\necho after`);
      assert.equal(r.code, 1);
      assert.doesNotMatch(r.stdout, /after/);
    });
  });
});
