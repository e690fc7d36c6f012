import * as assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import fc from "fast-check";
import { packInlineEntry, REAL_SERVER_DEFAULTS, unpackInlineEntry } from "../../provider/model/inline-pack";
import { UNKNOWN } from "../../provider/model/unknown";
import { resetClaims } from "../../provider/resources/check";
import { setIpvsClientFactory } from "../../provider/resources/clients";
import { virtualService } from "../../provider/resources/virtual-service";
import { inlineEntry } from "./arbitraries";
import { FakeIpvs } from "./fakes/ipvs";
import { conn } from "./fixtures";

// Inline real servers travel packed, one canonical JSON string per entry; the provider accepts the
// object form of states written before, and moves them to the packed form without touching the host.
let ipvs: FakeIpvs;
beforeEach(() => {
  ipvs = new FakeIpvs();
  setIpvsClientFactory(() => ipvs);
  resetClaims();
});
afterEach(() => setIpvsClientFactory(undefined));

type Props = Record<string, any>;
const vsNews = (realServers: Record<string, unknown>, extra: Record<string, unknown> = {}): Props => ({
  connection: conn(),
  protocol: "tcp",
  address: "10.0.0.100",
  port: 80,
  scheduler: "rr",
  owner: "proj/dev/web",
  realServers,
  ...extra,
});
/** A table as the SDK sends it: each entry packed. */
const packedTable = (t: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(t).map(([k, v]) => [k, packInlineEntry(v)]));
async function checked(news: Props): Promise<Props> {
  const r = await virtualService.check!({}, news);
  assert.deepEqual(r.failures ?? [], []);
  return r.inputs;
}
const mutations = () => ipvs.calls.filter((c) => c !== "snapshot");

describe("packing an inline real server", () => {
  it("unpacks to the entry it packed, and packs that back to the same text", () => {
    fc.assert(
      fc.property(inlineEntry, (e) => {
        const text = packInlineEntry(e);
        assert.deepEqual(unpackInlineEntry(text), e);
        assert.equal(packInlineEntry(unpackInlineEntry(text)), text);
      }),
    );
  });

  it("leaves out every setting at its default: an entry of defaults packs to {}", () => {
    assert.equal(packInlineEntry({ ...REAL_SERVER_DEFAULTS }), "{}");
    assert.equal(
      packInlineEntry({ ...REAL_SERVER_DEFAULTS, weight: 3, inhibitOnFailure: false }),
      '{"inhibitOnFailure":false,"weight":3}',
    );
    assert.equal(packInlineEntry({ weight: 0, upperThreshold: undefined }), '{"weight":0}');
    assert.deepEqual(unpackInlineEntry("{}"), REAL_SERVER_DEFAULTS);
  });

  it("spells one entry one way, whatever the order of its keys (sorted, at every depth)", () => {
    fc.assert(
      fc.property(inlineEntry, fc.func(fc.integer()), (e, rank) => {
        const shuffled = (o: Record<string, unknown>) =>
          Object.fromEntries(Object.entries(o).sort(([a], [b]) => rank(a) - rank(b) || (a < b ? -1 : 1)));
        const t = e.tunnel as Record<string, unknown> | undefined;
        const other = shuffled(t ? { ...e, tunnel: shuffled(t) } : e);
        assert.equal(packInlineEntry(other), packInlineEntry(e));
      }),
    );
    assert.equal(
      packInlineEntry({ weight: 2, tunnel: { type: "gue", port: 6080, checksum: "csum" }, forwarding: "tun" }),
      '{"forwarding":"tun","tunnel":{"checksum":"csum","port":6080,"type":"gue"},"weight":2}',
    );
  });

  it("unpacks an object as it is (the form before packing), and leaves a text that is not an object for check", () => {
    const old = { ...REAL_SERVER_DEFAULTS, weight: 4 };
    assert.equal(unpackInlineEntry(old), old);
    assert.equal(unpackInlineEntry("not json"), "not json");
    assert.equal(unpackInlineEntry("7"), 7);
  });
});

describe("a VirtualService's packed inline real servers", () => {
  it("check returns each entry packed canonically, normalized as before (defaults and the kernel's tunnel)", async () => {
    const inputs = await checked(
      vsNews(
        packedTable({
          "10.0.0.11": { weight: 1 },
          "10.0.0.12": { forwarding: "tun", tunnel: { type: "gre" } },
          "10.0.0.13": { forwarding: "dr", tunnel: undefined, weight: 3 },
        }),
      ),
    );
    assert.deepEqual(inputs.realServers, {
      "10.0.0.11": "{}",
      "10.0.0.12": '{"forwarding":"tun","tunnel":{"checksum":"nocsum","type":"gre"}}',
      "10.0.0.13": '{"weight":3}',
    });
  });

  it("check keeps a table of objects (a program without the SDK, the state before) as objects", async () => {
    const inputs = await checked(vsNews({ "10.0.0.11": { weight: 2 } }));
    assert.deepEqual(inputs.realServers, { "10.0.0.11": { ...REAL_SERVER_DEFAULTS, weight: 2 } });
  });

  it("check names a bad setting inside a packed entry by its key", async () => {
    const r = await virtualService.check!({}, vsNews(packedTable({ "10.0.0.11": { weight: -1 } })));
    assert.match(r.failures?.[0]?.reason ?? "", /realServers\["10\.0\.0\.11"\]\.weight: must be from 0 to 65535/);
    const notJson = await virtualService.check!({}, vsNews({ "10.0.0.11": "{weight" }));
    assert.match(notJson.failures?.[0]?.reason ?? "", /realServers\["10\.0\.0\.11"\]/);
  });

  it("an entry unknown at preview stays unknown; the others are checked and packed canonically", async () => {
    const news = vsNews({
      ...packedTable({ "10.0.0.11": { weight: 1 }, "10.0.0.12": { weight: 2 } }),
      "10.0.0.13": UNKNOWN,
    });
    const inputs = await checked(news);
    assert.deepEqual(inputs.realServers, { "10.0.0.11": "{}", "10.0.0.12": '{"weight":2}', "10.0.0.13": UNKNOWN });
    assert.equal(inputs.exclusive, true, "the rest of the inputs normalized");
    const bad = await virtualService.check!(
      {},
      { ...news, realServers: { ...news.realServers, "10.0.0.12": '{"weight":"x"}' } },
    );
    assert.match(bad.failures?.[0]?.reason ?? "", /realServers\["10\.0\.0\.12"\]\.weight/);
    assert.equal(bad.inputs.realServers["10.0.0.13"], UNKNOWN);
  });

  it("create, read and update give their outputs packed; read shows an entry changed by hand", async () => {
    const inputs = await checked(vsNews(packedTable({ "10.0.0.11": {}, "10.0.0.12": { weight: 3 } })));
    const { id, outs } = await virtualService.create!(inputs);
    assert.deepEqual(outs.realServers, { "10.0.0.11": "{}", "10.0.0.12": '{"weight":3}' });
    ipvs.table.services[0]!.realServers[0]!.config.weight = 9;
    const r = await virtualService.read!(id, outs);
    assert.deepEqual(r.props?.realServers, { "10.0.0.11": '{"weight":9}', "10.0.0.12": '{"weight":3}' });
    const u = await virtualService.update!(id, r.props, inputs);
    assert.deepEqual(u.outs.realServers, outs.realServers);
    assert.equal(ipvs.table.services[0]!.realServers[0]!.config.weight, 1, "repaired");
  });

  it("diff reports an entry's change as before: a change in place, no replacement, no per-field keys", async () => {
    const olds = (await virtualService.create!(await checked(vsNews(packedTable({ "10.0.0.11": {} }))))).outs;
    resetClaims();
    const same = await checked(vsNews(packedTable({ "10.0.0.11": { weight: 1 } })));
    assert.equal((await virtualService.diff!("id", olds, same)).changes, false);
    const news = await checked(vsNews(packedTable({ "10.0.0.11": { weight: 2 } })));
    assert.deepEqual(await virtualService.diff!("id", olds, news), {
      changes: true,
      replaces: [],
      deleteBeforeReplace: false,
    });
    const moved = await checked(vsNews(packedTable({ "10.0.0.11": {} }), { address: "10.0.0.101" }));
    assert.deepEqual((await virtualService.diff!("id", olds, moved)).replaces, ["address"]);
  });

  it("a state of object entries (the version before) moves to the packed form in one update that changes nothing on the director", async () => {
    const table = { "10.0.0.11": {}, "10.0.0.12": { weight: 3 }, "[fd00::1]:80": { forwarding: "tun" as const } };
    const olds = (await virtualService.create!(await checked(vsNews(table, { address: "10.0.0.100" })))).outs;
    assert.equal(typeof olds.realServers["10.0.0.12"], "object", "the state before: objects");
    resetClaims();
    const news = await checked(vsNews(packedTable(table)));
    const d = await virtualService.diff!("id", olds, news);
    assert.deepEqual(d, { changes: true, replaces: [], deleteBeforeReplace: false }, "changed: the state is rewritten");
    const kernel = structuredClone(ipvs.table);
    const ledger = structuredClone(ipvs.owned);
    ipvs.calls = [];
    const { outs } = await virtualService.update!("id", olds, news);
    assert.deepEqual(mutations(), [], "no change reaches the director");
    assert.deepEqual(ipvs.table, kernel);
    assert.deepEqual(ipvs.owned, ledger, "no ledger record");
    assert.deepEqual(outs.realServers, {
      "10.0.0.11": "{}",
      "10.0.0.12": '{"weight":3}',
      "[fd00::1]:80": '{"forwarding":"tun"}',
    });
    assert.equal((await virtualService.diff!("id", outs, news)).changes, false, "then no change");
  });
});
