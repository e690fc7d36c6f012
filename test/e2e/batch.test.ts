import * as assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { realServerChange, serviceChange } from "../../provider/ipvs/change";
import { IpvsAlreadyExistsError, IpvsNotFoundError } from "../../provider/ipvs/client";
import { IpvsadmClient } from "../../provider/ipvs/ipvsadm/client";
import { replayLedger } from "../../provider/ipvs/ledger";
import type { RealServerConfig, ServiceKey, VirtualServiceConfig } from "../../provider/ipvs/types";
import { SshTransport } from "../../provider/transport/ssh";
import { lab, labPrivateKey, sh } from "./harness/lab";

// The ipvsadm client's one-pass batches against the lab director's real ipvsadm and kernel, over
// SSH: a batch reads only the services it touches, and still tells the rules ipvsadm -R refused
// from those it applied. It works on a VIP of its own with a ledger of its own, and removes only
// what it made: no lab reset, no other host.
const VIP = "10.79.0.1";
const PORTS = [9001, 9002, 9003, 9004];
const LEDGER = "/tmp/pulumi-lvs-e2e-batch/ipvs.rules";
const key = (port: number): ServiceKey => ({ protocol: "tcp", address: VIP, port });
const svc = (port: number): VirtualServiceConfig => ({
  key: key(port),
  scheduler: "rr",
  schedulerFlags: [],
  onePacket: false,
});
const rs = (n: number, weight = 1): RealServerConfig => ({
  address: `10.80.0.${n}`,
  port: 80,
  forwarding: "nat",
  weight,
  upperThreshold: 0,
  lowerThreshold: 0,
});

/** The director's rules on the test's VIP, sorted. */
const rules = async () =>
  (await sh("director", "ipvsadm -S -n"))
    .split("\n")
    .filter((l) => l.includes(` ${VIP}:`))
    .sort();
/** The rules the test's ledger holds (its journal replayed), owner tags kept. */
const ledger = async () => replayLedger(await sh("director", `cat ${LEDGER} 2>/dev/null || true`)).sort();
const clean = () =>
  sh(
    "director",
    `${PORTS.map((p) => `ipvsadm -D -t ${VIP}:${p} 2>/dev/null;`).join(" ")} rm -rf ${LEDGER.replace(/\/[^/]*$/, "")}`,
  );

describe("one-pass batches on the real ipvsadm (lab director)", () => {
  let t: SshTransport;
  let client: IpvsadmClient;
  before(async () => {
    await clean();
    const h = lab().hosts.director!;
    t = new SshTransport({
      host: h.host,
      port: h.port,
      user: "root",
      privateKey: labPrivateKey(),
      hostKey: h.hostKey,
      insecureIgnoreHostKey: false,
      dialTimeout: 10,
      dialAttempts: 3,
    });
    client = new IpvsadmClient(t, LEDGER);
  });
  after(async () => {
    t?.close();
    await clean();
  });

  it("service adds in one round trip: one that existed already (made by hand) is told from those it made", async () => {
    await sh("director", `ipvsadm -A -t ${VIP}:9002 -s wlc && ipvsadm -a -t ${VIP}:9002 -r 10.80.0.9:80 -m`);
    const before = t.stats.commands;
    const results = await Promise.allSettled(
      PORTS.map((p) => client.apply(serviceChange("add", svc(p), `e2e/batch/${p}`))),
    );
    assert.deepEqual(
      results.map((r) => r.status),
      ["fulfilled", "rejected", "fulfilled", "fulfilled"],
    );
    assert.ok((results[1] as PromiseRejectedResult).reason instanceof IpvsAlreadyExistsError);
    // the pass; the four services read again; the refused one on its own
    assert.equal(t.stats.commands - before, 3);
    assert.deepEqual(await rules(), [
      `-A -t ${VIP}:9001 -s rr`,
      `-A -t ${VIP}:9002 -s wlc`,
      `-A -t ${VIP}:9003 -s rr`,
      `-A -t ${VIP}:9004 -s rr`,
      `-a -t ${VIP}:9002 -r 10.80.0.9:80 -m -w 1`,
    ]);
    assert.deepEqual(
      (await ledger()).map((l) => l.replace(/ #owner=.*/, "")),
      [`-A -t ${VIP}:9001 -s rr`, `-A -t ${VIP}:9003 -s rr`, `-A -t ${VIP}:9004 -s rr`],
      "the ledger claims the three it made, not the one made by hand",
    );
  });

  it("real servers of one service in one round trip when ipvsadm -R says nothing", async () => {
    const before = t.stats.commands;
    await Promise.all(
      [1, 2, 3, 4, 5].map((n) => client.apply(realServerChange("add", key(9001), rs(n), "e2e/batch/rs"))),
    );
    assert.equal(t.stats.commands - before, 1);
    assert.equal((await rules()).filter((l) => l.startsWith(`-a -t ${VIP}:9001 `)).length, 5);
  });

  it("a refused rule in a batch gets its own ipvsadm error; the others take effect and the ledger follows", async () => {
    await sh("director", `ipvsadm -a -t ${VIP}:9003 -r 10.80.0.7:80 -m -w 3`);
    const results = await Promise.allSettled([
      client.apply(realServerChange("add", key(9003), rs(6), "e2e/batch/a")),
      client.apply(realServerChange("add", key(9003), rs(7), "e2e/batch/intruder")), // made by hand just now
      client.apply(realServerChange("edit", key(9001), rs(1, 4), "e2e/batch/rs")),
      client.apply(realServerChange("delete", key(9001), rs(2))),
      client.apply(realServerChange("delete", key(9001), rs(8))), // never there
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ["fulfilled", "rejected", "fulfilled", "fulfilled", "rejected"],
    );
    const reasons = results.map((r) => (r.status === "rejected" ? (r.reason as Error) : undefined));
    assert.ok(reasons[1] instanceof IpvsAlreadyExistsError, String(reasons[1]));
    assert.match(reasons[1]!.message, /ipvsadm -a -t 10\.79\.0\.1:9003 -r 10\.80\.0\.7:80/);
    assert.ok(reasons[4] instanceof IpvsNotFoundError, String(reasons[4]));
    const now = await rules();
    assert.ok(now.includes(`-a -t ${VIP}:9003 -r 10.80.0.6:80 -m -w 1`));
    assert.ok(now.includes(`-a -t ${VIP}:9003 -r 10.80.0.7:80 -m -w 3`), "the one made by hand is as it was");
    assert.ok(now.includes(`-a -t ${VIP}:9001 -r 10.80.0.1:80 -m -w 4`));
    assert.ok(!now.some((l) => l.includes("-r 10.80.0.2:80")));
    const owned = await ledger();
    assert.ok(owned.some((l) => l.includes("-r 10.80.0.6:80") && l.includes("#owner=e2e%2Fbatch%2Fa")));
    assert.ok(!owned.some((l) => l.includes("-r 10.80.0.7:80")), "the refused add left the ledger as it was");
  });

  it("real servers of a service removed by hand: ipvsadm -R stops at its listing, before any rule; each gets why", async () => {
    await sh("director", `ipvsadm -D -t ${VIP}:9004`);
    const results = await Promise.allSettled(
      [11, 12].map((n) => client.apply(realServerChange("add", key(9004), rs(n), "e2e/batch/gone"))),
    );
    for (const r of results) {
      assert.equal(r.status, "rejected");
      assert.ok((r as PromiseRejectedResult).reason instanceof IpvsNotFoundError);
      assert.match(
        (r as PromiseRejectedResult).reason.message,
        /virtual service tcp\/10\.79\.0\.1:9004 does not exist/,
      );
    }
    assert.ok(!(await rules()).some((l) => l.includes(`${VIP}:9004`)));
    assert.ok(!(await ledger()).some((l) => l.startsWith(`-a -t ${VIP}:9004 `)), "their records cancelled");
  });
});
