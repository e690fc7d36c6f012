/** One round trip that reads what the host resources manage: sysctls, addresses, modules, files, IPVS timeouts. */
import type { IpvsTimeouts } from "../ipvs/client";
import { parseTimeoutsListing, READ_TIMEOUTS } from "../ipvs/ipvsadm/command";
import { sectionsScript, splitSections } from "../scripts/sections";
import { shellJoin } from "../transport/transport";
import type { InterfaceAddress } from "./addresses";
import {
  LIST_ADDRESSES,
  LIST_DEFAULT_ROUTE,
  LIST_LINKS,
  parseAddresses,
  parseDefaultInterface,
  parseLinks,
} from "./iproute";
import { parseFiles, readFilesScript } from "./persist";
import { NAT_TABLE } from "./return-path";
import { parseSysctls, readSysctlsScript, type Sysctl } from "./sysctl";

/** The mark of the probe's sections (doctor adds its own sections under it, in the same round trip). */
export const PROBE_MARK = "#pulumi-lvs:probe";

/** Listings of kernel objects a plan may add, one object a line (a kind with no such object prints nothing). */
const LISTINGS = {
  /** GUE and FOU receive ports (`port 6080 gue`). */
  fou: "ip fou show 2>/dev/null || true",
  /** IPv4 routing rules, tabs made spaces (`7100: from 10.0.0.11 sport 80 lookup 7100`). */
  rule: "ip -4 rule show | tr -s '\\t ' '  '",
  /** The routes of the NAT return path's table (host/return-path.ts). */
  route: `ip -4 route show table ${NAT_TABLE} 2>/dev/null || true`,
} as const;
export type ListingKind = keyof typeof LISTINGS;

/**
 * A kernel object a host plan adds beside its addresses and sysctls (a device up, a GUE receive
 * port, a rule): the commands that add and remove it. Its key (`<kind>: <name>`) stands in the
 * baseline, the journal and the state. A `link` is there when the device is up; any other kind
 * when its listing (LISTINGS) prints `name`.
 */
export interface HostObject {
  kind: "link" | ListingKind;
  name: string;
  add: string;
  remove: string;
}

export const objectKey = (o: Pick<HostObject, "kind" | "name">) => `${o.kind}: ${o.name}`;

/** Whether the host has the object, by the probe's facts. */
export function hasObject(facts: HostFacts, o: HostObject): boolean {
  return o.kind === "link" ? facts.links.get(o.name) === true : (facts.listings.get(o.kind)?.has(o.name) ?? false);
}

/** A device up (a tunnel's fallback device): `ip link set DEV up`, and down again on delete. */
export function linkUp(device: string): HostObject {
  return {
    kind: "link",
    name: device,
    add: shellJoin(["ip", "link", "set", device, "up"]),
    remove: `${shellJoin(["ip", "link", "set", device, "down"])} 2>/dev/null || true`,
  };
}

export interface ProbeRequest {
  sysctls: Sysctl[];
  files: string[];
  /** Also read `ipvsadm -L --timeout` (when ip_vs is loaded). */
  timeouts?: boolean;
  /** The listings to read. */
  listings?: ListingKind[];
}

export interface HostFacts {
  sysctls: Map<string, string | undefined>;
  addresses: InterfaceAddress[];
  /** Interfaces and whether they are up. */
  links: Map<string, boolean>;
  /** Loaded (or built-in) kernel modules. */
  modules: Set<string>;
  files: Map<string, string>;
  /** The interface of the IPv4 default route, if any. */
  defaultInterface?: string;
  /** The lines of each listing read. */
  listings: Map<ListingKind, Set<string>>;
  timeouts?: IpvsTimeouts;
}

/** The probe's sections, by name (reading only). */
export function probeSections(req: ProbeRequest): Array<[name: string, commands: string]> {
  return [
    ["sysctls", readSysctlsScript(req.sysctls)],
    ["addresses", LIST_ADDRESSES],
    ["links", LIST_LINKS],
    ["modules", "ls /sys/module"],
    ["route", LIST_DEFAULT_ROUTE],
    ["files", readFilesScript(req.files)],
    ["timeouts", req.timeouts ? `${READ_TIMEOUTS} 2>/dev/null || true` : ":"],
    ...(req.listings ?? []).map((k): [string, string] => [`listing ${k}`, LISTINGS[k]]),
  ];
}

export function probeScript(req: ProbeRequest): string {
  return `${sectionsScript(PROBE_MARK, probeSections(req))}\nexit 0`;
}

export function parseProbe(text: string): HostFacts {
  return hostFactsOf(splitSections(text, PROBE_MARK));
}

/** The facts in the probe's sections (split from output that may hold other sections too). */
export function hostFactsOf(sec: Record<string, string[]>): HostFacts {
  const facts: HostFacts = {
    sysctls: parseSysctls((sec.sysctls ?? []).join("\n")),
    addresses: parseAddresses((sec.addresses ?? []).join("\n")),
    links: parseLinks((sec.links ?? []).join("\n")),
    modules: new Set((sec.modules ?? []).map((s) => s.trim()).filter(Boolean)),
    files: parseFiles((sec.files ?? []).join("\n")),
    listings: new Map(
      (Object.keys(LISTINGS) as ListingKind[]).map((k) => [
        k,
        new Set((sec[`listing ${k}`] ?? []).map((l) => l.trim()).filter(Boolean)),
      ]),
    ),
  };
  const route = parseDefaultInterface((sec.route ?? []).join("\n"));
  if (route) facts.defaultInterface = route;
  const t = parseTimeoutsListing((sec.timeouts ?? []).join("\n"));
  if (t) facts.timeouts = t;
  return facts;
}
