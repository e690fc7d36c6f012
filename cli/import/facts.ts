/**
 * What `pulumi-lvs import` reads of a host, in one read-only round trip: the provider's own probe
 * (provider/host/probe.ts: sysctls, addresses, links, modules, the default route, the IPVS
 * timeouts, the routing rules and the NAT return path's table, GUE ports) and the import's additions
 * (provider/scripts/import-facts.sh: every net.ipv4.vs.* and per-interface ARP sysctl, the IPVS
 * table, keepalived and its files), under one mark. Pure, but for the script's text: the output is
 * parsed with the provider's own parsers.
 */
import { hostFactsOf, PROBE_MARK, type HostFacts as ProbeFacts, probeSections } from "../../provider/host/probe";
import { plainSysctl } from "../../provider/host/sysctl";
import { mergeThresholds, parseThresholds } from "../../provider/ipvs/ipvsadm/thresholds";
import { parseRules } from "../../provider/ipvs/rules/parse";
import type { IpvsTable } from "../../provider/ipvs/types";
import { canonicalAddress } from "../../provider/net/address";
import { hostScript } from "../../provider/scripts";
import { sectionsScript, splitSections } from "../../provider/scripts/sections";

/** The forwarding sysctls; the rest (net.ipv4.vs.*, ARP, rp_filter) import-facts.sh lists from /proc/sys. */
export const IP_FORWARD = "net.ipv4.ip_forward";
export const IPV6_FORWARD = "net.ipv6.conf.all.forwarding";

/** keepalived's configuration file when its command line names none (keepalived --help). */
export const KEEPALIVED_DEFAULT_CONF = "/etc/keepalived/keepalived.conf";

/** The one round trip of the import, for any host (director or real server): reading only. */
export function importFactsScript(): string {
  const probe = probeSections({
    sysctls: [plainSysctl(IP_FORWARD), plainSysctl(IPV6_FORWARD)],
    files: [],
    timeouts: true,
    listings: ["fou", "rule", "route"],
  });
  return `${sectionsScript(PROBE_MARK, probe)}\n${hostScript("import-facts.sh")}`;
}

/** keepalived on a host, as import-facts.sh found it. */
export interface KeepalivedFacts {
  installed: boolean;
  /** The pids of its processes: none when it is not running. */
  pids: number[];
  /** Its command line, one word each (empty when it is not running). */
  commandLine: string[];
  /** The configuration file it reads: its `-f`, else {@link KEEPALIVED_DEFAULT_CONF}. */
  conf: string;
  /** What `keepalived -t -f <conf>` said (it only checks): absent when not installed or no such file. */
  test?: { code: number; output: string };
}

/**
 * What the import knows of any host: the probe's facts (`sysctls` holds every sysctl read, `files`
 * every file read: keepalived's), the default route's gateway and IPv6 addresses' lifetimes, and
 * keepalived.
 */
export interface HostFacts extends ProbeFacts {
  /** The host's name (`uname -n`). */
  hostname: string;
  /** The gateway of the IPv4 default route, if it has one. */
  defaultGateway?: string;
  /** IPv6 addresses (`device address`) that are never a source address (preferred lifetime 0, deprecated). */
  deprecated: Set<string>;
  keepalived: KeepalivedFacts;
}

/** Whether IPVS could be read: ip_vs loaded and ipvsadm there. */
export type IpvsState = "loaded" | "not-loaded" | "no-ipvsadm";

/** What the import knows of a director: a host's facts and its IPVS table, thresholds merged. */
export interface DirectorFacts extends HostFacts {
  ipvs: IpvsState;
  /** The kernel's table (empty when IPVS could not be read), in ipvsadm's order. */
  table: IpvsTable;
}

/** `device address` of an address, the key of {@link HostFacts.deprecated}. */
export const deviceAddress = (device: string, address: string) => `${device} ${address}`;

/** Raised when the script's output cannot be read: which part, and why. */
export class FactsError extends Error {
  constructor(what: string, why: string) {
    super(`cannot read ${what}: ${why}`);
    this.name = "FactsError";
  }
}

/** How import-facts.sh names the section of a file it read: `file <path>`. */
const FILE_SECTION = "file ";

const IPVS_STATES: readonly IpvsState[] = ["loaded", "not-loaded", "no-ipvsadm"];

/** Reads what {@link importFactsScript} printed (any host: a real server's table is simply empty or unused). */
export function parseImportFacts(text: string): DirectorFacts {
  const sec = splitSections(text, PROBE_MARK);
  const lines = (k: string) => sec[k] ?? [];
  const value = (k: string) => lines(k).join("\n").trim();
  const ipvs = value("ipvs") as IpvsState;
  if (!IPVS_STATES.includes(ipvs)) throw new FactsError("the IPVS state", `unexpected "${value("ipvs")}"`);
  const exit = value("ipvsadm-exit");
  if (ipvs === "loaded" && exit !== "0")
    throw new FactsError("the IPVS table", `ipvsadm -R (-S -n, -L -n --thresholds) exited ${exit || "early"}`);
  const probe = hostFactsOf(sec);
  for (const [name, text] of Object.entries(sec))
    if (name.startsWith(FILE_SECTION))
      probe.files.set(name.slice(FILE_SECTION.length), text.join("\n").replace(/\n$/, ""));
  const facts: DirectorFacts = {
    ...probe,
    hostname: value("hostname"),
    ...routeFacts(value("route"), value("addresses")),
    keepalived: keepalivedFacts(sec),
    ipvs,
    table: ipvs === "loaded" ? tableOf(lines("ipvsadm")) : { services: [] },
  };
  return facts;
}

/** The table in one ipvsadm's output: the rules, then the listing from its version line on. */
function tableOf(printed: string[]): IpvsTable {
  const listing = printed.findIndex((l) => l.startsWith("IP Virtual Server version"));
  const table = parseRules((listing < 0 ? printed : printed.slice(0, listing)).join("\n"));
  mergeThresholds(table, parseThresholds(listing < 0 ? "" : printed.slice(listing).join("\n")));
  return table;
}

/** The fields read here of `ip -j` (the rest: provider/host/iproute.ts). */
interface IpJson {
  dev?: string;
  gateway?: string;
  ifname?: string;
  addr_info?: Array<{ family?: string; local?: string; preferred_life_time?: number }>;
}

function jsonList(text: string): IpJson[] {
  try {
    const list = JSON.parse(text) as unknown;
    return Array.isArray(list) ? (list as IpJson[]) : [];
  } catch {
    return [];
  }
}

/** The default route's gateway, and the deprecated IPv6 addresses, from the probe's `ip -j` output. */
function routeFacts(route: string, addresses: string): Pick<HostFacts, "defaultGateway" | "deprecated"> {
  const gateway = jsonList(route).find((r) => r.dev !== undefined)?.gateway;
  const deprecated = new Set(
    jsonList(addresses).flatMap((i) =>
      (i.addr_info ?? []).flatMap((a) =>
        a.family === "inet6" && a.local !== undefined && a.preferred_life_time === 0
          ? [deviceAddress(i.ifname ?? "", canonicalAddress(a.local))]
          : [],
      ),
    ),
  );
  return { ...(gateway ? { defaultGateway: canonicalAddress(gateway) } : {}), deprecated };
}

function keepalivedFacts(sec: Record<string, string[]>): KeepalivedFacts {
  const words = (sec.keepalived ?? []).map((l) => l.trim()).filter(Boolean);
  const pids = words.find((w) => w.startsWith("pids "));
  const k: KeepalivedFacts = {
    installed: words.includes("installed"),
    pids: pids ? pids.slice(5).split(/\s+/).map(Number) : [],
    commandLine: (sec["keepalived-cmdline"] ?? []).filter(Boolean),
    conf: (sec["keepalived-conf"] ?? []).join("").trim() || KEEPALIVED_DEFAULT_CONF,
  };
  const code = (sec["keepalived-test-exit"] ?? []).join("").trim();
  if (code !== "") k.test = { code: Number(code), output: (sec["keepalived-test"] ?? []).join("\n").trim() };
  return k;
}

/** What the round trip read on a host, in words, for IMPORT.md (the files by path). */
export function readsOf(facts: DirectorFacts): string[] {
  const k = facts.keepalived;
  const files = [...facts.files.keys()].sort();
  return [
    facts.ipvs === "loaded"
      ? "the IPVS table: ipvsadm -S -n and ipvsadm -L -n --thresholds (one ipvsadm), ipvsadm -L -n --timeout"
      : `the IPVS table: none (${facts.ipvs === "not-loaded" ? "ip_vs is not loaded" : "ipvsadm is not installed"})`,
    "sysctls: net.ipv4.vs.*, net.ipv4.ip_forward, net.ipv6.conf.all.forwarding, arp_ignore, arp_announce and rp_filter of all, lo and each interface",
    "addresses, links, the default route, ip rule, routing table 7100 and ip fou (ip -j), loaded modules (/sys/module)",
    !k.installed
      ? "keepalived: not installed"
      : k.pids.length === 0
        ? "keepalived: installed, not running"
        : `keepalived: running (pid ${k.pids.join(", ")}: ${k.commandLine.join(" ")}), configuration ${k.conf}`,
    ...files.map((f) => `file ${f}`),
    ...(k.test ? [`keepalived -t -f ${k.conf}: exit ${k.test.code}`] : []),
  ];
}
