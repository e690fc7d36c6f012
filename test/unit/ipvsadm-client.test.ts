import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { IpvsAlreadyExistsError, IpvsError, IpvsNotFoundError } from "../../provider/ipvs/client";
import { IpvsadmClient } from "../../provider/ipvs/ipvsadm/client";
import type { RealServerConfig, VirtualServiceConfig } from "../../provider/ipvs/types";
import { LocalTransport } from "../../provider/transport/local";
import type { ExecResult, Transport } from "../../provider/transport/transport";

const svc: VirtualServiceConfig = {
  key: { protocol: "tcp", address: "10.0.0.100", port: 80 },
  scheduler: "rr",
  schedulerFlags: [],
  onePacket: false,
};
const rs = (address: string, weight = 1): RealServerConfig => ({
  address,
  port: 80,
  forwarding: "dr",
  weight,
  upperThreshold: 0,
  lowerThreshold: 0,
});

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

describe("IpvsadmClient error semantics (stderr captured from ipvsadm 1.31)", () => {
  const cases: Array<[string, (c: IpvsadmClient) => Promise<void>, new (...a: any[]) => Error, RegExp]> = [
    [
      "Service already exists",
      (c) => c.addService(svc),
      IpvsAlreadyExistsError,
      /virtual service tcp\/10\.0\.0\.100:80 already exists/,
    ],
    [
      "Destination already exists",
      (c) => c.addRealServer(svc.key, rs("10.0.0.11")),
      IpvsAlreadyExistsError,
      /real server 10\.0\.0\.11:80 .* already exists/,
    ],
    ["No such service", (c) => c.editService(svc), IpvsNotFoundError, /does not exist/],
    [
      "Service not defined",
      (c) => c.addRealServer(svc.key, rs("10.0.0.11")),
      IpvsNotFoundError,
      /virtual service tcp\/10\.0\.0\.100:80 does not exist/,
    ],
    [
      "No such destination",
      (c) => c.editRealServer(svc.key, rs("10.0.0.11")),
      IpvsNotFoundError,
      /real server 10\.0\.0\.11:80 .* does not exist/,
    ],
    [
      "Scheduler or persistence engine not found",
      (c) => c.addService(svc),
      IpvsError,
      /What to do: the kernel lacks the scheduler/,
    ],
    ["sh: 1: ipvsadm: not found", (c) => c.addService(svc), IpvsError, /install ipvsadm/],
  ];
  for (const [stderr, op, type, message] of cases) {
    it(`maps "${stderr}"`, async () => {
      const t = new CannedTransport({
        stdout: "",
        stderr: `${stderr}\n`,
        code: stderr.includes("not found") && stderr.startsWith("sh") ? 127 : 255,
      });
      const err = await op(new IpvsadmClient(t)).then(
        () => undefined,
        (e: Error) => e,
      );
      assert.ok(err instanceof type, `${err?.name} is a ${type.name}`);
      assert.match(err.message, message);
      assert.match(err.message, /^on root@director:22: ipvsadm /, "names the host and the command");
    });
  }
});

describe("IpvsadmClient ledger, run by a real shell against a stand-in ipvsadm", () => {
  let dir: string;
  let ledger: string;
  let client: IpvsadmClient;
  let savedPath: string | undefined;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lvs-ledger-"));
    ledger = path.join(dir, "state", "ipvs.rules");
    // stand-in ipvsadm: logs its arguments; fails like the real one when FAIL is set
    fs.writeFileSync(
      path.join(dir, "ipvsadm"),
      `#!/bin/sh\necho "$*" >> "${dir}/calls"\n` +
        // "cut": the round trip is cut short right after the kernel changed (the shell dies)
        `if [ -e "${dir}/cut" ]; then kill -9 $PPID; fi\n` +
        `if [ -e "${dir}/fail" ]; then cat "${dir}/fail" >&2; exit 255; fi\n` +
        // one address that always exists already
        `case "$*" in *10.0.0.66*) echo "Destination already exists" >&2; exit 255;; esac\n`,
      { mode: 0o755 },
    );
    savedPath = process.env.PATH;
    process.env.PATH = `${dir}:${savedPath}`;
    client = new IpvsadmClient(new LocalTransport(), ledger);
  });
  afterEach(() => {
    process.env.PATH = savedPath;
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const lines = () => fs.readFileSync(ledger, "utf8").trim().split("\n").sort();

  it("records owned objects, replaces them on edit, and forgets them on delete", async () => {
    await client.addService(svc);
    await client.addRealServer(svc.key, rs("10.0.0.11"));
    await client.addRealServer(svc.key, rs("10.0.0.111"));
    await client.editRealServer(svc.key, rs("10.0.0.11", 5));
    await client.editService({ ...svc, scheduler: "wlc" });
    assert.deepEqual(
      lines(),
      [
        "-A -t 10.0.0.100:80 -s wlc",
        "-a -t 10.0.0.100:80 -r 10.0.0.111:80 -g -w 1 -x 0 -y 0",
        "-a -t 10.0.0.100:80 -r 10.0.0.11:80 -g -w 5 -x 0 -y 0",
      ].sort(),
    );
    await client.deleteRealServer(svc.key, rs("10.0.0.11"));
    assert.deepEqual(
      lines(),
      ["-A -t 10.0.0.100:80 -s wlc", "-a -t 10.0.0.100:80 -r 10.0.0.111:80 -g -w 1 -x 0 -y 0"].sort(),
    );
    await client.deleteService(svc.key);
    assert.equal(fs.readFileSync(ledger, "utf8"), "");
    assert.deepEqual(fs.readFileSync(path.join(dir, "calls"), "utf8").trim().split("\n"), [
      "-A -t 10.0.0.100:80 -s rr",
      "-a -t 10.0.0.100:80 -r 10.0.0.11:80 -g -w 1 -x 0 -y 0",
      "-a -t 10.0.0.100:80 -r 10.0.0.111:80 -g -w 1 -x 0 -y 0",
      "-e -t 10.0.0.100:80 -r 10.0.0.11:80 -g -w 5 -x 0 -y 0",
      "-E -t 10.0.0.100:80 -s wlc",
      "-d -t 10.0.0.100:80 -r 10.0.0.11:80",
      "-D -t 10.0.0.100:80",
    ]);
  });

  it("mutations sent together run in one round trip, each with its own result and ledger entry", async () => {
    const local = new LocalTransport();
    let trips = 0;
    const counting: Transport = {
      label: local.label,
      stats: local.stats,
      exclusive: (fn) => local.exclusive(fn),
      run: (c, o) => {
        trips++;
        return local.run(c, o);
      },
    };
    const batched = new IpvsadmClient(counting, ledger);
    await batched.addService(svc);
    assert.equal(trips, 1);
    const addresses = ["10.0.0.11", "10.0.0.12", "10.0.0.66", "10.0.0.13", "10.0.0.14"];
    const results = await Promise.allSettled(addresses.map((a) => batched.addRealServer(svc.key, rs(a), `p/s/${a}`)));
    assert.equal(trips, 2, "the five adds shared one round trip");
    assert.deepEqual(
      results.map((r) => r.status),
      ["fulfilled", "fulfilled", "rejected", "fulfilled", "fulfilled"],
    );
    const failed = (results[2] as PromiseRejectedResult).reason as Error;
    assert.ok(failed instanceof IpvsAlreadyExistsError);
    assert.match(failed.message, /ipvsadm -a -t 10\.0\.0\.100:80 -r 10\.0\.0\.66:80/);
    assert.deepEqual(
      lines().map((l) => l.replace(/ #owner=.*/, "")),
      [
        "-A -t 10.0.0.100:80 -s rr",
        ...["10.0.0.11", "10.0.0.12", "10.0.0.13", "10.0.0.14"].map(
          (a) => `-a -t 10.0.0.100:80 -r ${a}:80 -g -w 1 -x 0 -y 0`,
        ),
      ].sort(),
      "the refused one is not in the ledger; the others are",
    );
    assert.deepEqual(
      fs
        .readFileSync(path.join(dir, "calls"), "utf8")
        .trim()
        .split("\n")
        .slice(1)
        .map((l) => l.split(" ")[4]),
      addresses.map((a) => `${a}:80`),
      "run in the order they came",
    );
  });

  it("records each entry's owner, and snapshot reads it back", async () => {
    await client.addService(svc, "shop/prod/web vip");
    await client.addRealServer(svc.key, rs("10.0.0.11"), "shop/prod/web-rs1");
    await client.addRealServer(svc.key, rs("10.0.0.12"));
    assert.deepEqual(lines(), [
      "-A -t 10.0.0.100:80 -s rr #owner=shop%2Fprod%2Fweb%20vip",
      "-a -t 10.0.0.100:80 -r 10.0.0.11:80 -g -w 1 -x 0 -y 0 #owner=shop%2Fprod%2Fweb-rs1",
      "-a -t 10.0.0.100:80 -r 10.0.0.12:80 -g -w 1 -x 0 -y 0",
    ]);
    const owned = (await client.snapshot()).owned.services[0]!;
    assert.equal(owned.owner, "shop/prod/web vip");
    assert.deepEqual(
      owned.realServers.map((r) => [r.config.address, r.owner]),
      [
        ["10.0.0.11", "shop/prod/web-rs1"],
        ["10.0.0.12", undefined],
      ],
    );
    // an edit keeps one line per object, with the new owner
    await client.editRealServer(svc.key, rs("10.0.0.11", 3), "shop/prod/renamed");
    assert.equal(lines().filter((l) => l.includes("10.0.0.11")).length, 1);
    assert.match(lines().join("\n"), /-w 3 -x 0 -y 0 #owner=shop%2Fprod%2Frenamed/);
  });

  it("writes the ledger before ipvsadm runs: a round trip cut short leaves the owner recorded", async () => {
    await client.addService(svc, "p/s/web");
    fs.writeFileSync(path.join(dir, "cut"), "");
    await assert.rejects(client.addRealServer(svc.key, rs("10.0.0.11"), "p/s/rs1"));
    assert.match(fs.readFileSync(path.join(dir, "calls"), "utf8"), /-a -t 10\.0\.0\.100:80 -r 10\.0\.0\.11:80/);
    const owned = (await client.snapshot()).owned.services[0]!;
    assert.equal(owned.realServers[0]?.owner, "p/s/rs1", "the ledger claims what the kernel may have");
  });

  it("leaves the ledger alone when ipvsadm fails", async () => {
    await client.addService(svc);
    fs.writeFileSync(path.join(dir, "fail"), "Destination already exists\n");
    await assert.rejects(client.addRealServer(svc.key, rs("10.0.0.11")), IpvsAlreadyExistsError);
    assert.deepEqual(lines(), ["-A -t 10.0.0.100:80 -s rr"]);
  });

  it("forgets a real server that is already gone when deleting it", async () => {
    await client.addService(svc);
    await client.addRealServer(svc.key, rs("10.0.0.11"));
    fs.writeFileSync(path.join(dir, "fail"), "No such destination\n");
    await assert.rejects(client.deleteRealServer(svc.key, rs("10.0.0.11")), IpvsNotFoundError);
    assert.deepEqual(lines(), ["-A -t 10.0.0.100:80 -s rr"]);
  });

  it("snapshot reads the ledger and, with ip_vs not loaded, an empty table, without running ipvsadm", async () => {
    await client.addService(svc);
    await client.addRealServer(svc.key, rs("10.0.0.11"));
    const calls = fs.readFileSync(path.join(dir, "calls"), "utf8");
    const snap = await client.snapshot();
    assert.equal(snap.loaded, fs.existsSync("/proc/net/ip_vs"));
    if (!snap.loaded) assert.deepEqual(snap.table, { services: [] });
    assert.equal(snap.owned.services.length, 1);
    assert.equal(snap.owned.services[0]!.realServers[0]!.config.address, "10.0.0.11");
    assert.equal(fs.readFileSync(path.join(dir, "calls"), "utf8"), calls, "reading ran no ipvsadm command");
  });

  it("keeps ledger entries of other services when a service is deleted", async () => {
    const other: VirtualServiceConfig = { ...svc, key: { protocol: "tcp", address: "10.0.0.100", port: 8080 } };
    await client.addService(svc);
    await client.addService(other);
    await client.addRealServer(other.key, rs("10.0.0.11"));
    await client.deleteService(svc.key);
    assert.deepEqual(
      lines(),
      ["-A -t 10.0.0.100:8080 -s rr", "-a -t 10.0.0.100:8080 -r 10.0.0.11:80 -g -w 1 -x 0 -y 0"].sort(),
    );
  });
});
