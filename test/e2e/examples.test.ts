import * as assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { lab, labConnection, labPrivateKey, requests, resetLab, sh } from "./harness/lab";
import { savedRules } from "./harness/setup";
import { TestStack } from "./harness/stack";

// The examples are end-to-end fixtures: each runs against the lab with the config a user would set.
describe("examples/quickstart", () => {
  let s: TestStack;
  let rs1Before = "";
  before(async () => {
    resetLab();
    rs1Before = await sh("rs1", "cat /proc/sys/net/ipv4/conf/all/arp_ignore; ip -o addr show dev lo");
    s = await TestStack.create("quickstart", { program: "examples/quickstart" });
    const addr = (h: string) => lab().hosts[h]!.addresses.eth0![0]!.split("/")[0]!;
    await s.stack.setAllConfig({
      director: { value: JSON.stringify(labConnection("director")) },
      privateKey: { value: labPrivateKey(), secret: true },
      realServers: {
        value: JSON.stringify(["rs1", "rs2", "rs3"].map((h) => ({ address: addr(h), ssh: labConnection(h) }))),
      },
    });
  });
  after(async () => {
    await s?.dispose();
  });

  it("deploys a working LVS-DR load balancer with no hand setup", async () => {
    const r = await s.up();
    assert.equal(r.summary.resourceChanges?.create, 9);
    assert.deepEqual(await requests("client", "http://10.0.0.100/", 30), { rs1: 10, rs2: 10, rs3: 10 });
    await s.preview({ refresh: true, expectNoChanges: true });
  });

  it("destroy removes it and restores the hosts", async () => {
    await s.destroy();
    assert.deepEqual(await savedRules(), []);
    assert.equal(await sh("rs1", "cat /proc/sys/net/ipv4/conf/all/arp_ignore; ip -o addr show dev lo"), rs1Before);
  });
});
