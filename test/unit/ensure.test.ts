import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Change, realServerChange, serviceChange } from "../../provider/ipvs/change";
import { IpvsAlreadyExistsError, IpvsNotFoundError } from "../../provider/ipvs/client";
import { ensure } from "../../provider/ipvs/ensure";
import { FakeIpvs } from "./fakes/ipvs";
import { realServerFixture, serviceFixture } from "./fixtures";

// ensure against the in-memory host: each way with the object there, missing, and changed again
// between the first attempt and the fallback (another process racing this one).
const svc = serviceFixture();
const rs = (weight = 1) => realServerFixture("10.0.0.11", { weight });
const OWNER = "p/s/web";
const mutations = (ipvs: FakeIpvs) => ipvs.calls.filter((c) => c !== "snapshot");
const liveWeight = (ipvs: FakeIpvs) => ipvs.table.services[0]?.realServers[0]?.config.weight;
const ownerOf = (ipvs: FakeIpvs) => ipvs.owned.services[0]?.realServers[0]?.owner;

/** What ensure returned for `change` on `ipvs`, the mutations it made, and the real server's weight and owner after. */
async function ensured(ipvs: FakeIpvs, change: Change) {
  const returned = await ensure(ipvs, change);
  return { returned, mutations: mutations(ipvs), weight: liveWeight(ipvs), owner: ownerOf(ipvs) };
}
/** The outcome {@link ensured} expects: the real server left with `weight`, owned by OWNER. */
const outcome = (returned: boolean, mutations: string[], weight: number) => ({
  returned,
  mutations,
  weight,
  owner: OWNER,
});
const ADD = "add tcp/10.0.0.100:80 10.0.0.11:80";
const EDIT = "edit tcp/10.0.0.100:80 10.0.0.11:80";

/** A host with the service, and the real server when `withRs`. */
function host(withRs: boolean): FakeIpvs {
  const ipvs = new FakeIpvs();
  ipvs.byHand(svc, withRs ? [rs(1)] : []);
  return ipvs;
}

/** A host whose next `apply` of `kind` first makes the real server disappear or appear (a race). */
function racing(ipvs: FakeIpvs, kind: Change["kind"], race: () => void): FakeIpvs {
  const apply = ipvs.apply.bind(ipvs);
  ipvs.apply = async (c: Change) => {
    if (c.kind === kind) race();
    return apply(c);
  };
  return ipvs;
}

describe("ensure brings an IPVS object to the state whatever is there", () => {
  // the two ways that fall back, each with the real server missing and there
  const fallbacks = [
    {
      name: "add-or-edit adds a missing real server, and edits one that exists, recording the owner either way",
      change: realServerChange("add", svc.key, rs(3), OWNER),
      missing: outcome(true, [ADD], 3),
      there: outcome(false, [ADD, EDIT], 3),
    },
    {
      name: "edit-or-add edits a real server that exists, and puts back one deleted out of band",
      change: realServerChange("edit", svc.key, rs(4), OWNER),
      missing: outcome(false, [EDIT, ADD], 4),
      there: outcome(true, [EDIT], 4),
    },
  ];
  for (const { name, change, missing, there } of fallbacks)
    it(name, async () => {
      assert.deepEqual(await ensured(host(false), change), missing);
      assert.deepEqual(await ensured(host(true), change), there);
    });

  it("add-or-edit asks before it edits what it found, and stops when told to", async () => {
    const there = host(true);
    const refusal = await ensure(there, realServerChange("add", svc.key, rs(3), OWNER), {
      beforeFallback: (e) => {
        assert.ok(e instanceof IpvsAlreadyExistsError);
        throw new Error("not yours");
      },
    }).catch((e: Error) => e.message);
    assert.equal(refusal, "not yours");
    assert.equal(liveWeight(there), 1, "left as it was");
  });

  it("delete-if-present deletes what is there and takes a missing object as done", async () => {
    const there = host(true);
    assert.equal(await ensure(there, realServerChange("delete", svc.key, rs())), true);
    assert.equal(liveWeight(there), undefined);
    const missing = host(false);
    assert.equal(await ensure(missing, serviceChange("delete", { ...svc.key, port: 81 })), false);
    assert.equal(missing.table.services.length, 1, "nothing else touched");
  });

  it("edit-if-present sets what is there and adds nothing when it is gone", async () => {
    const there = host(true);
    assert.equal(await ensure(there, realServerChange("edit", svc.key, rs(0)), { how: "edit-if-present" }), true);
    assert.equal(liveWeight(there), 0);
    const missing = host(false);
    assert.equal(await ensure(missing, realServerChange("edit", svc.key, rs(0)), { how: "edit-if-present" }), false);
    assert.deepEqual(mutations(missing), [EDIT]);
  });

  it("a repair leaves the ledger alone and takes an object already so as done", async () => {
    const missing = host(false);
    assert.equal(await ensure(missing, realServerChange("add", svc.key, rs(2)), { how: "repair" }), true);
    assert.equal(liveWeight(missing), 2);
    assert.deepEqual(missing.owned.services, [], "not recorded");
    assert.equal(await ensure(missing, realServerChange("add", svc.key, rs(2)), { how: "repair" }), false);
    assert.equal(await ensure(missing, serviceChange("delete", { ...svc.key, port: 81 }), { how: "repair" }), false);
  });

  it("a fallback refused because the object changed again meanwhile fails with that refusal", async () => {
    // add found it; it was deleted before the edit
    const gone = racing(host(true), "edit", () => {
      gone.table.services[0]!.realServers = [];
    });
    await assert.rejects(ensure(gone, realServerChange("add", svc.key, rs(3), OWNER)), IpvsNotFoundError);
    // edit missed it; it was made before the add
    const made = racing(host(false), "add", () => {
      made.table.services[0]!.realServers = [{ config: rs(1) }];
    });
    await assert.rejects(ensure(made, realServerChange("edit", svc.key, rs(3), OWNER)), IpvsAlreadyExistsError);
  });

  it("other errors are not taken for a refusal: an unreachable host fails at once", async () => {
    const down = host(true);
    down.unreachable = true;
    await assert.rejects(ensure(down, realServerChange("delete", svc.key, rs())), { name: "TransportError" });
    assert.equal(mutations(down).length, 1, "no fallback tried");
  });
});
