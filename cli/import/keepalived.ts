/**
 * A director's keepalived, read with the provider's keepalived.conf reader (provider/keepalived/conf):
 * its virtual servers as VirtualServices of engine keepalived, its VRRP instances as VrrpInstances
 * (each password a config secret, never its value), what the reader cannot take over as findings
 * with file and line, and where the kernel's table and keepalived.conf disagree. Pure.
 */

import type { IpvsTable, RealServerConfig, ServiceEntry } from "../../provider/ipvs/types";
import { realServerKeyText, serviceKeyText } from "../../provider/ipvs/types";
import { type KeepalivedConf, mapFiles, type ReadObject, readKeepalivedConf } from "../../provider/keepalived/conf";
import { handOverObstacles, testComplaints } from "../../provider/keepalived/hand-over";
import { MAIN_CONF } from "../../provider/keepalived/render";
import {
  inlineConfigs,
  serviceConfigOf,
  serviceKeyOf,
  type VirtualServiceInputs,
} from "../../provider/model/virtual-service";
import type { DirectorFacts } from "./facts";
import type { Finding, ImportedResource, ImportSecret, Source, VirtualServiceArgs } from "./model";
import { checkVirtualServiceArgs, compareRealServers, serviceName } from "./services";

type VirtualServiceResource = Extract<ImportedResource, { kind: "VirtualService" }>;
type VrrpInstanceResource = Extract<ImportedResource, { kind: "VrrpInstance" }>;

/** What keepalived contributes to a director's import. */
export interface KeepalivedImport {
  /** Its virtual services (engine keepalived), by kernel key text (`tcp/10.0.0.100:80`). */
  services: Map<string, VirtualServiceResource>;
  vrrpInstances: VrrpInstanceResource[];
  findings: Finding[];
  secrets: ImportSecret[];
  /** Why the import cannot go on: keepalived itself rejects its configuration (`keepalived -t`), secrets hidden. */
  refusal?: string;
  /** The addresses its VRRP instances hold: keepalived's, not the Director's VIPs. */
  vrrpAddresses: Set<string>;
  /**
   * Blocks that stay in keepalived's configuration, not declared: why they cannot be handed over
   * to pulumi-lvs (provider/keepalived/hand-over.ts says, for the importer and the provider alike).
   */
  stays: Map<VirtualServiceResource | VrrpInstanceResource, string[]>;
}

/** keepalived's options that leave a subsystem out, and what that means for what is imported. */
const PARTIAL: Array<[flags: string[], what: string]> = [
  [["-C", "--check"], "its VRRP instances are not running; imported as VrrpInstances, pulumi-lvs would run them"],
  [["-P", "--vrrp"], "its virtual servers are not running; imported as VirtualServices, pulumi-lvs would run them"],
];

/** The config key of a VRRP instance's password. */
export const authPassKey = (host: string, instance: string) => `${host}-${instance}-authPass`;

/** Text with every secret value of the configuration put out of sight. */
function redact(text: string, conf: KeepalivedConf): string {
  return conf.secrets.reduce((t, s) => t.split(s.value).join("(secret)"), text);
}

/**
 * keepalived as the import takes it over: only a running keepalived's configuration is read (one
 * that is not running has made nothing of what the host has: it is noted). Undefined when there is
 * no keepalived to take over.
 */
export function importKeepalived(host: string, facts: DirectorFacts): KeepalivedImport | undefined {
  const k = facts.keepalived;
  const at = (file?: string, line?: number): Source => ({ host, ...(file ? { file } : {}), ...(line ? { line } : {}) });
  if (k.pids.length === 0) {
    if (facts.files.has(k.conf))
      return {
        services: new Map(),
        vrrpInstances: [],
        secrets: [],
        vrrpAddresses: new Set(),
        stays: new Map(),
        findings: [
          {
            source: at(k.conf),
            kind: "note",
            message: `keepalived is not running: its configuration ${k.conf} was not imported (the kernel's IPVS table was)`,
          },
        ],
      };
    return undefined;
  }
  const out: KeepalivedImport = {
    services: new Map(),
    vrrpInstances: [],
    findings: [],
    secrets: [],
    vrrpAddresses: new Set(),
    stays: new Map(),
  };
  if (!facts.files.has(k.conf)) {
    out.findings.push({
      source: at(k.conf),
      kind: "unsupported",
      message: `keepalived runs (pid ${k.pids.join(" ")}) with ${k.conf}, which could not be read: its virtual servers and VRRP instances are not imported`,
    });
    return out;
  }
  const conf = readKeepalivedConf(mapFiles(facts.files), k.conf);
  // what keeps a block in keepalived's configuration: the provider's reasons, and keepalived's own file
  const obstacles = (o: ReadObject<unknown>) => [
    ...(k.conf !== MAIN_CONF
      ? [`keepalived runs with ${k.conf}; pulumi-lvs's keepalived engine works with ${MAIN_CONF}`]
      : []),
    ...handOverObstacles(conf, o),
  ];
  for (const [flags, what] of PARTIAL)
    if (k.commandLine.some((w) => flags.includes(w)))
      out.findings.push({ source: at(), kind: "note", message: `keepalived runs with ${flags.join("/")}: ${what}` });
  // (what pulumi-lvs's own files always draw is no refusal: a director handed over imports again)
  if (k.test && k.test.code !== 0 && testComplaints(k.test.output).length > 0)
    out.refusal = `keepalived -t -f ${k.conf} rejects its configuration (exit ${k.test.code}): ${redact(k.test.output, conf).trim()}`;
  for (const d of conf.unsupported)
    out.findings.push({ source: at(d.file, d.line), kind: "unsupported", message: `${d.what}: ${d.why}` });
  for (const d of conf.warnings)
    out.findings.push({ source: at(d.file, d.line), kind: "note", message: `${d.what}: ${d.why}` });
  for (const vs of conf.virtualServices) {
    const args = vs.inputs as VirtualServiceArgs;
    const checked = checkVirtualServiceArgs(args);
    // the reader checked it with the same schema: a failure here would be the reader's gap
    if (Array.isArray(checked)) continue;
    const key = serviceKeyOf(checked);
    const r: VirtualServiceResource = {
      kind: "VirtualService",
      host,
      name: serviceName(key),
      args,
      source: at(vs.file, vs.line),
    };
    out.services.set(serviceKeyText(key), r);
    const why = obstacles(vs);
    if (why.length > 0) out.stays.set(r, why);
  }
  for (const v of conf.vrrpInstances) {
    const name = String(v.inputs.name);
    const r: VrrpInstanceResource = { kind: "VrrpInstance", host, name, args: v.inputs, source: at(v.file, v.line) };
    const secret = conf.secrets.find((s) => s.instance === name && s.field === "authPass");
    if (secret) {
      r.authPassKey = authPassKey(host, name);
      out.secrets.push({
        key: r.authPassKey,
        what: `the VRRP password (auth_pass) of vrrp_instance ${name} on ${host} (${secret.file}:${secret.line})`,
      });
    }
    out.vrrpInstances.push(r);
    const why = obstacles(v);
    if (why.length > 0) out.stays.set(r, why);
    for (const vip of v.inputs.vips) out.vrrpAddresses.add(vip.address);
  }
  out.findings.push(...differences(host, facts.table, out.services));
  return out;
}

/** Where the kernel's table and keepalived.conf disagree, service by service. */
function differences(host: string, table: IpvsTable, services: Map<string, VirtualServiceResource>): Finding[] {
  const out: Finding[] = [];
  const kernel = new Map(table.services.map((s) => [serviceKeyText(s.config.key), s]));
  for (const [text, s] of kernel) {
    if (!services.has(text))
      out.push({
        source: { host },
        kind: "differs",
        message: `the kernel has ${text} (real servers: ${s.realServers.length}), which keepalived.conf does not describe: imported as a VirtualService of engine ipvsadm`,
      });
  }
  for (const [text, r] of services) {
    const live = kernel.get(text);
    const source = r.source;
    if (!live) {
      out.push({
        source,
        kind: "differs",
        message: `keepalived.conf describes ${text}, which the kernel does not have (keepalived has not made it: see keepalived -t and keepalived's log)`,
      });
      continue;
    }
    const declared = checkVirtualServiceArgs(r.args) as VirtualServiceInputs;
    for (const m of serviceDifferences(declared, live)) out.push({ source, kind: "differs", message: `${text}: ${m}` });
  }
  return out;
}

/** The settings of a service and of its real servers that differ between keepalived.conf and the kernel. */
function serviceDifferences(declared: VirtualServiceInputs, live: ServiceEntry): string[] {
  const out: string[] = [];
  const want = serviceConfigOf(declared);
  const has = live.config;
  const fields: Array<[string, unknown, unknown]> = [
    ["scheduler", want.scheduler, has.scheduler],
    ["scheduler flags", want.schedulerFlags.join(",") || "none", has.schedulerFlags.join(",") || "none"],
    ["persistence", persistenceText(want.persistence), persistenceText(has.persistence)],
    ["one-packet scheduling", want.onePacket, has.onePacket],
  ];
  for (const [what, w, h] of fields)
    if (w !== h) out.push(`${what} is ${String(w)} in keepalived.conf, ${String(h)} in the kernel`);
  const wanted = new Map(inlineConfigs(declared).map((c) => [realServerKeyText(c), c]));
  const held = new Map(live.realServers.map((r) => [realServerKeyText(r.config), r.config]));
  for (const c of [...wanted.values()].sort(compareRealServers)) {
    const h = held.get(realServerKeyText(c));
    if (!h)
      out.push(
        `real server ${realServerKeyText(c)} is in keepalived.conf, not in the kernel (keepalived takes out a real server whose health check fails)`,
      );
    else out.push(...realServerDifferences(c, h));
  }
  for (const h of [...held.values()].sort(compareRealServers))
    if (!wanted.has(realServerKeyText(h)))
      out.push(
        `real server ${realServerKeyText(h)} is in the kernel, not in keepalived.conf (a sorry server, or added by hand)`,
      );
  return out;
}

function realServerDifferences(want: RealServerConfig, has: RealServerConfig): string[] {
  const fields = ["forwarding", "weight", "upperThreshold", "lowerThreshold"] as const;
  return fields
    .filter((f) => want[f] !== has[f])
    .map(
      (f) =>
        `real server ${realServerKeyText(want)}: ${f} is ${want[f]} in keepalived.conf, ${has[f]} in the kernel${f === "weight" && has.weight === 0 ? " (inhibit_on_failure sets weight 0 while its health check fails)" : ""}`,
    );
}

function persistenceText(p: { timeout: number; netmask: string } | undefined): string {
  return p ? `${p.timeout}s per ${p.netmask}` : "none";
}
