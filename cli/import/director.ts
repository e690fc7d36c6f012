/**
 * A director's facts as the resources that declare exactly what it has: its Director (the host
 * settings provider/resources/director.ts manages, where they are not the kernel's defaults), one
 * VirtualService per kernel service (or per keepalived virtual server), its VRRP instances, and the
 * findings. Declaring these, the provider would change nothing on the host. Pure.
 */

import type { IpvsTimeouts } from "../../provider/ipvs/client";
import { isFwmarkKey, serviceKeyText } from "../../provider/ipvs/types";
import type { DirectorInputs } from "../../provider/model/host";
import { directorInputs, IPVS_SYSCTLS } from "../../provider/model/host";
import { validate } from "../../provider/model/validate";
import { serviceKeyOf, type VirtualServiceInputs } from "../../provider/model/virtual-service";
import { isIPv6 } from "../../provider/net/address";
import { directorPlan } from "../../provider/resources/director";
import { planDifferences } from "./drift";
import { type DirectorFacts, deviceAddress, IP_FORWARD, IPV6_FORWARD } from "./facts";
import { importKeepalived } from "./keepalived";
import { IPVS_SYSCTL_DEFAULTS, IPVS_TIMEOUT_DEFAULTS, MACHINE_DEPENDENT_IPVS_SYSCTLS } from "./kernel-defaults";
import type { DirectorArgs, Finding, ImportedResource, ImportSecret, VirtualServiceArgs } from "./model";
import {
  checkVirtualServiceArgs,
  compareKeys,
  PLACEHOLDER_CONNECTION,
  serviceName,
  virtualServiceArgs,
} from "./services";

/** A VirtualService's kernel key (z.input and z.infer agree on the key's fields). */
const keyOf = (args: VirtualServiceArgs) => serviceKeyOf(args as VirtualServiceInputs);

/** What one host contributes to the import. */
export interface HostImport {
  resources: ImportedResource[];
  findings: Finding[];
  secrets: ImportSecret[];
  /** Why this host cannot be imported as it is (keepalived rejects its own configuration): the import stops, writing nothing. */
  refusal?: string;
}

/** The modules a Director loads when its inputs name none (directorInputs' default). */
const DEFAULT_MODULES = directorInputs.shape.modules.parse(undefined);

const IPVS_SYSCTL_PREFIX = "net.ipv4.vs.";

/** A sysctl's value as a program writes it: a number when it is one, else the text ("3 50"). */
const sysctlValue = (v: string): number | string => (/^-?\d+$/.test(v) ? Number(v) : v);

/**
 * The net.ipv4.vs.* values that are not the kernel's: the Director's `ipvsSysctls` (the parameters
 * it knows) and `sysctls` (others, such as lblc_expiration); a parameter without a known default is
 * noted, not imported.
 */
function ipvsSysctls(
  host: string,
  facts: DirectorFacts,
  findings: Finding[],
): Pick<DirectorArgs, "ipvsSysctls" | "sysctls"> {
  const known: Record<string, number | string> = {};
  const other: Record<string, number | string> = {};
  for (const [full, value] of [...facts.sysctls].sort(([a], [b]) => a.localeCompare(b))) {
    if (!full.startsWith(IPVS_SYSCTL_PREFIX) || value === undefined) continue;
    const name = full.slice(IPVS_SYSCTL_PREFIX.length);
    if (MACHINE_DEPENDENT_IPVS_SYSCTLS.includes(name)) continue;
    const def = IPVS_SYSCTL_DEFAULTS[name];
    if (def === undefined) {
      findings.push({
        source: { host },
        kind: "note",
        message: `${full} = ${value}: pulumi-lvs knows no kernel default for it, so it is not imported (add it to the Director's sysctls if the site sets it)`,
      });
    } else if (value !== def) {
      if ((IPVS_SYSCTLS as readonly string[]).includes(name)) known[name] = sysctlValue(value);
      else other[full] = sysctlValue(value);
    }
  }
  return {
    ...(Object.keys(known).length > 0 ? { ipvsSysctls: known as DirectorArgs["ipvsSysctls"] } : {}),
    ...(Object.keys(other).length > 0 ? { sysctls: other } : {}),
  };
}

/** The timeouts that are not the kernel's (a Director sets only those it names). */
function timeouts(live: IpvsTimeouts | undefined): DirectorArgs["timeouts"] {
  if (!live) return undefined;
  const out: NonNullable<DirectorArgs["timeouts"]> = {};
  for (const k of ["tcp", "tcpFin", "udp"] as const) if (live[k] !== IPVS_TIMEOUT_DEFAULTS[k]) out[k] = live[k];
  return Object.keys(out).length > 0 ? out : undefined;
}

/** The loaded ip_vs modules, when they are not just the Director's default. */
function modules(facts: DirectorFacts): string[] | undefined {
  const loaded = [...facts.modules].filter((m) => m === "ip_vs" || m.startsWith("ip_vs_")).sort();
  const same = loaded.length === DEFAULT_MODULES.length && loaded.every((m, i) => m === DEFAULT_MODULES[i]);
  return loaded.length === 0 || same ? undefined : loaded;
}

/**
 * The VIPs: addresses of the director's own interfaces (not lo) that are some service's address,
 * with their interface and prefix; not those a VRRP instance holds (keepalived's). The Director
 * adds IPv6 VIPs as never-a-source addresses (preferred_lft 0): one that is not is a difference (the
 * take-over leaves it; an update of the Director re-adds it so).
 */
function vips(host: string, facts: DirectorFacts, vrrp: Set<string>, findings: Finding[]): DirectorInputs["vips"] {
  const serviceAddresses = new Set(
    facts.table.services.flatMap((s) => (isFwmarkKey(s.config.key) ? [] : [s.config.key.address])),
  );
  const out: DirectorInputs["vips"] = [];
  for (const a of facts.addresses) {
    if (a.device === "lo" || !serviceAddresses.has(a.address) || vrrp.has(a.address)) continue;
    out.push({ address: a.address, interface: a.device, prefix: a.prefix });
    if (isIPv6(a.address) && !facts.deprecated.has(deviceAddress(a.device, a.address)))
      findings.push({
        source: { host },
        kind: "differs",
        message: `VIP ${a.address} on ${a.device} may be a source address. The take-over leaves it as it is; the Director's next update re-adds it as never one (preferred_lft 0), so that the director's own packets do not come from the VIP`,
      });
  }
  return out;
}

/** The Director's inputs: what the host has of what a Director manages, where it is not the kernel's default. */
function directorArgs(host: string, facts: DirectorFacts, vrrp: Set<string>, findings: Finding[]): DirectorArgs {
  const args: DirectorArgs = {};
  if (facts.sysctls.get(IP_FORWARD) === "1") args.ipForward = true;
  if (facts.sysctls.get(IPV6_FORWARD) === "1") args.ipv6Forward = true;
  Object.assign(args, ipvsSysctls(host, facts, findings));
  const t = timeouts(facts.timeouts);
  if (t) args.timeouts = t;
  const m = modules(facts);
  if (m) args.modules = m;
  const v = vips(host, facts, vrrp, findings);
  if (v.length > 0) args.vips = v;
  args.persist = false;
  findings.push({
    source: { host },
    kind: "note",
    message:
      "the Director is imported with persist: false: the host's own boot configuration restores its settings, VIPs and IPVS rules, and pulumi-lvs must not add a second one (set persist: true once the site's own is removed)",
  });
  return args;
}

/**
 * A virtual server or VRRP instance of a running keepalived that cannot be handed over (`why`), as a
 * finding: it stays in keepalived's own configuration (a resource declared beside the block would
 * duplicate it), and so does the kernel service keepalived makes of it.
 */
function leftToKeepalived(
  r: Extract<ImportedResource, { kind: "VirtualService" | "VrrpInstance" }>,
  why: string[],
): Finding {
  const what =
    r.kind === "VrrpInstance"
      ? `vrrp_instance ${r.name}`
      : `virtual_server ${serviceKeyText(keyOf(r.args as VirtualServiceArgs))}`;
  return {
    source: r.source,
    kind: "unsupported",
    message: `${what} stays in keepalived's configuration, not taken over: ${why.join("; ")}${r.kind === "VirtualService" ? "; its kernel service is left out of the program" : ""}`,
  };
}

/** Everything a director contributes: its Director, its services, keepalived's objects, and the findings. */
export function importDirector(host: string, facts: DirectorFacts): HostImport {
  const findings: Finding[] = [];
  const secrets: ImportSecret[] = [];
  if (facts.ipvs === "not-loaded")
    findings.push({ source: { host }, kind: "note", message: "ip_vs is not loaded: the host has no virtual service" });
  if (facts.ipvs === "no-ipvsadm")
    findings.push({
      source: { host },
      kind: "unsupported",
      message: "ipvsadm is not installed: the IPVS table could not be read (install ipvsadm and import again)",
    });
  const keepalived = importKeepalived(host, facts);
  if (keepalived) {
    findings.push(...keepalived.findings);
    findings.push(...[...keepalived.stays].map(([r, why]) => leftToKeepalived(r, why)));
    secrets.push(
      ...keepalived.secrets.filter((x) =>
        keepalived.vrrpInstances.some((v) => v.authPassKey === x.key && !keepalived.stays.has(v)),
      ),
    );
  }
  const services: Extract<ImportedResource, { kind: "VirtualService" }>[] = [];
  const described = keepalived?.services ?? new Map();
  for (const s of facts.table.services) {
    if (described.has(serviceKeyText(s.config.key))) continue;
    const args = virtualServiceArgs(s);
    const checked = checkVirtualServiceArgs(args);
    if (Array.isArray(checked)) {
      findings.push({
        source: { host },
        kind: "unsupported",
        message: `${serviceKeyText(s.config.key)} is left as it is: pulumi-lvs cannot declare it (${checked.join("; ")})`,
      });
      continue;
    }
    services.push({ kind: "VirtualService", host, name: serviceName(s.config.key), args, source: { host } });
  }
  services.sort((a, b) => compareKeys(keyOf(a.args), keyOf(b.args)));
  const resources: ImportedResource[] = [];
  const args = directorArgs(host, facts, keepalived?.vrrpAddresses ?? new Set(), findings);
  const { value, failures } = validate(directorInputs, { connection: PLACEHOLDER_CONNECTION, ...args });
  if (value) {
    // one name on every director, so that a pair's two are written once (cli/import/plan.ts)
    resources.push({ kind: "Director", host, name: "director", args, source: { host } });
    findings.push(...planDifferences(host, "Director", directorPlan(value), facts));
  } else
    findings.push({
      source: { host },
      kind: "unsupported",
      message: `the Director is not imported: ${failures.map((f) => f.reason).join("; ")}`,
    });
  resources.push(...services);
  // keepalived's blocks, each handed over to pulumi-lvs by its first `up` (adopt: "exact")
  const handedOver = [...(keepalived?.services.values() ?? []), ...(keepalived?.vrrpInstances ?? [])];
  resources.push(...handedOver.filter((r) => !keepalived!.stays.has(r)));
  return { resources, findings, secrets, ...(keepalived?.refusal ? { refusal: keepalived.refusal } : {}) };
}
