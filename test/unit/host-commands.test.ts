import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import { modprobeCommand, modprobeOrExit, modulesLoadConf } from "../../provider/host/modules";
import { DAEMON_RELOAD, writeFilesScript } from "../../provider/host/persist";
import { parseProbe, probeScript } from "../../provider/host/probe";
import { IpvsError } from "../../provider/ipvs/client";
import { IpvsadmClient } from "../../provider/ipvs/ipvsadm/client";
import { parseTimeoutsListing, setTimeoutsArgs } from "../../provider/ipvs/ipvsadm/command";
import { directorPlan } from "../../provider/resources/director";
import { expectedState, observedState, setTimeoutsCommand } from "../../provider/resources/host-plan";
import { realServerHostPlan } from "../../provider/resources/real-server-host";
import type { ExecResult, Transport } from "../../provider/transport/transport";
import { FakeIpvs } from "./fakes/ipvs";
import { conn } from "./fixtures";

/** A transport that answers every command with one canned result, and records the commands. */
class CannedTransport implements Transport {
  readonly label = "root@director:22";
  readonly stats = { connections: 0, commands: 0 };
  readonly commands: string[] = [];
  constructor(private readonly result: ExecResult) {}
  async run(command: string): Promise<ExecResult> {
    this.commands.push(command);
    return this.result;
  }
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return fn();
  }
}

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
