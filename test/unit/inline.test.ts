import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import { realServerChange } from "../../provider/ipvs/change";
import { planRealServers } from "../../provider/ipvs/sync";
import { resetClaims } from "../../provider/resources/check";
import { realServer } from "../../provider/resources/real-server";
import { virtualService } from "../../provider/resources/virtual-service";
import { type FakeIpvs, useFakeIpvs } from "./fakes/ipvs";
import { conn } from "./fixtures";

// A VirtualService's inline real servers against an in-memory IPVS host: one resource, per-entry
// changes and drift, the check across the deployment, and the hand-over from separate RealServers.
let ipvs: FakeIpvs;
useFakeIpvs((fake) => {
  ipvs = fake;
});

const OWNER = "proj/dev/web";
const svcKey = { protocol: "tcp" as const, address: "10.0.0.100", port: 80 };
const vsNews = (realServers: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  connection: conn(),
  protocol: "tcp",
  address: "10.0.0.100",
  port: 80,
  scheduler: "rr",
  owner: OWNER,
  realServers,
  ...extra,
});
async function checked(news: Record<string, unknown>) {
  const r = await virtualService.check!({}, news);
  assert.deepEqual(r.failures, []);
  return r.inputs;
}
const failures = async (news: Record<string, unknown>) =>
  ((await virtualService.check!({}, news)).failures ?? []).map((f) => f.reason);
const rsCfg = (address: string, weight = 1) => ({
  address,
  port: 80,
  forwarding: "dr" as const,
  weight,
  upperThreshold: 0,
  lowerThreshold: 0,
});
/** The live real servers: `address:port weight`. */
const live = () =>
  (ipvs.table.services[0]?.realServers ?? [])
    .map((r) => `${r.config.address}:${r.config.port} ${r.config.weight}`)
    .sort();
const mutations = () => ipvs.calls.filter((c) => c !== "snapshot");

describe("inline real servers of a VirtualService", () => {
  it("create makes the service and every real server, each recorded as the service's", async () => {
    const r = await virtualService.create!(await checked(vsNews({ "10.0.0.11": {}, "10.0.0.12": { weight: 3 } })));
    assert.deepEqual(live(), ["10.0.0.11:80 1", "10.0.0.12:80 3"]);
    assert.deepEqual(
      ipvs.owned.services[0]!.realServers.map((x) => x.owner),
      [OWNER, OWNER],
    );
    assert.equal(r.outs.exclusive, true, "exclusive by default");
    assert.deepEqual(r.outs.realServers["10.0.0.12"], {
      forwarding: "dr",
      weight: 3,
      upperThreshold: 0,
      lowerThreshold: 0,
    });
  });

  it("create of a service it made reads nothing from the host; one it takes over is read first", async () => {
    await virtualService.create!(await checked(vsNews({ "10.0.0.11": {}, "10.0.0.12": {} })));
    assert.deepEqual(ipvs.calls, [
      "add tcp/10.0.0.100:80",
      "add tcp/10.0.0.100:80 10.0.0.11:80",
      "add tcp/10.0.0.100:80 10.0.0.12:80",
    ]);
    // made by hand before: adopted, its real servers brought to the declaration (a stray deleted)
    const key = { ...svcKey, port: 81 };
    ipvs.byHand({ key, scheduler: "rr", schedulerFlags: [], onePacket: false }, [
      rsCfg("10.0.0.11", 5),
      rsCfg("10.0.0.99"),
    ]);
    ipvs.calls = [];
    await virtualService.create!(
      await checked(vsNews({ "10.0.0.11": {}, "10.0.0.12": {} }, { port: 81, adopt: true })),
    );
    assert.ok(ipvs.calls.includes("snapshot"), ipvs.calls.join(", "));
    assert.deepEqual(ipvs.table.services[1]!.realServers.map((r) => `${r.config.address} ${r.config.weight}`).sort(), [
      "10.0.0.11 1",
      "10.0.0.12 1",
    ]);
  });

  it("update applies only the entries that changed (the service, unchanged, is left alone); a removed entry is deleted", async () => {
    const olds = (
      await virtualService.create!(await checked(vsNews({ "10.0.0.11": {}, "10.0.0.12": {}, "10.0.0.13": {} })))
    ).outs;
    ipvs.calls = [];
    const news = await checked(vsNews({ "10.0.0.11": {}, "10.0.0.12": { weight: 5 }, "10.0.0.14": {} }));
    await virtualService.update!("id", olds, news);
    assert.deepEqual(live(), ["10.0.0.11:80 1", "10.0.0.12:80 5", "10.0.0.14:80 1"]);
    assert.deepEqual(mutations().sort(), [
      "add tcp/10.0.0.100:80 10.0.0.14:80",
      "delete tcp/10.0.0.100:80 10.0.0.13:80",
      "edit tcp/10.0.0.100:80 10.0.0.12:80",
    ]);
    ipvs.calls = [];
    await virtualService.update!("id", news, { ...news, scheduler: "wrr" });
    assert.deepEqual(mutations(), ["edit tcp/10.0.0.100:80"], "a changed scheduler edits the service alone");
  });

  it("read shows drift per entry: a weight changed by hand, an entry deleted, a stray; up repairs them", async () => {
    const inputs = await checked(vsNews({ "10.0.0.11": {}, "10.0.0.12": {} }));
    const { id, outs } = await virtualService.create!(inputs);
    const svc = ipvs.table.services[0]!;
    svc.realServers[0]!.config.weight = 9;
    svc.realServers.splice(1, 1);
    ipvs.byHand(svc.config, [rsCfg("10.0.0.99")]);
    const r = await virtualService.read!(id, outs);
    assert.equal(r.props.realServers["10.0.0.11"].weight, 9);
    assert.equal(r.props.realServers["10.0.0.12"], undefined, "missing from the kernel: missing here");
    assert.deepEqual(r.props.strayRealServers, ["10.0.0.99:80"]);
    const d = await virtualService.diff!(id, r.props, inputs);
    assert.equal(d.changes, true);
    await virtualService.update!(id, r.props, inputs);
    assert.deepEqual(live(), ["10.0.0.11:80 1", "10.0.0.12:80 1"], "repaired, the stray removed");
    const again = await virtualService.read!(id, outs);
    assert.equal((await virtualService.diff!(id, again.props, inputs)).changes, false);
  });

  it("a service not exclusive leaves strays and reports them", async () => {
    const inputs = await checked(vsNews({ "10.0.0.11": {} }, { exclusive: false }));
    const { outs } = await virtualService.create!(inputs);
    ipvs.byHand(ipvs.table.services[0]!.config, [rsCfg("10.0.0.99")]);
    const r = await virtualService.update!("id", outs, inputs);
    assert.deepEqual(r.outs.strayRealServers, ["10.0.0.99:80"]);
    assert.deepEqual(live(), ["10.0.0.11:80 1", "10.0.0.99:80 1"]);
  });

  it("destroy of a service that is not exclusive, with a stray, removes its own entries and leaves the service to the stray", async () => {
    const { outs } = await virtualService.create!(await checked(vsNews({ "10.0.0.11": {} }, { exclusive: false })));
    ipvs.byHand(ipvs.table.services[0]!.config, [rsCfg("10.0.0.99")]);
    await virtualService.delete!("id", outs);
    assert.deepEqual(live(), ["10.0.0.99:80 1"]);
  });

  it("a keepalived service's exclusive normalizes to false, as state written before inline real servers has it", async () => {
    const inputs = await checked(vsNews({ "10.0.0.11": {} }, { engine: "keepalived" }));
    assert.equal(inputs.exclusive, false);
  });

  it("check names the entry and the reason: a bad key, a bad setting, a real server listed twice", async () => {
    assert.match(
      (await failures(vsNews({ "10.0.0.300": {} })))[0]!,
      /^realServers\["10\.0\.0\.300"\]: is not address\[:port\]/,
    );
    assert.match(
      (await failures(vsNews({ "10.0.0.11": { weight: 70000 } })))[0]!,
      /^realServers\["10\.0\.0\.11"\]\.weight: must be from 0 to 65535/,
    );
    assert.match(
      (await failures(vsNews({ "10.0.0.11:8080": {} })))[0]!,
      /^realServers\["10\.0\.0\.11:8080"\]: is 8080 but the virtual service listens on 80/,
    );
    assert.match(
      (await failures(vsNews({ "10.0.0.11": {}, "10.0.0.11:80": {} })))[0]!,
      /realServers\["10\.0\.0\.11:80"\]: is the same real server as "10\.0\.0\.11"/,
    );
    assert.match(
      (await failures(vsNews({ "10.0.0.11": { healthCheck: { type: "tcp" } } })))[0]!,
      /healthCheck: needs a virtual service with engine "keepalived"/,
    );
  });

  it("a RealServer of a service that lists its real servers inline fails at preview, whichever is checked first", async () => {
    const rs = {
      connection: conn(),
      service: { protocol: "tcp", address: "10.0.0.100", port: 80 },
      address: "10.0.0.15",
      owner: "proj/dev/extra",
    };
    await checked(vsNews({ "10.0.0.11": {} }));
    const r = await realServer.check!({}, rs);
    assert.match(r.failures?.[0]?.reason ?? "", /VirtualService "web" lists its real servers inline/);
    resetClaims();
    assert.deepEqual((await realServer.check!({}, rs)).failures, []);
    assert.match((await failures(vsNews({ "10.0.0.11": {} })))[0]!, /RealServer "extra" is a real server of it too/);
  });

  it("moving separate RealServers inline hands them over: edited to the service's owner, never deleted", async () => {
    const vs = await virtualService.create!(await checked(vsNews(undefined as never, { realServers: undefined })));
    const rsProps = [];
    for (const a of ["10.0.0.11", "10.0.0.12"]) {
      const inputs = (
        await realServer.check!(
          {},
          {
            connection: conn(),
            service: { protocol: "tcp", address: "10.0.0.100", port: 80 },
            address: a,
            owner: `proj/dev/rs-${a}`,
          },
        )
      ).inputs;
      rsProps.push((await realServer.create!(inputs)).outs);
    }
    resetClaims();
    // the next up: the service lists them inline; the RealServers are gone from the program
    const news = await checked(vsNews({ "10.0.0.11": {}, "10.0.0.12": {} }));
    ipvs.calls = [];
    await virtualService.update!(vs.id, vs.outs, news);
    for (const p of rsProps) await realServer.delete!("id", p);
    assert.deepEqual(live(), ["10.0.0.11:80 1", "10.0.0.12:80 1"]);
    assert.ok(!mutations().some((c) => c.startsWith("delete")), mutations().join("; "));
    assert.deepEqual(
      ipvs.owned.services[0]!.realServers.map((x) => x.owner),
      [OWNER, OWNER],
    );
  });

  it("a real server that another stack's ledger entry owns is refused, naming it", async () => {
    await virtualService.create!(await checked(vsNews({}, { exclusive: false })));
    await ipvs.apply(realServerChange("add", svcKey, rsCfg("10.0.0.11"), "proj/prod/rs"));
    const olds = await checked(vsNews({}, { exclusive: false }));
    await assert.rejects(
      virtualService.update!("id", olds, await checked(vsNews({ "10.0.0.11": {} }))),
      /belongs to "proj\/prod\/rs" \(another stack/,
    );
  });

  it("delete with a drain timeout sets every entry to weight 0 in one go before the service goes", async () => {
    const { outs } = await virtualService.create!(
      await checked(vsNews({ "10.0.0.11": {}, "10.0.0.12": {} }, { drainTimeout: 5 })),
    );
    ipvs.calls = [];
    await virtualService.delete!("id", outs);
    assert.deepEqual(mutations(), [
      "edit tcp/10.0.0.100:80 10.0.0.11:80",
      "edit tcp/10.0.0.100:80 10.0.0.12:80",
      "delete tcp/10.0.0.100:80",
    ]);
    assert.equal(ipvs.table.services.length, 0);
  });
});

describe("planRealServers", () => {
  it("adds the missing, edits the different and the unowned, removes its own leftovers, leaves others' alone", () => {
    const have = (a: string, w = 1) => ({ config: rsCfg(a, w) });
    const plan = planRealServers(
      svcKey,
      [rsCfg("10.0.0.1"), rsCfg("10.0.0.2", 2), rsCfg("10.0.0.3"), rsCfg("10.0.0.4")],
      {
        realServers: [
          have("10.0.0.2"),
          have("10.0.0.3"),
          have("10.0.0.4"),
          have("10.0.0.5"),
          have("10.0.0.6"),
          have("10.0.0.7"),
        ],
      },
      {
        realServers: [
          { ...have("10.0.0.2"), owner: "p/s/web" },
          { ...have("10.0.0.3"), owner: "p/s/web" },
          { ...have("10.0.0.5"), owner: "p/s/web" },
          { ...have("10.0.0.7"), owner: "p/s/other" },
        ],
      },
      "p/s/web",
    );
    assert.deepEqual(
      plan.apply.map((c) => `${c.kind} ${c.rs.address}`),
      ["add 10.0.0.1", "edit 10.0.0.2", "edit 10.0.0.4"],
    );
    assert.deepEqual(
      plan.remove.map((r) => r.address),
      ["10.0.0.5"],
    );
    assert.deepEqual(
      plan.strays.map((r) => r.address),
      ["10.0.0.6"],
    );
  });

  it("leaves a real server declared before but since adopted by another resource", () => {
    const plan = planRealServers(
      svcKey,
      [],
      { realServers: [{ config: rsCfg("10.0.0.1") }, { config: rsCfg("10.0.0.2") }] },
      { realServers: [{ config: rsCfg("10.0.0.1"), owner: "p/t/other" }] },
      "p/s/web",
      ["10.0.0.1:80", "10.0.0.2:80"],
    );
    assert.deepEqual(
      plan.remove.map((r) => r.address),
      ["10.0.0.2"],
    );
    assert.deepEqual(plan.strays, []);
  });
});
