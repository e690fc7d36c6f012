import { z } from "zod";
import {
  FAMILIES,
  orderedFlags,
  PROTOCOLS,
  type RealServerConfig,
  SCHEDULER_FLAGS,
  SCHEDULERS,
  type ServiceKey,
  schedulerOfFlag,
  type VirtualServiceConfig,
} from "../ipvs/types";
import {
  AddressError,
  addressFamily,
  fullHostNetmask,
  ipv4MaskProblem,
  isIPv6,
  maxPrefix,
  parseHostPort,
} from "../net/address";
import { adopt, connection, owner } from "./connection";
import { drainTimeout, ENGINES, sorryServer } from "./keepalived";
import { ipAddress, port } from "./net";
import {
  type InlineRealServer,
  inlineRealServer,
  realServerConfigOf,
  realServerIssues,
  type serviceRef,
} from "./real-server";

/** Persistence timeout bounds, in seconds (the kernel stores timeout × HZ in 32 bits). */
export const MAX_PERSISTENCE_TIMEOUT = 2_147_483;

const persistence = z.strictObject({
  timeout: z
    .number({ error: "must be a number of seconds" })
    .int({ error: "must be a whole number of seconds" })
    .min(1, { error: `must be from 1 to ${MAX_PERSISTENCE_TIMEOUT} seconds` })
    .max(MAX_PERSISTENCE_TIMEOUT, { error: `must be from 1 to ${MAX_PERSISTENCE_TIMEOUT} seconds` })
    .default(300),
  netmask: z
    .union([z.string(), z.number()], { error: "must be a dotted IPv4 mask or an IPv6 prefix length" })
    .optional(),
});

export const virtualServiceInputs = z
  .strictObject({
    connection,
    protocol: z.enum(PROTOCOLS, { error: `must be one of ${PROTOCOLS.join(", ")}` }).optional(),
    address: ipAddress.optional(),
    port: port.optional(),
    fwmark: z
      .number({ error: "must be a firewall mark (an integer from 1 to 4294967295)" })
      .int({ error: "must be an integer from 1 to 4294967295" })
      .min(1, { error: "must be from 1 to 4294967295" })
      .max(4294967295, { error: "must be from 1 to 4294967295" })
      .optional(),
    family: z.enum(FAMILIES, { error: `must be one of ${FAMILIES.join(", ")}` }).optional(),
    scheduler: z
      .enum(SCHEDULERS, {
        error: (i) => `"${String(i.input)}" is not a kernel scheduler; use one of ${SCHEDULERS.join(", ")}`,
      })
      .default("wlc"),
    schedulerFlags: z
      .array(
        z.enum(SCHEDULER_FLAGS, {
          error: (i) => `"${String(i.input)}" is not a scheduler flag; use ${SCHEDULER_FLAGS.join(", ")}`,
        }),
      )
      .default([]),
    persistence: persistence.optional(),
    pe: z.literal("sip", { error: 'must be "sip" (the only persistence engine)' }).optional(),
    onePacket: z.boolean({ error: "must be a boolean" }).default(false),
    /** Default: true with inline real servers, else false (normalized by the resource). */
    exclusive: z.boolean({ error: "must be a boolean" }).optional(),
    adopt: adopt,
    owner: owner.optional(),
    engine: z.enum(ENGINES, { error: `must be one of ${ENGINES.join(", ")}` }).optional(),
    sorryServer: sorryServer.optional(),
    realServers: z
      .record(z.string(), inlineRealServer, { error: "must be a map of address[:port] to settings" })
      .optional(),
    drainTimeout: drainTimeout.optional(),
  })
  .superRefine((v, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: "custom", path: [path], message });
    if (v.engine === "keepalived") {
      if (v.exclusive) issue("exclusive", "does not apply with engine keepalived: keepalived owns all of the service");
      if (v.adopt === true)
        issue(
          "adopt",
          "with engine keepalived takes only \"exact\" (the site's own virtual_server block moves into pulumi-lvs's files when it is already as declared)",
        );
      if (v.pe !== undefined) issue("pe", "is not supported with engine keepalived");
    } else if (v.sorryServer !== undefined) {
      issue(
        "sorryServer",
        'needs engine "keepalived" (keepalived switches to the sorry server when no real server is up)',
      );
    }
    if (v.fwmark !== undefined) {
      for (const f of ["protocol", "address", "port"] as const) {
        if (v[f] !== undefined)
          issue(f, "must not be set with fwmark: a fwmark service is named by its mark (and family) alone");
      }
    } else {
      if (v.protocol === undefined) issue("protocol", "is required (tcp, udp or sctp), unless fwmark is set");
      if (v.address === undefined) issue("address", "is required (the virtual IP), unless fwmark is set");
      if (v.port === undefined) issue("port", "is required, unless fwmark is set");
      if (v.family !== undefined) {
        const actual = addressFamily(v.address ?? "");
        if (v.address !== undefined && v.family !== actual)
          issue("family", `is ${v.family} but address ${v.address} is ${actual}`);
      }
    }
    for (const f of v.schedulerFlags) {
      if (schedulerOfFlag(f) !== v.scheduler) {
        issue("schedulerFlags", `flag ${f} needs scheduler ${schedulerOfFlag(f)}, not ${v.scheduler}`);
      }
    }
    if (new Set(v.schedulerFlags).size !== v.schedulerFlags.length) issue("schedulerFlags", "lists a flag twice");
    const ipv6 = v.fwmark !== undefined ? v.family === "ipv6" : isIPv6(v.address ?? "");
    if (v.persistence?.netmask !== undefined) {
      const err = checkNetmask(v.persistence.netmask, ipv6);
      if (err) ctx.addIssue({ code: "custom", path: ["persistence", "netmask"], message: err });
    }
    if (v.pe !== undefined && v.persistence === undefined)
      issue("pe", "needs persistence: a persistence engine only works on a persistent service");
    for (const [path, message] of inlineIssues(v)) ctx.addIssue({ code: "custom", path, message });
    if (v.onePacket && v.protocol !== undefined && v.protocol !== "udp") {
      issue(
        "onePacket",
        `one-packet scheduling is for UDP services (or fwmark services that match UDP), not ${v.protocol}`,
      );
    }
  });

export type VirtualServiceInputs = z.infer<typeof virtualServiceInputs>;

/** An inline real server's key, `address[:port]` (IPv6 with a port in brackets: `[fd00::11]:80`). */
export function parseRealServerKey(key: string): { address: string; port?: number } | string {
  try {
    const k = parseHostPort(key);
    if (k.port === 0) return "is not address[:port]: port 0 is not from 1 to 65535";
    return k;
  } catch (e) {
    if (!(e instanceof AddressError)) throw e;
    if (e.part === "port") return `is not address[:port]: port ${e.text} is not from 1 to 65535`;
    return `is not address[:port]: "${e.text}" is not an IPv4 or IPv6 address (write an IPv6 address with a port as [fd00::11]:80)`;
  }
}

/** The reference a real server of this service carries (its kernel key and engine). */
export function serviceRefOf(v: VirtualServiceInputs): z.infer<typeof serviceRef> {
  const key = serviceKeyOf(v);
  return { ...key, engine: v.engine } as z.infer<typeof serviceRef>;
}

/** One inline real server, resolved: its key in the map, and the real server it declares. */
export interface InlineEntry {
  key: string;
  rs: InlineRealServer & { service: z.infer<typeof serviceRef>; address: string; port?: number };
}

/** The inline real servers of a service, resolved (keys that do not parse are left out: check reports them). */
export function inlineEntries(v: VirtualServiceInputs): InlineEntry[] {
  const service = serviceRefOf(v);
  const out: InlineEntry[] = [];
  for (const [key, settings] of Object.entries(v.realServers ?? {})) {
    const k = parseRealServerKey(key);
    if (typeof k !== "string") out.push({ key, rs: { ...settings, service, ...k } });
  }
  return out;
}

/** What is wrong with the inline real servers: a key, the rules of a real server, a real server twice. */
function inlineIssues(v: VirtualServiceInputs): Array<[(string | number)[], string]> {
  const out: Array<[(string | number)[], string]> = [];
  if (v.realServers === undefined || (v.fwmark === undefined && (!v.address || !v.port || !v.protocol))) return out;
  const seen = new Map<string, string>();
  for (const key of Object.keys(v.realServers)) {
    const k = parseRealServerKey(key);
    if (typeof k === "string") out.push([["realServers", key], k]);
  }
  for (const { key, rs } of inlineEntries(v)) {
    for (const [path, message] of realServerIssues(rs)) {
      const at = path[0] === "address" || path[0] === "port" ? [] : path;
      out.push([["realServers", key, ...at], message]);
    }
    const id = `${rs.address} ${rs.port ?? v.port ?? 0}`;
    const first = seen.get(id);
    if (first !== undefined) out.push([["realServers", key], `is the same real server as "${first}": list each once`]);
    seen.set(id, key);
  }
  return out;
}

function checkNetmask(m: string | number, ipv6: boolean): string | undefined {
  if (ipv6) {
    const n = typeof m === "number" ? m : /^\d+$/.test(m) ? Number(m) : Number.NaN;
    if (!Number.isInteger(n) || n < 1 || n > maxPrefix("ipv6"))
      return `must be a prefix length from 1 to ${maxPrefix("ipv6")} for an IPv6 service, got ${JSON.stringify(m)}`;
    return undefined;
  }
  const problem = typeof m === "string" ? ipv4MaskProblem(m) : "not dotted";
  if (problem === "not dotted")
    return `must be a dotted mask such as 255.255.255.0 for an IPv4 service, got ${JSON.stringify(m)}`;
  if (problem === "not a mask") return `${m} is not a valid mask`;
  if (problem === "not contiguous") return `${m} is not a contiguous mask (such as 255.255.255.0)`;
  return undefined;
}

/** The normalized netmask text for the kernel: dotted for IPv4, a prefix length for IPv6. */
export function normalizedNetmask(m: string | number | undefined, ipv6: boolean): string {
  if (m === undefined) return fullHostNetmask(ipv6 ? "ipv6" : "ipv4");
  return String(m);
}

export function serviceKeyOf(v: VirtualServiceInputs): ServiceKey {
  if (v.fwmark !== undefined) return { fwmark: v.fwmark, family: v.family ?? "ipv4" };
  return { protocol: v.protocol!, address: v.address!, port: v.port! };
}

export function serviceConfigOf(v: VirtualServiceInputs): VirtualServiceConfig {
  const key = serviceKeyOf(v);
  const ipv6 = "fwmark" in key ? key.family === "ipv6" : isIPv6(key.address);
  const c: VirtualServiceConfig = {
    key,
    scheduler: v.scheduler,
    schedulerFlags: orderedFlags(v.schedulerFlags),
    onePacket: v.onePacket,
  };
  if (v.persistence)
    c.persistence = { timeout: v.persistence.timeout, netmask: normalizedNetmask(v.persistence.netmask, ipv6) };
  if (v.pe) c.pe = v.pe;
  return c;
}

/** Exclusive: as set, else true for a service with inline real servers (the ipvsadm engine's). */
export const exclusiveOf = (v: VirtualServiceInputs): boolean =>
  v.exclusive ?? (v.realServers !== undefined && v.engine !== "keepalived");

/** An inline real server's settings, normalized as a RealServer's (its tunnel as the kernel reads it back). */
function normalizedEntry(e: InlineEntry, cfg: RealServerConfig): InlineRealServer {
  const { service: _s, address: _a, port: _p, ...settings } = e.rs;
  const out: InlineRealServer = { ...settings };
  if (cfg.tunnel) out.tunnel = { ...cfg.tunnel };
  else delete out.tunnel;
  return out;
}

/**
 * A valid VirtualService as stored in state: scheduler flags in the kernel's order, persistence
 * with its netmask, a fwmark service's family, `exclusive` decided, inline real servers normalized
 * as RealServers are. The service's configuration is computed once.
 */
export function normalizeVirtualService(v: VirtualServiceInputs): VirtualServiceInputs {
  const cfg = serviceConfigOf(v);
  const out: VirtualServiceInputs = { ...v, schedulerFlags: cfg.schedulerFlags };
  if (cfg.persistence) out.persistence = { timeout: cfg.persistence.timeout, netmask: cfg.persistence.netmask };
  if (v.fwmark !== undefined) out.family = v.family ?? "ipv4";
  out.exclusive = exclusiveOf(v);
  if (v.realServers !== undefined)
    out.realServers = Object.fromEntries(
      inlineEntries(v).map((e) => [e.key, normalizedEntry(e, realServerConfigOf(e.rs))]),
    );
  return out;
}

/** What `check` parses a VirtualService's inputs with: validated, defaults applied, normalized. */
export const checkedVirtualService = virtualServiceInputs.transform(normalizeVirtualService);

/** The declared inline real servers, as the kernel takes them (none: not inline). */
export const inlineConfigs = (v: VirtualServiceInputs | undefined): RealServerConfig[] =>
  v?.realServers === undefined ? [] : inlineEntries(v).map((e) => realServerConfigOf(e.rs));
