/** One round trip that reads what the host resources manage: sysctls, addresses, modules, files, IPVS timeouts. */
import { sectionsScript, splitSections } from "../scripts/sections";
import { type InterfaceAddress, parseIpAddr } from "./addresses";
import { parseFiles, readFilesScript } from "./persist";
import { parseSysctls, readSysctlsScript, type Sysctl } from "./sysctl";

const MARK = "#pulumi-lvs:probe";

export interface ProbeRequest {
  sysctls: Sysctl[];
  files: string[];
  /** Also read `ipvsadm -L --timeout` (when ip_vs is loaded). */
  timeouts?: boolean;
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
  timeouts?: { tcp: number; tcpfin: number; udp: number };
}

export function probeScript(req: ProbeRequest): string {
  const script = sectionsScript(MARK, [
    ["sysctls", readSysctlsScript(req.sysctls)],
    ["addresses", "ip -o addr show"],
    ["links", "ip -o link show"],
    ["modules", "ls /sys/module"],
    ["route", "ip -o -4 route show default"],
    ["files", readFilesScript(req.files)],
    ["timeouts", req.timeouts ? "[ ! -e /proc/net/ip_vs ] || ipvsadm -L -n --timeout 2>/dev/null || true" : ":"],
  ]);
  return `${script}\nexit 0`;
}

export function parseProbe(text: string): HostFacts {
  const sec = splitSections(text, MARK);
  const links = new Map<string, boolean>();
  for (const l of sec.links ?? []) {
    const m = /^\d+:\s+([^:@\s]+)(?:@\S+)?:\s+<([^>]*)>/.exec(l);
    if (m) links.set(m[1]!, m[2]!.split(",").includes("UP"));
  }
  const facts: HostFacts = {
    sysctls: parseSysctls((sec.sysctls ?? []).join("\n")),
    addresses: parseIpAddr((sec.addresses ?? []).join("\n")),
    links,
    modules: new Set((sec.modules ?? []).map((s) => s.trim()).filter(Boolean)),
    files: parseFiles((sec.files ?? []).join("\n")),
  };
  const route = /\bdev\s+(\S+)/.exec((sec.route ?? []).join("\n"));
  if (route) facts.defaultInterface = route[1]!;
  const t = /Timeout \(tcp tcpfin udp\):\s+(\d+)\s+(\d+)\s+(\d+)/.exec((sec.timeouts ?? []).join("\n"));
  if (t) facts.timeouts = { tcp: Number(t[1]), tcpfin: Number(t[2]), udp: Number(t[3]) };
  return facts;
}
