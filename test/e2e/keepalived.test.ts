import * as assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { labAddress, labConnection, labPrivateKey, requests, resetLab, sh } from "./harness/lab";
import { TestStack } from "./harness/stack";
import { longRequest, table, waitFor } from "./harness/traffic";

// The other health checks (TCP, script), inhibit and the sorry server of the keepalived engine, and
// the graceful drain of the ipvsadm engine, on director2 (its keepalived started by pulumi-lvs).
const CHECKED = "10.0.0.101:80";
const DRAINED = "10.0.0.102";

describe("keepalived engine checks, sorry server, and the ipvsadm engine's drain", () => {
  let s: TestStack;
  const services = (drained: string[]) => [
    {
      name: "checked",
      engine: "keepalived",
      protocol: "tcp",
      address: "10.0.0.101",
      port: 80,
      scheduler: "rr",
      sorryServer: { address: labAddress("rs3") },
      realServers: [
        {
          name: "c-rs1",
          address: labAddress("rs1"),
          forwarding: "dr",
          healthCheck: { type: "tcp", interval: 1, timeout: 1, retries: 0 },
          inhibitOnFailure: true,
        },
        {
          name: "c-rs2",
          address: labAddress("rs2"),
          forwarding: "dr",
          healthCheck: { type: "script", command: "/bin/ls /run/rs2-up", interval: 1, timeout: 1 },
        },
      ],
    },
    {
      name: "drained",
      protocol: "tcp",
      address: DRAINED,
      port: 80,
      scheduler: "rr",
      realServers: drained.map((h) => ({ name: `d-${h}`, address: labAddress(h), forwarding: "dr", drainTimeout: 60 })),
    },
  ];
  const config = (drained: string[]) =>
    Object.fromEntries(
      Object.entries({
        director: labConnection("director2"),
        directorHost: { vips: [{ address: DRAINED, interface: "eth0" }], ipvsSysctls: { expire_nodest_conn: 1 } },
        hosts: { rs1: labConnection("rs1"), rs2: labConnection("rs2") },
        realServerHosts: ["rs1", "rs2"].map((h) => ({ name: `h-${h}`, host: h, mode: "dr", vips: [DRAINED] })),
        services: services(drained),
      }).map(([k, v]) => [k, { value: JSON.stringify(v) }]),
    );

  before(async () => {
    resetLab();
    s = await TestStack.create("keepalived", { program: "test/e2e/programs/ipvs" });
    await s.stack.setAllConfig({
      privateKey: { value: labPrivateKey(), secret: true },
      ...config(["rs1", "rs2"]),
    });
  });
  after(async () => {
    await s?.dispose();
  });

  it("TCP and script checks: inhibit keeps a failed real server at weight 0, the sorry server takes over when none is up", async () => {
    await sh("director2", "touch /run/rs2-up");
    await s.up();
    const up = { "10.0.0.11": 1, "10.0.0.12": 1 };
    await waitFor(
      "both checked real servers in the table",
      async () => sameTable(await table("director2", CHECKED), up),
      15_000,
    );
    await sh("rs1", "kill $(pidof httpd)");
    await waitFor(
      "rs1 inhibited (weight 0, still listed)",
      async () => (await table("director2", CHECKED))["10.0.0.11"] === 0,
      15_000,
    );
    await sh("director2", "rm /run/rs2-up");
    // rs2 removed; no real server up: keepalived puts in the sorry server
    await waitFor(
      "the sorry server in, rs2 out",
      async () => sameTable(await table("director2", CHECKED), { "10.0.0.11": 0, "10.0.0.13": 1 }),
      15_000,
    );
    // check verdicts are not drift
    await s.preview({ refresh: true, expectNoChanges: true });
    await sh("rs1", "httpd -p 80 -h /var/www");
    await sh("director2", "touch /run/rs2-up");
    await waitFor(
      "both back, the sorry server out",
      async () => sameTable(await table("director2", CHECKED), up),
      15_000,
    );
  });

  it("ipvsadm engine drain: weight 0 at once, the open request finishes, then the real server goes", async () => {
    const held = await longRequest("director2", DRAINED, 15, "/tmp/drain.out");
    const name = ["rs1", "rs2"].find((h) => labAddress(h) === held)!;
    const other = name === "rs1" ? "rs2" : "rs1";
    await s.stack.setAllConfig(config([other]));
    const t0 = Date.now();
    const up = s.up();
    // the up goes on even if a check below fails: wait for it, so that the stack is not left locked
    try {
      await waitFor(`${name} at weight 0`, async () => (await table("director2", `${DRAINED}:80`))[held] === 0, 60_000);
      assert.deepEqual(await requests("client", `http://${DRAINED}/`, 6), { [other]: 6 });
    } finally {
      await up.catch(() => undefined);
    }
    await up;
    const seconds = (Date.now() - t0) / 1000;
    console.log(`[keepalived] the drain's up took ${seconds.toFixed(1)} s (the request was held 15 s)`);
    assert.match(
      await sh("client", "cat /tmp/drain.out"),
      new RegExp(`200[\\s\\S]*\\n${name}\\n`),
      "the drained request was cut",
    );
    assert.deepEqual(Object.keys(await table("director2", `${DRAINED}:80`)), [labAddress(other)]);
    await s.preview({ refresh: true, expectNoChanges: true });
  });

  it("destroy leaves no keepalived file and no rule", async () => {
    await s.destroy();
    // every .conf goes, and pulumi-lvs's own folder (its state scripts) with the last one
    assert.equal((await sh("director2", "find /etc/keepalived -name '*.conf' ! -name keepalived.conf")).trim(), "");
    assert.equal((await sh("director2", "ls -d /etc/keepalived/pulumi-lvs 2>/dev/null || true")).trim(), "");
    await waitFor("no rules", async () => (await sh("director2", "ipvsadm -S -n")).trim() === "", 10_000);
  });
});

function sameTable(a: Record<string, number>, b: Record<string, number>): boolean {
  return JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
}
