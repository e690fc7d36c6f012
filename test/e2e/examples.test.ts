import * as assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { labAddress, labConnection, labPrivateKey, requests, resetLab, sh } from "./harness/lab";
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
    await s.stack.setAllConfig({
      director: { value: JSON.stringify(labConnection("director")) },
      privateKey: { value: labPrivateKey(), secret: true },
      realServers: {
        value: JSON.stringify(["rs1", "rs2", "rs3"].map((h) => ({ address: labAddress(h), ssh: labConnection(h) }))),
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

const backend = (h: string) => ({ address: labAddress(h), ssh: labConnection(h) });

async function exampleStack(name: string, config: Record<string, unknown>): Promise<TestStack> {
  const s = await TestStack.create(name, { program: `examples/${name}` });
  await s.stack.setAllConfig({
    director: { value: JSON.stringify(labConnection("director")) },
    privateKey: { value: labPrivateKey(), secret: true },
    ...Object.fromEntries(Object.entries(config).map(([k, v]) => [k, { value: JSON.stringify(v) }])),
  });
  return s;
}

describe("examples/dr (LoadBalancer component, direct routing)", () => {
  let s: TestStack;
  before(async () => {
    resetLab();
    s = await exampleStack("dr", { backends: ["rs1", "rs2", "rs3"].map(backend) });
  });
  after(async () => {
    await s?.dispose();
  });
  it("balances real traffic and is clean on refresh", async () => {
    const r = await s.up();
    // the stack, the component, the director, 3 hosts, 1 service, 3 real servers
    assert.equal(r.summary.resourceChanges?.create, 10);
    assert.deepEqual(await requests("client", "http://10.0.0.100/", 30), { rs1: 10, rs2: 10, rs3: 10 });
    await s.preview({ refresh: true, expectNoChanges: true });
  });
});

describe("examples/tun (LoadBalancer component, tunnelling across networks)", () => {
  let s: TestStack;
  before(async () => {
    resetLab();
    s = await exampleStack("tun", { backends: ["rs4", "rs1"].map(backend) });
  });
  after(async () => {
    await s?.dispose();
  });
  it("balances real traffic to a real server on the routed segment", async () => {
    await s.up();
    assert.deepEqual(await requests("client", "http://10.0.0.100/", 20), { rs1: 10, rs4: 10 });
    await s.preview({ refresh: true, expectNoChanges: true });
  });
});

describe("examples/nat (LoadBalancer component, masquerading with a port remap)", () => {
  let s: TestStack;
  before(async () => {
    resetLab();
    // network setup outside pulumi-lvs: the real servers route through the director
    await Promise.all(["rs1", "rs2", "rs3"].map((h) => sh(h, "ip route replace default via 10.0.0.2")));
    s = await exampleStack("nat", {
      backends: ["rs1", "rs2", "rs3"].map((h) => ({ address: labAddress(h), port: 80 })),
    });
  });
  after(async () => {
    await s?.dispose();
  });
  it("forwards and balances traffic from the routed client", async () => {
    await s.up();
    assert.equal((await sh("director", "cat /proc/sys/net/ipv4/ip_forward")).trim(), "1");
    assert.deepEqual(await requests("extclient", "http://10.0.0.100:8080/", 30), { rs1: 10, rs2: 10, rs3: 10 });
    await s.preview({ refresh: true, expectNoChanges: true });
  });
});
