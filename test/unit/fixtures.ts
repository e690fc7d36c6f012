import * as assert from "node:assert/strict";
import type * as pulumi from "@pulumi/pulumi";
import type { RealServerConfig, VirtualServiceConfig } from "../../provider/ipvs/types";

/** Shared test inputs (unit tests). */
export const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJYs9ozCiZotAfCOtay5OuoME3lnEc7nvgcXgXekjm6f";
export const PRIVATE_KEY =
  "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";

export function conn(extra: Record<string, unknown> = {}) {
  return { host: "127.0.0.1", port: 2201, user: "root", privateKey: PRIVATE_KEY, hostKey: HOST_KEY, ...extra };
}

/** A virtual service's configuration: tcp/10.0.0.100:80, round robin, unless `extra` says otherwise. */
export function serviceFixture(extra: Partial<VirtualServiceConfig> = {}): VirtualServiceConfig {
  return {
    key: { protocol: "tcp", address: "10.0.0.100", port: 80 },
    scheduler: "rr",
    schedulerFlags: [],
    onePacket: false,
    ...extra,
  };
}

/** A real server's configuration: port 80, direct routing, weight 1, no thresholds, unless `extra` says otherwise. */
export function realServerFixture(address: string, extra: Partial<RealServerConfig> = {}): RealServerConfig {
  return { address, port: 80, forwarding: "dr", weight: 1, upperThreshold: 0, lowerThreshold: 0, ...extra };
}

/** A resource's inputs as its provider's check makes them (asserting it accepts them). */
export async function checked(p: pulumi.dynamic.ResourceProvider, news: Record<string, unknown>) {
  const r = await p.check!({}, news);
  assert.deepEqual(r.failures, []);
  return r.inputs;
}
