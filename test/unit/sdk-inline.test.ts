import * as assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { VirtualService } from "../../sdk/virtual-service";
import { conn } from "./fixtures";

// The SDK's side of the packed inline real servers, through Pulumi's mocks (state = the inputs), as
// at preview.
const sent: Record<string, unknown>[] = [];
before(() =>
  pulumi.runtime.setMocks(
    {
      newResource: (a) => {
        sent.push(a.inputs);
        return { id: `${a.name}-id`, state: a.inputs };
      },
      call: (a) => a.inputs,
    },
    "proj",
    "dev",
    true,
  ),
);

/** A value not known until an up (as an output of a resource not made yet, at preview). */
const unknown = <T>(): pulumi.Output<T> =>
  new (pulumi.Output as any)(
    new Set(),
    Promise.resolve(undefined),
    Promise.resolve(false),
    Promise.resolve(false),
    Promise.resolve(new Set()),
  );
const resolved = <T>(o: pulumi.Output<T>): Promise<T> => new Promise((resolve) => o.apply(resolve));

describe("the SDK's inline real servers", () => {
  it("are sent packed, one string per entry, and given back to the program as objects", async () => {
    const vs = new VirtualService("web", {
      connection: conn(),
      protocol: "tcp",
      address: "10.0.0.100",
      port: 80,
      realServers: {
        "10.0.0.11": {},
        "10.0.0.12": { weight: pulumi.output(3) },
        "10.0.0.13": pulumi.output({ forwarding: "tun" as const, tunnel: { type: "gre" as const } }),
      },
    });
    assert.deepEqual(await resolved(vs.realServers), {
      "10.0.0.11": { forwarding: "dr", weight: 1, upperThreshold: 0, lowerThreshold: 0 },
      "10.0.0.12": { forwarding: "dr", weight: 3, upperThreshold: 0, lowerThreshold: 0 },
      "10.0.0.13": { forwarding: "tun", weight: 1, upperThreshold: 0, lowerThreshold: 0, tunnel: { type: "gre" } },
    });
    const inputs = sent.find((i) => i.address === "10.0.0.100");
    assert.deepEqual(inputs?.realServers, {
      "10.0.0.11": "{}",
      "10.0.0.12": '{"weight":3}',
      "10.0.0.13": '{"forwarding":"tun","tunnel":{"type":"gre"}}',
    });
  });

  it("a table given as an Output is packed whole when it resolves", async () => {
    const vs = new VirtualService("api", {
      connection: conn(),
      protocol: "tcp",
      address: "10.0.0.101",
      port: 80,
      realServers: pulumi.output({ "10.0.0.21": { weight: 2 } }),
    });
    assert.deepEqual(await resolved(vs.realServers), {
      "10.0.0.21": { forwarding: "dr", weight: 2, upperThreshold: 0, lowerThreshold: 0 },
    });
    assert.deepEqual(sent.find((i) => i.address === "10.0.0.101")?.realServers, { "10.0.0.21": '{"weight":2}' });
  });

  it("an entry that depends on an unknown value is unknown alone at preview", async () => {
    const vs = new VirtualService("preview", {
      connection: conn(),
      protocol: "tcp",
      address: "10.0.0.102",
      port: 80,
      realServers: { "10.0.0.31": { weight: 2 }, "10.0.0.32": { weight: unknown<number>() } },
    });
    await resolved(vs.urn);
    const entries = sent.find((i) => i.address === "10.0.0.102")?.realServers as Record<string, unknown>;
    assert.equal(entries["10.0.0.31"], '{"weight":2}', "known, packed");
    assert.equal((entries["10.0.0.32"] as { __pulumiUnknown?: boolean }).__pulumiUnknown, true, "unknown");
  });
});
