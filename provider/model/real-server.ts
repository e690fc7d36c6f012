import { z } from "zod";
import {
  FAMILIES,
  FORWARDING_METHODS,
  PROTOCOLS,
  type RealServerConfig,
  type ServiceKey,
  TUNNEL_CHECKSUMS,
  TUNNEL_TYPES,
} from "../ipvs/types";
import { isIPv6 } from "../net/address";
import { adopt, connection, owner } from "./connection";
import { REAL_SERVER_DEFAULTS } from "./inline-pack";
import { drainTimeout, ENGINES, healthCheck } from "./keepalived";
import { ipAddress, port } from "./net";

/** The virtual service a real server belongs to, by its kernel key. */
export const serviceRef = z.union(
  [
    z.strictObject({
      protocol: z.enum(PROTOCOLS),
      address: ipAddress,
      port,
      engine: z.enum(ENGINES).optional(),
    }),
    z.strictObject({
      fwmark: z.number().int().min(1).max(4294967295),
      family: z.enum(FAMILIES).default("ipv4"),
      engine: z.enum(ENGINES).optional(),
    }),
  ],
  { error: "must name a virtual service: {protocol, address, port} or {fwmark, family}" },
);

/** ipvsadm accepts thresholds up to INT_MAX. */
export const MAX_THRESHOLD = 2147483647;
const threshold = (what: string) =>
  z
    .number({ error: `must be ${what} (an integer from 0 to ${MAX_THRESHOLD})` })
    .int({ error: "must be an integer" })
    .min(0, { error: "must not be negative" })
    .max(MAX_THRESHOLD, { error: `must be at most ${MAX_THRESHOLD}` });

/** What a real server is, apart from its director and service. */
const realServerFields = z.strictObject({
  connection,
  service: serviceRef,
  address: ipAddress,
  port: port.optional(),
  forwarding: z
    .enum(FORWARDING_METHODS, {
      error: `must be one of ${FORWARDING_METHODS.join(", ")} (masquerading, direct routing, tunnelling)`,
    })
    .default(REAL_SERVER_DEFAULTS.forwarding),
  weight: z
    .number({ error: "must be an integer from 0 to 65535" })
    .int({ error: "must be an integer from 0 to 65535" })
    .min(0, { error: "must be from 0 to 65535 (0 quiesces the real server)" })
    .max(65535, { error: "must be from 0 to 65535" })
    .default(REAL_SERVER_DEFAULTS.weight),
  upperThreshold: threshold("a connection count").default(REAL_SERVER_DEFAULTS.upperThreshold),
  lowerThreshold: threshold("a connection count").default(REAL_SERVER_DEFAULTS.lowerThreshold),
  tunnel: z
    .strictObject({
      type: z.enum(TUNNEL_TYPES, { error: `must be one of ${TUNNEL_TYPES.join(", ")}` }).default("ipip"),
      port: port.optional(),
      checksum: z.enum(TUNNEL_CHECKSUMS, { error: `must be one of ${TUNNEL_CHECKSUMS.join(", ")}` }).optional(),
    })
    .optional(),
  adopt: adopt,
  owner: owner.optional(),
  healthCheck: healthCheck.optional(),
  inhibitOnFailure: z.boolean({ error: "must be a boolean" }).optional(),
  drainTimeout: drainTimeout.optional(),
});

/** The settings of one real server, as a virtual service lists it inline (its key gives address and port). */
export const inlineRealServer = realServerFields.pick({
  forwarding: true,
  weight: true,
  upperThreshold: true,
  lowerThreshold: true,
  tunnel: true,
  healthCheck: true,
  inhibitOnFailure: true,
});
export type InlineRealServer = z.infer<typeof inlineRealServer>;

/** A real server as its rules see it: its settings, with its service, address and port. */
export type RealServerOfService = InlineRealServer & {
  service: z.infer<typeof serviceRef>;
  address: string;
  port?: number;
  adopt?: boolean | "exact";
};

/**
 * What is wrong with a real server in its service, as [path, reason] pairs: the rules a separate
 * RealServer and an inline one share (the engine's checks, the family, the port, the tunnel, the
 * thresholds).
 */
export function realServerIssues(v: RealServerOfService): Array<[(string | number)[], string]> {
  const out: Array<[(string | number)[], string]> = [];
  const issue = (path: (string | number)[], message: string) => out.push([path, message]);
  if (v.service.engine !== "keepalived") {
    if (v.healthCheck !== undefined)
      issue(["healthCheck"], 'needs a virtual service with engine "keepalived" (keepalived runs the checks)');
    if (v.inhibitOnFailure !== undefined)
      issue(["inhibitOnFailure"], 'needs a virtual service with engine "keepalived" (keepalived runs the checks)');
  } else if (v.adopt) {
    issue(["adopt"], "does not apply with engine keepalived: keepalived makes the real server from its file");
  }
  const svcPort = "port" in v.service ? v.service.port : undefined;
  const svcV6 = "fwmark" in v.service ? v.service.family === "ipv6" : isIPv6(v.service.address);
  if (svcV6 !== isIPv6(v.address) && v.forwarding !== "tun") {
    issue(
      ["address"],
      `is ${isIPv6(v.address) ? "IPv6" : "IPv4"} but the virtual service is ${svcV6 ? "IPv6" : "IPv4"}; only tun real servers may be of the other family`,
    );
  }
  if (v.forwarding !== "nat" && v.port !== undefined && svcPort !== undefined && v.port !== svcPort) {
    issue(
      ["port"],
      `is ${v.port} but the virtual service listens on ${svcPort}: ${v.forwarding === "dr" ? "direct routing" : "tunnelling"} cannot remap ports (the real server sees the packet as the client sent it). Use forwarding "nat", or set port to ${svcPort} or leave it out`,
    );
  }
  if (v.tunnel !== undefined && v.forwarding !== "tun")
    issue(["tunnel"], `is only for forwarding "tun", not "${v.forwarding}"`);
  if (v.tunnel) {
    if (v.tunnel.type === "gue" && v.tunnel.port === undefined)
      issue(["tunnel", "port"], "is required for a gue tunnel (the UDP port of the real server's GUE receiver)");
    if (v.tunnel.type !== "gue" && v.tunnel.port !== undefined)
      issue(["tunnel", "port"], `is only for gue tunnels, not ${v.tunnel.type}`);
    if (v.tunnel.type === "ipip" && v.tunnel.checksum !== undefined)
      issue(["tunnel", "checksum"], "is only for gue and gre tunnels");
  }
  if (v.upperThreshold > 0 && v.lowerThreshold > v.upperThreshold) {
    issue(["lowerThreshold"], `(${v.lowerThreshold}) must not exceed upperThreshold (${v.upperThreshold})`);
  }
  if (v.upperThreshold === 0 && v.lowerThreshold > 0) {
    issue(
      ["lowerThreshold"],
      "needs upperThreshold: the lower threshold only re-enables a server that hit its upper threshold",
    );
  }
  return out;
}

export const realServerInputs = realServerFields.superRefine((v, ctx) => {
  for (const [path, message] of realServerIssues(v)) ctx.addIssue({ code: "custom", path, message });
});

export type RealServerInputs = z.infer<typeof realServerInputs>;

export function serviceKeyOfRef(s: RealServerInputs["service"]): ServiceKey {
  return "fwmark" in s
    ? { fwmark: s.fwmark, family: s.family }
    : { protocol: s.protocol, address: s.address, port: s.port };
}

/** A real server's settings as the kernel has them (`live`): what a read reports. */
export function withLiveSettings<T extends InlineRealServer>(declared: T, live: RealServerConfig): T {
  const out: T = {
    ...declared,
    forwarding: live.forwarding,
    weight: live.weight,
    upperThreshold: live.upperThreshold,
    lowerThreshold: live.lowerThreshold,
  };
  if (live.tunnel) out.tunnel = { ...live.tunnel };
  else delete out.tunnel;
  return out;
}

export function realServerConfigOf(v: RealServerOfService): RealServerConfig {
  const svcPort = "port" in v.service ? v.service.port : 0;
  const c: RealServerConfig = {
    address: v.address,
    port: v.port ?? svcPort,
    forwarding: v.forwarding,
    weight: v.weight,
    upperThreshold: v.upperThreshold,
    lowerThreshold: v.lowerThreshold,
  };
  if (v.forwarding === "tun" && v.tunnel && v.tunnel.type !== "ipip") {
    c.tunnel = { type: v.tunnel.type };
    if (v.tunnel.port !== undefined) c.tunnel.port = v.tunnel.port;
    // the kernel's default, which it reads back as such (ipvsadm -S prints --tun-nocsum)
    c.tunnel.checksum = v.tunnel.checksum ?? "nocsum";
  }
  return c;
}

/** A valid RealServer as stored in state: its port decided (the service's by default), its tunnel as the kernel reads it back. */
export function normalizeRealServer(v: RealServerInputs): RealServerInputs {
  const cfg = realServerConfigOf(v);
  const out: RealServerInputs = { ...v, port: cfg.port };
  if (cfg.tunnel) out.tunnel = { ...cfg.tunnel };
  else delete out.tunnel;
  return out;
}

/** What `check` parses a RealServer's inputs with: validated, defaults applied, normalized. */
export const checkedRealServer = realServerInputs.transform(normalizeRealServer);
