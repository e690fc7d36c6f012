import * as assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { exampleStack } from "./harness/folder";
import { labAddress, labConnection, labPrivateKey, ledgerRules, requests, resetLab, sh } from "./harness/lab";
import { type ProgramStack, TestStack } from "./harness/stack";
import { background, longRequest, table as tableOf, waitFor } from "./harness/traffic";

// examples/inline in the lab: one VirtualService that lists rs1..rs3 inline (LVS-DR), through the
// real CLI. The stack starts in the separate form (one RealServer each) and moves to the inline one
// under a client's request loop; then per-entry drift, the drain of a removed entry, and
// keepalived's health checks of inline real servers.
const VIP = "10.0.0.100";
const SERVICE = `${VIP}:80`;
const BACKENDS = ["rs1", "rs2", "rs3"];
const table = () => tableOf("director", SERVICE);
const ledgerOwners = async () =>
  (await ledgerRules("director"))
    .filter((l) => l.includes(" -r "))
    .map((l) => decodeURIComponent(/#owner=(\S+)/.exec(l)?.[1] ?? "(none)"));

describe("examples/inline: real servers listed in their VirtualService", () => {
  let s: ProgramStack;
  const config = (backends: string[], extra: Record<string, string> = {}) => ({
    director: { value: JSON.stringify(labConnection("director")) },
    privateKey: { value: labPrivateKey(), secret: true },
    backends: {
      value: JSON.stringify(backends.map((h) => ({ address: labAddress(h), ssh: labConnection(h) }))),
    },
    form: { value: "inline" },
    engine: { value: "ipvsadm" },
    drainTimeout: { value: "0" },
    ...Object.fromEntries(Object.entries(extra).map(([k, value]) => [k, { value }])),
  });

  before(async () => {
    resetLab();
    s = await exampleStack("inline", "examples/inline");
  });
  after(async () => {
    if (!process.env.PULUMI_LVS_KEEP_STACK) await s?.dispose();
  });

  it("moving from separate RealServers to the inline form hands them over: a client looping requests through that up sees no failure", async () => {
    await s.setConfig(config(BACKENDS, { form: "separate" }));
    await s.up();
    assert.deepEqual(await requests("client", `http://${VIP}/`, 30), { rs1: 10, rs2: 10, rs3: 10 });
    assert.equal(new Set(await ledgerOwners()).size, 3, "one RealServer each");
    await background(
      "client",
      `end=$(( $(cut -d. -f1 /proc/uptime) + 40 )); while [ $(cut -d. -f1 /proc/uptime) -lt $end ]; do if timeout 2 wget -q -O - http://${VIP}/; then :; else echo FAIL; fi; done; echo END`,
      "/tmp/handover.out",
    );
    await s.setConfig(config(BACKENDS));
    const { stdout } = await s.up();
    assert.match(
      stdout,
      /real server 10\.0\.0\.11:80 of tcp\/10\.0\.0\.100:80: now listed inline by VirtualService "web", left in place/,
    );
    const owners = await ledgerOwners();
    assert.equal(owners.length, 3);
    assert.ok(
      owners.every((o) => /^lvs-inline\/[^/]+\/web$/.test(o)),
      `the ledger's owners: ${owners.join(", ")}`,
    );
    await waitFor(
      "the request loop's end",
      async () => (await sh("client", "cat /tmp/handover.out")).includes("END"),
      60_000,
    );
    const lines = (await sh("client", "cat /tmp/handover.out")).split("\n").filter((l) => l && l !== "END");
    const counts: Record<string, number> = {};
    for (const l of lines) counts[l] = (counts[l] ?? 0) + 1;
    assert.ok(lines.length > 20, `the loop made only ${lines.length} requests`);
    assert.equal(counts.FAIL, undefined, `requests failed during the hand-over: ${JSON.stringify(counts)}`);
    assert.deepEqual(Object.keys(counts).sort(), ["rs1", "rs2", "rs3"]);
    await s.preview({ refresh: true, expectNoChanges: true });
  });

  it("a weight changed by hand, an entry deleted by hand and a stray show per entry in preview --refresh --diff; up repairs them", async () => {
    await sh(
      "director",
      `ipvsadm -e -t ${SERVICE} -r 10.0.0.12:80 -g -w 7; ipvsadm -d -t ${SERVICE} -r 10.0.0.13:80; ipvsadm -a -t ${SERVICE} -r 10.0.0.99:80 -g -w 1`,
    );
    const text = await s.previewDrift({ diff: true });
    // the refresh shows each entry by its key: the weight found (its packed text has no weight at the
    // default of 1, so the field shows as added), the entry gone, the stray
    assert.match(text, /~ 10\.0\.0\.12: \(json\) \{[^}]*\+ weight\s*: 7/, text);
    assert.match(text, /- 10\.0\.0\.13: /, text);
    assert.match(text, /~ strayRealServers: \[\s*\+ \[0\]: "10\.0\.0\.99:80"/, text);
    await s.up({ refresh: true });
    assert.deepEqual(await table(), { "10.0.0.11": 1, "10.0.0.12": 1, "10.0.0.13": 1 });
    await s.preview({ refresh: true, expectNoChanges: true });
  });

  it("an entry removed with a drain timeout keeps its open connection until it ends; new connections go elsewhere", async () => {
    const held = await longRequest("director", VIP, 10, "/tmp/inline-drain.out");
    const name = BACKENDS.find((h) => labAddress(h) === held)!;
    await s.setConfig(
      config(
        BACKENDS.filter((h) => h !== name),
        { drainTimeout: "30" },
      ),
    );
    const up = s.up();
    try {
      await waitFor(`${name} at weight 0`, async () => (await table())[held] === 0, 60_000);
      const during = await requests("client", `http://${VIP}/`, 6);
      assert.equal(during[name], undefined, `new connections went to ${name}: ${JSON.stringify(during)}`);
    } finally {
      await up.catch(() => undefined);
    }
    const { stdout } = await up;
    assert.match(
      stdout,
      new RegExp(`draining real server ${held.replace(/\./g, "\\.")}:80 of tcp/10\\.0\\.0\\.100:80`),
    );
    assert.match(
      await sh("client", "cat /tmp/inline-drain.out"),
      new RegExp(`200[\\s\\S]*\\n${name}\\n`),
      "the drained connection was cut",
    );
    assert.equal(held in (await table()), false);
    await s.setConfig(config(BACKENDS));
    await s.up();
  });

  it("engine keepalived: an inline real server whose HTTP server stops leaves the table, and comes back with it", async () => {
    await s.setConfig(config(BACKENDS, { engine: "keepalived" }));
    await s.up();
    await waitFor("3 real servers made by keepalived", async () => Object.keys(await table()).length === 3, 20_000);
    assert.match(await sh("director", "ls /etc/keepalived/conf.d/"), /pulumi-lvs-vs-tcp_10\.0\.0\.100_80\.conf/);
    await sh("rs2", "kill $(pidof httpd)");
    try {
      await waitFor("rs2 out of the table", async () => !("10.0.0.12" in (await table())), 20_000);
      assert.deepEqual(await requests("client", `http://${VIP}/`, 10), { rs1: 5, rs3: 5 });
      // a real server out because its check failed is no drift
      await s.preview({ refresh: true, expectNoChanges: true });
    } finally {
      await sh("rs2", "httpd -p 80 -h /var/www");
    }
    await waitFor("rs2 back in the table", async () => "10.0.0.12" in (await table()), 20_000);
  });

  it("destroy removes the service, its real servers and keepalived's files", async () => {
    await s.destroy();
    assert.deepEqual(await table(), {});
    assert.doesNotMatch(await sh("director", "ls /etc/keepalived/conf.d/ 2>/dev/null || true"), /pulumi-lvs/);
  });
});

// test/e2e/programs/inline-upgrade: a stack whose state holds inline real servers as objects (what
// the version before packed entries wrote) moves to the packed form with one update, and the
// director does not see it.
describe("inline real servers in a state written before they were packed", () => {
  const VIP_OLD_FORM = "10.0.0.120";
  let s: TestStack;
  const entries = () => ({
    [labAddress("rs1")]: {},
    [labAddress("rs2")]: { weight: 3 },
    [labAddress("rs3")]: { forwarding: "tun", tunnel: { type: "gre" } },
  });
  const config = (form: "objects" | "sdk") => ({
    director: { value: JSON.stringify(labConnection("director")) },
    privateKey: { value: labPrivateKey(), secret: true },
    vip: { value: VIP_OLD_FORM },
    entries: { value: JSON.stringify(entries()) },
    form: { value: form },
  });
  /** The service's inline real servers as the state holds them. */
  const stateEntries = (): Record<string, unknown> =>
    s.checkpoint().checkpoint.latest.resources.find((r: { type: string }) => r.type.endsWith(":VirtualService")).outputs
      .realServers;
  const director = async () => ({
    rules: await sh("director", "ipvsadm -S -n"),
    ledger: await sh("director", "cat /var/lib/pulumi-lvs/ipvs.rules"),
  });

  before(async () => {
    resetLab();
    s = await TestStack.create("inline-upgrade", { program: "test/e2e/programs/inline-upgrade" });
  });
  after(async () => {
    if (!process.env.PULUMI_LVS_KEEP_STACK) await s?.dispose();
  });

  it("a stack written with object entries (the previous version's state) is upgraded in place: the first up changes nothing on the director", async () => {
    await s.setConfig(config("objects"));
    await s.up();
    assert.deepEqual(
      stateEntries()[labAddress("rs2")],
      { forwarding: "dr", weight: 3, upperThreshold: 0, lowerThreshold: 0 },
      "the state before: objects",
    );
    const was = await director();
    assert.match(
      was.rules,
      new RegExp(
        `-a -t ${VIP_OLD_FORM.replace(/\./g, "\\.")}:80 -r ${labAddress("rs2").replace(/\./g, "\\.")}:80 -g -w 3`,
      ),
    );

    await s.setConfig(config("sdk"));
    const up = await s.up();
    assert.equal(up.summary.resourceChanges?.update, 1, "the state is rewritten");
    assert.deepEqual(await director(), was, "ipvsadm -S -n and the ledger are byte-identical");
    assert.deepEqual(stateEntries(), {
      [labAddress("rs1")]: "{}",
      [labAddress("rs2")]: '{"weight":3}',
      [labAddress("rs3")]: '{"forwarding":"tun","tunnel":{"checksum":"nocsum","type":"gre"}}',
    });
    assert.deepEqual(
      (up.outputs.realServers!.value as Record<string, unknown>)[labAddress("rs2")],
      { forwarding: "dr", weight: 3, upperThreshold: 0, lowerThreshold: 0 },
      "the program's output: objects",
    );
    await s.preview({ expectNoChanges: true });
    await s.preview({ refresh: true, expectNoChanges: true });
    assert.deepEqual(await director(), was);
  });
});
