/**
 * Taking over, as it is, what the kernel already has (`adopt: "exact"`, what `pulumi-lvs import`
 * writes): the live objects are compared with the declaration, field by field; when every field
 * matches, the objects are recorded in the ledger and the kernel is not touched at all, not even
 * by an edit to the same values (an `ipvsadm -e` resets a weighted round robin's position). When
 * anything differs, nothing is changed and the error names each difference.
 */
import { realServerChange, serviceChange } from "./change";
import type { IpvsClient } from "./client";
import {
  findRealServer,
  findService,
  type RealServerConfig,
  realServerKeyText,
  type ServiceEntry,
  type ServiceKey,
  serviceKeyText,
  type VirtualServiceConfig,
} from "./types";

/** How each compared field reads, in ipvsadm's words; absent: not set. */
const SERVICE_FIELDS: Record<string, (c: VirtualServiceConfig) => string | undefined> = {
  scheduler: (c) => c.scheduler,
  "scheduler flags": (c) => (c.schedulerFlags.length > 0 ? c.schedulerFlags.join(",") : undefined),
  "persistence timeout": (c) => (c.persistence ? `${c.persistence.timeout} s` : undefined),
  "persistence netmask": (c) => c.persistence?.netmask,
  "persistence engine": (c) => c.pe,
  "one-packet scheduling": (c) => (c.onePacket ? "on" : undefined),
};

const REAL_SERVER_FIELDS: Record<string, (r: RealServerConfig) => string | undefined> = {
  forwarding: (r) => r.forwarding,
  weight: (r) => String(r.weight),
  "upper threshold": (r) => (r.upperThreshold ? String(r.upperThreshold) : undefined),
  "lower threshold": (r) => (r.lowerThreshold ? String(r.lowerThreshold) : undefined),
  tunnel: (r) => (r.tunnel ? [r.tunnel.type, r.tunnel.port, r.tunnel.checksum].filter(Boolean).join(" ") : undefined),
};

const shown = (x: string | undefined) => x ?? "none";

function fieldDifferences<T>(
  fields: Record<string, (x: T) => string | undefined>,
  live: T,
  want: T,
  prefix = "",
): string[] {
  return Object.entries(fields).flatMap(([name, read]) => {
    const [l, w] = [read(live), read(want)];
    return l === w ? [] : [`${prefix}${name}: the kernel has ${shown(l)}, the program declares ${shown(w)}`];
  });
}

/**
 * What differs between one real server in the kernel and its declaration (none: the same).
 * @param live the kernel's (undefined: missing)
 */
export function realServerDifferences(live: RealServerConfig | undefined, want: RealServerConfig): string[] {
  const name = `real server ${realServerKeyText(want)}`;
  if (!live) return [`${name}: not in the kernel`];
  return fieldDifferences(REAL_SERVER_FIELDS, live, want, `${name}: `);
}

/**
 * What differs between a service in the kernel and its declaration: its settings, and, when the
 * declaration lists its real servers (`realServers`, all of them), each real server missing,
 * different, or in the kernel and not declared (here or, `declaredElsewhere`, by another resource).
 */
export function serviceDifferences(
  live: ServiceEntry | undefined,
  want: VirtualServiceConfig,
  realServers?: readonly RealServerConfig[],
  declaredElsewhere: (r: RealServerConfig) => boolean = () => false,
): string[] {
  if (!live) return ["the service is not in the kernel"];
  const out = fieldDifferences(SERVICE_FIELDS, live.config, want);
  if (!realServers) return out;
  for (const r of realServers) out.push(...realServerDifferences(findRealServer(live, r), r));
  const declared = new Set(realServers.map(realServerKeyText));
  for (const r of live.realServers)
    if (!declared.has(realServerKeyText(r.config)) && !declaredElsewhere(r.config))
      out.push(`real server ${realServerKeyText(r.config)}: in the kernel, not declared`);
  return out;
}

/** The error of a take-over that found differences: each named, and nothing changed. */
export class TakeOverError extends Error {
  constructor(
    readonly host: string,
    readonly subject: string,
    readonly differences: readonly string[],
  ) {
    super(
      `on ${host}: adopt: "exact": ${subject} is not as the program declares it, so it was not taken over and nothing was changed:\n` +
        `${differences.map((d) => `  - ${d}`).join("\n")}\n` +
        "What to do: make the program declare what the host has (or run pulumi-lvs import again), or set adopt: true to take it over and converge it to the program",
    );
    this.name = "TakeOverError";
  }
}

/**
 * Takes over a service as the kernel has it: compared with `want` (and its real servers, when
 * listed), then recorded with `owner` in the ledger, the kernel untouched.
 * @throws TakeOverError naming each difference (the service missing, too), nothing changed
 */
export async function takeOverService(
  ipvs: IpvsClient,
  want: VirtualServiceConfig,
  owner: string | undefined,
  realServers?: readonly RealServerConfig[],
  declaredElsewhere?: (r: RealServerConfig) => boolean,
): Promise<void> {
  const live = findService((await ipvs.snapshot()).table, want.key);
  const subject = `virtual service ${serviceKeyText(want.key)}`;
  const diffs = serviceDifferences(live, want, realServers, declaredElsewhere);
  if (diffs.length > 0) throw new TakeOverError(ipvs.host, subject, diffs);
  await ipvs.record([
    serviceChange("add", want, owner),
    ...(realServers ?? []).map((r) => realServerChange("add", want.key, r, owner)),
  ]);
}

/**
 * Takes over one real server as the kernel has it: compared with `want`, then recorded.
 * @throws TakeOverError naming each difference (the service or the real server missing, too)
 */
export async function takeOverRealServer(
  ipvs: IpvsClient,
  service: ServiceKey,
  want: RealServerConfig,
  owner: string | undefined,
): Promise<void> {
  const live = findService((await ipvs.snapshot()).table, service);
  const subject = `real server ${realServerKeyText(want)} of ${serviceKeyText(service)}`;
  const diffs = live
    ? realServerDifferences(findRealServer(live, want), want)
    : [`virtual service ${serviceKeyText(service)}: not in the kernel`];
  if (diffs.length > 0) throw new TakeOverError(ipvs.host, subject, diffs);
  await ipvs.record([realServerChange("add", service, want, owner)]);
}
