/**
 * The local transport. The IPVS conformance suite (test/conformance) runs inside the lab
 * guest, in the director's network namespace, against the real kernel: ipvsadm and generic
 * netlink must each produce, and both read back, exactly the declared state.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { SCHEDULERS } from "../../provider/ipvs/types";
import { Figures } from "./harness/figures";
import { ensureGuestShares, labAddress, requests, resetLab, sh } from "./harness/lab";
import { repoRoot } from "./harness/paths";

const figures = new Figures("local-netlink");
after(() => figures.print());

interface Line {
  case?: string;
  by?: string;
  ok?: boolean;
  detail?: string;
  ms?: number;
  summary?: boolean;
  kernel?: string;
  schedulers?: string[];
  missing?: string[];
  passed?: number;
  failed?: number;
  timeouts?: { tcp: number; tcpFin: number; udp: number };
  ipvsadm?: string;
}

describe("local transport: IPVS through generic netlink", () => {
  before(() => ensureGuestShares());

  it("ipvsadm and netlink make and read back identical state on the real kernel", async () => {
    const out = await sh("director", "/mnt/node/node /mnt/project/dist/test/conformance/run.js", {
      timeoutMs: 20 * 60_000,
    });
    const lines = out
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Line);
    const summary = lines.find((l) => l.summary);
    // the timeouts read through netlink are the ones ipvsadm shows
    const t = lines.find((l) => l.timeouts);
    const shown = /Timeout \(tcp tcpfin udp\): (\d+) (\d+) (\d+)/.exec(t?.ipvsadm ?? "");
    assert.ok(t && shown, `timeouts: ${JSON.stringify(t)}`);
    assert.deepEqual(t.timeouts, { tcp: Number(shown[1]), tcpFin: Number(shown[2]), udp: Number(shown[3]) });
    const results = lines.filter((l) => l.case !== undefined);
    assert.ok(summary, `no summary line in:\n${out.slice(-2000)}`);
    const failed = results.filter((r) => !r.ok).map((r) => `${r.case} (made by ${r.by}): ${r.detail}`);
    assert.deepEqual(failed, []);
    // every case ran with both implementations
    const byImpl = (by: string) => results.filter((r) => r.by === by).map((r) => r.case);
    assert.deepEqual(byImpl("netlink"), byImpl("ipvsadm"));
    assert.ok(byImpl("netlink").length >= 8);
    // every scheduler the kernel has was covered; only those it lacks are missing
    for (const s of summary.schedulers ?? []) assert.ok(byImpl("netlink").includes(`scheduler ${s}`), s);
    assert.deepEqual([...(summary.schedulers ?? []), ...(summary.missing ?? [])].sort(), [...SCHEDULERS].sort());
    const ms = (by: string) => results.filter((r) => r.by === by).reduce((a, r) => a + (r.ms ?? 0), 0);
    figures.record({
      area: "netlink conformance",
      tried: results.length,
      failed: failed.length,
      measured: `kernel ${summary.kernel}; ${byImpl("netlink").length} cases each; ipvsadm ${(ms("ipvsadm") / 1000).toFixed(1)} s, netlink ${(ms("netlink") / 1000).toFixed(1)} s; no ${summary.missing?.join(", ") || "scheduler missing"}`,
    });
  });

  it("leaves no object of the suite behind, and never touched other services", async () => {
    const rules = await sh("director", "ipvsadm -S -n");
    assert.doesNotMatch(rules, /10\.99\.|fd00:99::|-f 99\d\d/);
  });
});

interface GuestResult {
  summary?: Record<string, number>;
  changes?: boolean;
  changeSummary?: Record<string, number>;
  outputs?: Record<string, unknown>;
  seconds: number;
}

/**
 * Builds examples/local to JavaScript where the guest sees it (dist/guest-programs/local), and
 * has the guest forget what it cached of the shares (they are mounted with cache=loose).
 */
async function buildForGuest(): Promise<void> {
  const ts: typeof import("typescript") = require("typescript");
  const out = path.join(repoRoot, "dist/guest-programs/local");
  fs.mkdirSync(out, { recursive: true });
  const src = path.join(repoRoot, "examples/local");
  const js = ts.transpileModule(fs.readFileSync(path.join(src, "index.ts"), "utf8"), {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
  });
  fs.writeFileSync(path.join(out, "index.js"), js.outputText);
  fs.copyFileSync(path.join(src, "Pulumi.yaml"), path.join(out, "Pulumi.yaml"));
  await sh("lab", "sync; echo 3 > /proc/sys/vm/drop_caches");
}

/**
 * Runs operations on examples/local with the real pulumi CLI inside the guest, on the director
 * (pulumi runs on the director: the local connection), through test/guest/stack.ts, in one
 * process (each pulumi CLI start costs the emulated guest seconds).
 */
const guestWork = `/tmp/pulumi-lvs-guest-${process.pid}`;

async function onDirector(ops: string[], config: Record<string, { value: string }>): Promise<GuestResult[]> {
  const json = JSON.stringify(config);
  const quoted = ops.map((o) => `'${o}'`).join(" ");
  assert.ok(!json.includes("'") && !ops.join("").includes("'"), "passed in single quotes");
  const out = await sh(
    "director",
    `cd /tmp && PATH=/mnt/pulumi:/mnt/node:$PATH PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK=true PULUMI_LVS_GUEST_WORK=${guestWork} PULUMI_LVS_GUEST_CONFIG='${json}' node /mnt/project/dist/test/guest/stack.js /mnt/project/dist/guest-programs/local ${quoted} 2>&1; echo "#exit $?"`,
    { timeoutMs: 20 * 60_000 },
  );
  if (process.env.PULUMI_LVS_E2E_QUIET !== "1") process.stdout.write(out.replace(/^(?=.)/gm, "    │ "));
  const results = out
    .split("\n")
    .filter((l) => l.startsWith("#result "))
    .map((l) => JSON.parse(l.replace(/^#result \S+ /, "")) as GuestResult);
  assert.equal(results.length, ops.length, `pulumi on the director failed:\n${out.slice(-3000)}`);
  return results;
}

describe("examples/local: a director that deploys itself (real pulumi CLI in the guest, no ipvsadm, no SSH)", () => {
  const config = () => ({
    backends: { value: JSON.stringify(["rs1", "rs2", "rs3"].map((h) => ({ address: labAddress(h), port: 80 }))) },
  });
  const hideIpvsadm = "p=$(command -v ipvsadm) && mv $p $p.away";
  const restoreIpvsadm = "for p in /sbin/ipvsadm /usr/sbin/ipvsadm; do [ ! -e $p.away ] || mv $p.away $p; done";
  const rules = async () => {
    await sh("director", restoreIpvsadm);
    const r = await sh("director", "ipvsadm -S -n");
    await sh("director", hideIpvsadm);
    return r;
  };

  before(async () => {
    ensureGuestShares();
    resetLab();
    await buildForGuest();
    // NAT: the real servers route back through the director (outside pulumi-lvs, as in examples/nat)
    await Promise.all(["rs1", "rs2", "rs3"].map((h) => sh(h, "ip route replace default via 10.0.0.2")));
    // the director has no ipvsadm: the local connection must not need it
    await sh("director", hideIpvsadm);
  });
  after(async () => {
    await sh("director", `${restoreIpvsadm}; rm -rf ${guestWork}`, { allowFail: true });
  });

  it("deploys through netlink, balances real traffic, shows and repairs drift, and destroys", async () => {
    const [up] = await onDirector(["up"], config());
    // the stack, the component, the director, 1 service (its 3 real servers inline)
    assert.deepEqual(up!.summary, { create: 4 });
    const made = await rules();
    assert.match(made, /-A -t 10\.0\.0\.100:8080 -s wrr/);
    assert.deepEqual(
      made
        .split("\n")
        .filter((l) => l.startsWith("-a -t 10.0.0.100:8080"))
        .sort(),
      [
        "-a -t 10.0.0.100:8080 -r 10.0.0.11:80 -m -w 1",
        "-a -t 10.0.0.100:8080 -r 10.0.0.12:80 -m -w 2",
        "-a -t 10.0.0.100:8080 -r 10.0.0.13:80 -m -w 3",
      ],
    );
    assert.equal((await sh("director", "cat /proc/sys/net/ipv4/ip_forward")).trim(), "1");
    // the timeouts went through netlink (ipvsadm was away during up)
    await sh("director", restoreIpvsadm);
    const timeouts = await sh("director", "ipvsadm -L -n --timeout");
    await sh("director", hideIpvsadm);
    assert.match(timeouts, /Timeout \(tcp tcpfin udp\): 600 30 60/);
    assert.deepEqual(await requests("extclient", "http://10.0.0.100:8080/", 30), { rs1: 5, rs2: 10, rs3: 15 });
    // IPVS sums its per-CPU counters into the ones it reports (netlink and ipvsadm alike) on its
    // estimator's tick, every 2 s: read within 2 s of the traffic, they lag behind it (19 of the 30
    // connections, once). Two ticks later both reads below see the same totals.
    await new Promise((r) => setTimeout(r, 4500));
    // the traffic counters read through netlink are those ipvsadm shows (exact)
    const counted = JSON.parse(
      await sh("director", "/mnt/node/node /mnt/project/dist/test/conformance/run.js --counters tcp/10.0.0.100:8080"),
    ) as { service: Record<string, string>; realServers: Record<string, Record<string, string>> };
    await sh("director", restoreIpvsadm);
    const stats = await sh("director", "ipvsadm -L -n --stats --exact -t 10.0.0.100:8080");
    await sh("director", hideIpvsadm);
    const row = (c: Record<string, string>) =>
      [c.connections, c.packetsIn, c.packetsOut, c.bytesIn, c.bytesOut].join(" ");
    const shownStats = stats
      .split("\n")
      .map((l) => /^\s*(?:TCP|->)\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/.exec(l))
      .filter((m) => m !== null)
      .map((m) => `${m[1]} ${m.slice(2).join(" ")}`);
    assert.deepEqual(
      shownStats.sort(),
      [
        `10.0.0.100:8080 ${row(counted.service)}`,
        ...Object.entries(counted.realServers).map(([k, v]) => `${k} ${row(v)}`),
      ].sort(),
    );
    assert.equal(counted.service.connections, "30", "30 requests, 30 connections");
    // drift by hand with the real ipvsadm (moved away again before pulumi runs): a real server
    // deleted, another one's weight changed
    const drift = `sh:${restoreIpvsadm}; ipvsadm -d -t 10.0.0.100:8080 -r 10.0.0.12:80 && ipvsadm -e -t 10.0.0.100:8080 -r 10.0.0.13:80 -m -w 9; ${hideIpvsadm}`;
    // (no clean preview right after up: the one after the repair checks the empty plan, and each
    // pulumi operation costs about 2 minutes in the emulated guest)
    const [, drifted, repair, repaired] = await onDirector(
      [drift, "refresh-preview", "up-refresh", "refresh-preview"],
      config(),
    );
    assert.equal(drifted!.changes, true, "the drift shows in preview --refresh");
    assert.deepEqual(
      repair!.summary,
      { same: 3, update: 1 },
      "up --refresh updates the service: puts back one real server, sets the other's weight",
    );
    assert.equal(repaired!.changes, false, "no change after the repair");
    assert.deepEqual(await requests("extclient", "http://10.0.0.100:8080/", 30), { rs1: 5, rs2: 10, rs3: 15 });
    const [destroy] = await onDirector(["destroy"], config());
    assert.deepEqual(destroy!.summary, { delete: 4 });
    assert.doesNotMatch(await rules(), /10\.0\.0\.100/);
    figures.record({
      area: "examples/local: pulumi on the director (guest)",
      tried: 1,
      failed: 0,
      measured: `up ${up!.seconds.toFixed(0)} s, preview --refresh ${repaired!.seconds.toFixed(0)} s, destroy ${destroy!.seconds.toFixed(0)} s (pulumi and Node emulated)`,
    });
  });
});
