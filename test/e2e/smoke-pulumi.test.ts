import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { TestStack } from "./harness/stack";

// Smoke test: the real pulumi CLI drives a trivial dynamic resource of this package,
// installed from an `npm pack` tarball.
describe("smoke: the real pulumi CLI runs a packaged dynamic resource", () => {
  let s: TestStack;
  before(async () => {
    s = await TestStack.create("smoke", { program: "test/e2e/programs/noop", config: { count: { value: "3" } } });
  });
  after(async () => {
    await s?.dispose();
  });

  it("uses the pinned CLI version", () => {
    const pinned = require("../../../package.json").devDependencies["@pulumi/pulumi"];
    const v = execFileSync("pulumi", ["version"], { encoding: "utf8" }).trim();
    assert.equal(v, `v${pinned}`);
  });

  it("up creates the resources and exports their outputs", async () => {
    const r = await s.up();
    assert.equal(r.summary.result, "succeeded");
    assert.equal(r.summary.resourceChanges?.create, 4); // 3 Noop + the stack
    assert.deepEqual(r.outputs.values.value, ["hello-0", "hello-1", "hello-2"]);
  });

  it("the state holds the shim, not the implementation", () => {
    const state = JSON.parse(s.stateFileText());
    const res = state.checkpoint.latest.resources.find((x: any) => x.type === "pulumi-nodejs:dynamic/lvs:Noop");
    assert.ok(res, "a Noop resource is in the state");
    const provider: string = res.inputs.__provider;
    assert.match(provider, /require\("pulumi-lvs\/provider"\)/);
    assert.ok(provider.length < 4000, `__provider is small (${provider.length} chars)`);
  });

  it("preview --refresh --expect-no-changes passes after up", async () => {
    const r = await s.preview({ refresh: true, expectNoChanges: true });
    assert.equal(r.changeSummary.same, 4);
  });

  it("a config change is an update, and preview shows it", async () => {
    await s.stack.setConfig("value", { value: "bye" });
    await assert.rejects(s.preview({ expectNoChanges: true }), /no changes were expected/i);
    const r = await s.up();
    assert.equal(r.summary.resourceChanges?.update, 3);
    assert.deepEqual(r.outputs.values.value, ["bye-0", "bye-1", "bye-2"]);
  });

  it("destroy removes everything", async () => {
    const r = await s.destroy();
    assert.equal(r.summary.resourceChanges?.delete, 4);
  });
});
