/** fast-check arbitraries of IPVS objects, for the round-trip properties of both wire formats. */
import fc from "fast-check";
import {
  FORWARDING_METHODS,
  PROTOCOLS,
  type RealServerConfig,
  SCHEDULERS,
  type ServiceKey,
  TUNNEL_CHECKSUMS,
  type VirtualServiceConfig,
} from "../../provider/ipvs/types";
import { isIPv6 } from "../../provider/net/address";

export const ipv4 = fc
  .tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.integer({ min: 1, max: 254 }))
  .map((o) => o.join("."));
export const ipv6 = fc.ipV6().map((a) => new URL(`http://[${a}]/`).hostname.slice(1, -1));
export const port = fc.integer({ min: 1, max: 65535 });

export const serviceKey: fc.Arbitrary<ServiceKey> = fc.oneof(
  fc.record({ protocol: fc.constantFrom(...PROTOCOLS), address: fc.oneof(ipv4, ipv6), port }),
  fc.record({
    fwmark: fc.integer({ min: 1, max: 4294967295 }),
    family: fc.constantFrom("ipv4" as const, "ipv6" as const),
  }),
);

export const serviceConfig: fc.Arbitrary<VirtualServiceConfig> = serviceKey.chain((key) => {
  const v6 = "fwmark" in key ? key.family === "ipv6" : isIPv6(key.address);
  const netmask = v6
    ? fc.integer({ min: 1, max: 128 }).map(String)
    : fc.integer({ min: 1, max: 32 }).map((n) => {
        const m = n === 32 ? 0xffffffff : ~(0xffffffff >>> n) >>> 0;
        return [24, 16, 8, 0].map((s) => (m >>> s) & 255).join(".");
      });
  return fc
    .record({
      scheduler: fc.constantFrom(...SCHEDULERS),
      persistence: fc.option(fc.record({ timeout: fc.integer({ min: 1, max: 2147483 }), netmask }), { nil: undefined }),
      pe: fc.option(fc.constant("sip" as const), { nil: undefined }),
      onePacket: fc.boolean(),
      flagPick: fc.subarray([0, 1]),
    })
    .map(({ scheduler, persistence, pe, onePacket, flagPick }) => {
      const flags =
        scheduler === "sh" ? ["sh-fallback", "sh-port"] : scheduler === "mh" ? ["mh-fallback", "mh-port"] : [];
      const c: VirtualServiceConfig = {
        key,
        scheduler,
        schedulerFlags: flagPick
          .map((i) => flags[i]!)
          .filter(Boolean)
          .sort() as VirtualServiceConfig["schedulerFlags"],
        onePacket,
      };
      if (persistence) c.persistence = persistence;
      if (persistence && pe) c.pe = pe;
      return c;
    });
});

export const realServer = (v6: boolean, fwmark: boolean): fc.Arbitrary<RealServerConfig> =>
  fc
    .record({
      address: v6 ? ipv6 : ipv4,
      port: fwmark ? fc.integer({ min: 0, max: 65535 }) : port,
      forwarding: fc.constantFrom(...FORWARDING_METHODS),
      weight: fc.integer({ min: 0, max: 65535 }),
      upperThreshold: fc.integer({ min: 0, max: 2147483647 }),
      lowerThreshold: fc.integer({ min: 0, max: 2147483647 }),
      tunnel: fc.option(
        fc.oneof(
          fc.record({ type: fc.constant("gue" as const), port, checksum: fc.constantFrom(...TUNNEL_CHECKSUMS) }),
          fc.record({ type: fc.constant("gre" as const), checksum: fc.constantFrom(...TUNNEL_CHECKSUMS) }),
          fc.record({ type: fc.constant("gre" as const) }),
        ),
        { nil: undefined },
      ),
    })
    .map((r) => {
      const out: RealServerConfig = { ...r };
      if (r.forwarding !== "tun" || !r.tunnel) delete out.tunnel;
      return out;
    });

/**
 * An inline real server's settings as check normalizes them (every default present), with a health
 * check and inhibitOnFailure now and then (engine keepalived's).
 */
export const inlineEntry = fc
  .record({
    rs: realServer(false, false),
    healthCheck: fc.option(fc.record({ type: fc.constant("tcp" as const), port }), { nil: undefined }),
    inhibitOnFailure: fc.option(fc.boolean(), { nil: undefined }),
  })
  .map(({ rs: { address: _a, port: _p, ...settings }, ...rest }) => {
    const out: Record<string, unknown> = { ...settings };
    for (const [k, v] of Object.entries(rest)) if (v !== undefined) out[k] = v;
    // (plain objects, as state gives them: fast-check's records have no prototype)
    return JSON.parse(JSON.stringify(out)) as Record<string, unknown>;
  });
