import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import fc from "fast-check";
import { realServerChange, serviceChange } from "../../provider/ipvs/change";
import { IpvsAlreadyExistsError, IpvsError, IpvsNotFoundError } from "../../provider/ipvs/client";
import { mergeThresholds, parseThresholds } from "../../provider/ipvs/ipvsadm/thresholds";
import { parseLedger, replayLedger, rsPrefix, svcPrefix } from "../../provider/ipvs/ledger";
import { NetlinkIpvsClient, takeGroup } from "../../provider/ipvs/netlink/client";
import { Cmd, CmdAttr, SvcAttr, SvcFlag } from "../../provider/ipvs/netlink/constants";
import { SharedLock } from "../../provider/ipvs/netlink/socket";
import {
  decodeAttrs,
  encodeAttrs,
  inetAddr,
  parseCounters,
  parseInetAddr,
  parseRealServer,
  parseService,
  parseTimeouts,
  realServerAttrs,
  serviceAttrs,
  timeoutsAttrs,
  u32,
} from "../../provider/ipvs/netlink/wire";
import { parseRules } from "../../provider/ipvs/rules/parse";
import { familyOfKey, type RealServerConfig, type VirtualServiceConfig } from "../../provider/ipvs/types";
import { connection } from "../../provider/model/connection";
import { suiteState } from "../conformance/suite";
import { realServer, serviceConfig } from "./arbitraries";
import { FakeIpvsKernel } from "./fakes/ipvs-kernel";
import { realServerFixture, serviceFixture } from "./fixtures";

const plain = (v: unknown) => JSON.parse(JSON.stringify(v));
const familyOf = (s: VirtualServiceConfig) => familyOfKey(s.key);

/** What the kernel reads back: gue and gre tunnels always carry a checksum mode. */
function asDumped(r: RealServerConfig): RealServerConfig {
  if (!r.tunnel || r.tunnel.type === "ipip") return r;
  return { ...r, tunnel: { ...r.tunnel, checksum: r.tunnel.checksum ?? "nocsum" } };
}

describe("netlink wire format", () => {
  it("encodes attributes with 4-byte padding and decodes them back", () => {
    const buf = encodeAttrs([
      [1, Buffer.from([7])],
      [2, Buffer.from("abcde")],
      [3, u32(9)],
    ]);
    assert.equal(buf.length, 8 + 12 + 8);
    const a = decodeAttrs(buf);
    assert.deepEqual([...a.keys()], [1, 2, 3]);
    assert.equal(a.get(2)!.toString(), "abcde");
    assert.throws(() => decodeAttrs(Buffer.from([40, 0, 1, 0, 0, 0, 0, 0])), /bad length 40/);
  });

  it("writes addresses as union nf_inet_addr and reads them back canonical", () => {
    assert.equal(inetAddr("10.0.0.100").toString("hex"), `0a000064${"0".repeat(24)}`);
    assert.equal(inetAddr("fd00:10::100").toString("hex"), "fd000010000000000000000000000100");
    assert.equal(parseInetAddr(inetAddr("FD00:10:0::0100"), "ipv6"), "fd00:10::100");
    assert.equal(parseInetAddr(inetAddr("::ffff:10.1.2.3"), "ipv6"), "::ffff:a01:203");
  });

  it("reads a dumped service whose flags carry the kernel's hashed bit", () => {
    const s: VirtualServiceConfig = {
      key: { protocol: "udp", address: "10.0.0.100", port: 53 },
      scheduler: "sh",
      schedulerFlags: ["sh-port"],
      onePacket: true,
    };
    const a = new Map(decodeAttrs(encodeAttrs(serviceAttrs(s))));
    const flags = a.get(SvcAttr.FLAGS)!.readUInt32LE(0);
    assert.equal(flags, SvcFlag.ONEPACKET | SvcFlag.SCHED2);
    a.set(SvcAttr.FLAGS, Buffer.concat([u32(flags | SvcFlag.HASHED), u32(0xffffffff)]));
    assert.deepEqual(parseService(encodeAttrs([...a.entries()])), s);
  });

  it("build then parse is the identity for services and real servers (property)", () => {
    fc.assert(
      fc.property(
        serviceConfig.chain((s) => fc.tuple(fc.constant(s), realServer(familyOf(s) === "ipv6", "fwmark" in s.key))),
        ([s, r]) => {
          assert.deepEqual(parseService(encodeAttrs(serviceAttrs(s))), plain(s));
          const back = parseRealServer(encodeAttrs(realServerAttrs(familyOf(s), r)), familyOf(s));
          assert.deepEqual(back.config, plain(asDumped(r)));
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("netlink dumps captured from the real kernel", () => {
  // test/conformance/run.js --capture in the lab: every conformance case's state made with
  // ipvsadm, then dumped over netlink (raw attributes) next to `ipvsadm -S -n`
  const dump = JSON.parse(
    fs.readFileSync(path.join(__dirname, "../../../test/unit/fixtures/netlink/dump.json"), "utf8"),
  ) as {
    kernel: string;
    save: string;
    thresholds: string;
    services: Array<{ service: string; realServers: string[] }>;
  };

  it("parse to exactly what ipvsadm shows of the same state (-S, and -L --thresholds)", () => {
    const fromNetlink = {
      services: dump.services.map((s) => {
        const config = parseService(Buffer.from(s.service, "hex"));
        return {
          config,
          realServers: s.realServers.map((r) => ({
            config: parseRealServer(Buffer.from(r, "hex"), familyOf(config)).config,
          })),
        };
      }),
    };
    assert.ok(fromNetlink.services.length >= 20, `${fromNetlink.services.length} services captured`);
    const fromIpvsadm = parseRules(dump.save);
    mergeThresholds(fromIpvsadm, parseThresholds(dump.thresholds));
    assert.deepEqual(suiteState(fromNetlink), suiteState(fromIpvsadm));
  });

  it("carry 64-bit counters, all zero for rules no packet went through", () => {
    for (const s of dump.services) {
      const c = parseCounters(Buffer.from(s.service, "hex"), "service");
      assert.deepEqual(Object.values(c), [0n, 0n, 0n, 0n, 0n]);
      for (const r of s.realServers) assert.equal(parseCounters(Buffer.from(r, "hex"), "real server").connections, 0n);
    }
    assert.throws(
      () =>
        parseCounters(
          encodeAttrs(serviceAttrs(parseService(Buffer.from(dump.services[0]!.service, "hex")))),
          "service",
        ),
      /no statistics/,
    );
  });

  it("rebuild: the attributes we send for a dumped service parse back to it", () => {
    for (const s of dump.services) {
      const config = parseService(Buffer.from(s.service, "hex"));
      assert.deepEqual(parseService(encodeAttrs(serviceAttrs(config))), config);
    }
  });
});

describe("timeouts", () => {
  it("reads GET_CONFIG's three timeouts in seconds", () => {
    const reply = encodeAttrs([
      [CmdAttr.TIMEOUT_TCP, u32(900)],
      [CmdAttr.TIMEOUT_TCP_FIN, u32(120)],
      [CmdAttr.TIMEOUT_UDP, u32(300)],
    ]);
    assert.deepEqual(parseTimeouts(reply), { tcp: 900, tcpFin: 120, udp: 300 });
    assert.throws(() => parseTimeouts(encodeAttrs([[CmdAttr.TIMEOUT_TCP, u32(900)]])), /tcpfin timeout/);
  });

  it("SET_CONFIG's attributes parse back to the timeouts they set (property)", () => {
    const seconds = fc.integer({ min: 0, max: 0xffffffff });
    fc.assert(
      fc.property(fc.record({ tcp: seconds, tcpFin: seconds, udp: seconds }), (t) => {
        assert.deepEqual(parseTimeouts(encodeAttrs(timeoutsAttrs(t))), { ...t });
      }),
    );
  });
});

describe("NetlinkIpvsClient (against a stand-in kernel)", () => {
  let dir: string;
  let ledger: string;
  let kernel: FakeIpvsKernel;
  let loaded: boolean;
  let modprobes: number;
  let client: NetlinkIpvsClient;
  const svc = serviceFixture({ scheduler: "wrr", persistence: { timeout: 300, netmask: "255.255.255.0" } });
  const rs = (address: string, weight = 1) =>
    realServerFixture(address, { weight, upperThreshold: 10, lowerThreshold: 5 });

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lvs-nl-"));
    ledger = path.join(dir, "state", "ipvs.rules");
    kernel = new FakeIpvsKernel();
    loaded = true;
    modprobes = 0;
    client = new NetlinkIpvsClient({
      ledger,
      open: async () => (loaded ? kernel : undefined),
      loadModule: async () => {
        modprobes++;
        loaded = true;
      },
    });
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  /** The rules the ledger holds (its journal replayed; none when there is no file). */
  const rules = () => (fs.existsSync(ledger) ? replayLedger(fs.readFileSync(ledger, "utf8")) : []);

  it("adds, reads back with counters, edits and deletes; the ledger follows with owners", async () => {
    await client.apply(serviceChange("add", svc, "p/s/web"));
    await Promise.all([
      client.apply(realServerChange("add", svc.key, rs("10.0.0.11"), "p/s/rs1")),
      client.apply(realServerChange("add", svc.key, rs("10.0.0.12", 3))),
    ]);
    let snap = await client.snapshot();
    assert.equal(snap.loaded, true);
    assert.deepEqual(plain(snap.table.services[0]!.config), plain(svc));
    assert.deepEqual(
      snap.table.services[0]!.realServers.map((r) => [r.config.address, r.config.weight, r.stats?.activeConnections]),
      [
        ["10.0.0.11", 1, 3],
        ["10.0.0.12", 3, 3],
      ],
    );
    assert.equal(snap.owned.services[0]!.owner, "p/s/web");
    assert.deepEqual(
      snap.owned.services[0]!.realServers.map((r) => r.owner),
      ["p/s/rs1", undefined],
    );
    await client.apply(realServerChange("edit", svc.key, rs("10.0.0.11", 7), "p/s/rs1"));
    await client.apply(serviceChange("edit", { ...svc, scheduler: "lc", persistence: undefined }, "p/s/web"));
    snap = await client.snapshot();
    assert.equal(snap.table.services[0]!.config.scheduler, "lc");
    assert.equal(snap.table.services[0]!.config.persistence, undefined);
    assert.equal(snap.table.services[0]!.realServers[0]!.config.weight, 7);
    assert.match(fs.readFileSync(ledger, "utf8"), /-A -t 10\.0\.0\.100:80 -s lc #owner=p%2Fs%2Fweb/);
    await client.apply(serviceChange("delete", svc.key));
    snap = await client.snapshot();
    assert.deepEqual(snap.table.services, []);
    assert.deepEqual(rules(), [], "the service and its real servers left the ledger");
  });

  it("sets the timeouts without touching the ledger, a 0 leaving that one as it was", async () => {
    await client.setTimeouts({ tcp: 600, tcpFin: 0, udp: 60 });
    assert.deepEqual(await client.timeouts(), { tcp: 600, tcpFin: 120, udp: 60 });
    assert.equal(fs.existsSync(ledger), false);
  });

  it("keeps the error semantics: already exists, not found, and the ledger as it was", async () => {
    await client.apply(serviceChange("add", svc, "p/s/web"));
    const before = rules();
    await assert.rejects(
      client.apply(serviceChange("add", { ...svc, scheduler: "rr" }, "p/s/other")),
      IpvsAlreadyExistsError,
    );
    assert.deepEqual(rules(), before, "a refused add leaves the ledger line as it was");
    assert.match(fs.readFileSync(ledger, "utf8"), /^#abort \S+$/m, "appended as a cancelled change");
    await assert.rejects(client.apply(realServerChange("edit", svc.key, rs("10.0.0.99"))), (e: Error) => {
      assert.ok(e instanceof IpvsNotFoundError);
      assert.match(
        e.message,
        /on local: edit real server 10\.0\.0\.99:80 of tcp\/10\.0\.0\.100:80 \(netlink\) failed: real server .* does not exist/,
      );
      return true;
    });
    assert.deepEqual(rules(), before);
    const gone = { protocol: "udp" as const, address: "10.0.0.100", port: 53 };
    fs.appendFileSync(ledger, "-A -u 10.0.0.100:53 -s rr\n");
    await assert.rejects(client.apply(serviceChange("delete", gone)), IpvsNotFoundError);
    assert.deepEqual(rules(), before, "a delete of what is gone still drops its ledger line");
  });

  it("names the cause: missing scheduler module, no privileges", async () => {
    kernel.refuseNext = { cmd: Cmd.NEW_SERVICE, code: "ENOENT" };
    await assert.rejects(
      client.apply(serviceChange("add", svc)),
      /scheduler or persistence engine not found[\s\S]*modprobe ip_vs_<scheduler>/,
    );
    kernel.refuseNext = { cmd: Cmd.NEW_SERVICE, code: "EPERM" };
    await assert.rejects(
      client.apply(serviceChange("add", svc)),
      (e: Error) => e instanceof IpvsError && /needs root \(CAP_NET_ADMIN\)/.test(e.message),
    );
    assert.deepEqual(rules(), []);
  });

  it("reads without loading ip_vs, and loads it before the first change", async () => {
    loaded = false;
    const snap = await client.snapshot();
    assert.equal(snap.loaded, false);
    assert.equal(modprobes, 0, "reading loads nothing");
    assert.equal(fs.existsSync(ledger), false, "reading writes nothing");
    await client.apply(serviceChange("add", svc));
    assert.equal(modprobes, 1);
    assert.equal((await client.snapshot()).table.services.length, 1);
  });

  it("fails clearly when the module cannot be loaded", async () => {
    loaded = false;
    const c = new NetlinkIpvsClient({ ledger, open: async () => undefined, loadModule: async () => undefined });
    await assert.rejects(c.apply(serviceChange("add", svc)), /the kernel has no IPVS family[\s\S]*modprobe ip_vs/);
  });

  it("groups concurrent changes, and cancels only the refused ones' ledger records", async () => {
    await client.apply(serviceChange("add", svc));
    // 10.0.0.13 exists in the kernel but not in the ledger (made by hand)
    await client.apply(realServerChange("add", svc.key, rs("10.0.0.13")));
    fs.writeFileSync(ledger, fs.readFileSync(ledger, "utf8").replace(/^-a .*10\.0\.0\.13.*\n/m, ""));
    const results = await Promise.allSettled(
      ["10.0.0.11", "10.0.0.12", "10.0.0.13", "10.0.0.14"].map((a) =>
        client.apply(realServerChange("add", svc.key, rs(a), `p/s/${a}`)),
      ),
    );
    assert.deepEqual(
      results.map((r) => r.status),
      ["fulfilled", "fulfilled", "rejected", "fulfilled"],
    );
    const owned = parseLedger(fs.readFileSync(ledger, "utf8"));
    assert.deepEqual(
      owned.services[0]!.realServers.map((r) => r.config.address),
      ["10.0.0.11", "10.0.0.12", "10.0.0.14"],
    );
  });

  it("records a group of thousands of changes in one append, beyond a command line's length", async () => {
    await client.apply(serviceChange("add", svc, "p/s/web"));
    const addresses = Array.from({ length: 2000 }, (_, i) => `10.9.${i >> 8}.${i & 255}`);
    await Promise.all(
      addresses.map((a) => client.apply(realServerChange("add", svc.key, rs(a), `p/s/a long owner name ${a}`))),
    );
    assert.ok(fs.statSync(ledger).size > 200_000, "more than one command line's argument may hold");
    assert.equal(rules().length, 2001);
    assert.equal((await client.snapshot()).table.services[0]!.realServers.length, 2000);
  });

  it("takeGroup keeps changes to one object apart", () => {
    const k = svc.key;
    const mk = (prefixes: string[]) => ({ edit: { prefixes, lines: [] } });
    const q = [
      mk([rsPrefix(k, rs("10.0.0.11"))]),
      mk([rsPrefix(k, rs("10.0.0.12"))]),
      mk([svcPrefix(k), rsPrefix(k)]),
      mk([rsPrefix(k, rs("10.0.0.11"))]),
    ];
    assert.equal(takeGroup(q).length, 2, "the service delete touches every real server of the service");
    assert.equal(takeGroup(q).length, 1);
    assert.equal(takeGroup(q).length, 1);
    assert.equal(q.length, 0);
  });
});

describe("SharedLock (the netlink socket's: dumps alone, changes together)", () => {
  it("runs shared tasks together, an exclusive one alone, in arrival order", async () => {
    const lock = new SharedLock();
    const log: string[] = [];
    const task = (name: string, exclusive: boolean, ms: number) =>
      lock.run(exclusive, async () => {
        log.push(`${name}+`);
        await new Promise((r) => setTimeout(r, ms));
        log.push(`${name}-`);
      });
    await Promise.all([task("a", false, 20), task("b", false, 5), task("D", true, 5), task("c", false, 1)]);
    assert.deepEqual(log, ["a+", "b+", "b-", "a-", "D+", "D-", "c+", "c-"]);
  });
});

describe("the local connection", () => {
  it("is { local: true }, validated apart from SSH connections", () => {
    assert.deepEqual(connection.parse({ local: true }), { local: true });
    const bad = connection.safeParse({ local: true, host: "x" });
    assert.ok(!bad.success && bad.error.issues.some((i) => i.code === "unrecognized_keys"));
    const ssh = connection.safeParse({ host: "10.0.0.2", insecureIgnoreHostKey: true });
    assert.ok(ssh.success && "host" in ssh.data && ssh.data.port === 22);
    const missing = connection.safeParse({ host: "10.0.0.2" });
    assert.ok(!missing.success && missing.error.issues.some((i) => i.path.join(".") === "hostKey"));
    const notTrue = connection.safeParse({ local: false });
    assert.ok(!notTrue.success && /must be true/.test(notTrue.error.issues[0]!.message));
  });
});
