/**
 * Kernel parameters (sysctls), read and written through /proc/sys, so that no `sysctl` binary is
 * needed. Names use sysctl(8)'s dotted form; an interface name inside a name is written as is
 * (`net.ipv4.conf.eth0.arp_ignore`), and the path is built knowing where the interface sits.
 */
import { hostScript } from "../scripts";
import { shellJoin, shellQuote } from "../transport/transport";

/** A sysctl with its /proc/sys path. */
export interface Sysctl {
  name: string;
  path: string;
}

/** `net.ipv4.conf.<iface>.<key>` */
export function ifaceSysctl(family: "ipv4" | "ipv6", iface: string, key: string): Sysctl {
  return { name: `net.${family}.conf.${iface}.${key}`, path: `/proc/sys/net/${family}/conf/${iface}/${key}` };
}

/** A sysctl whose dotted name has no interface in it. */
export function plainSysctl(name: string): Sysctl {
  return { name, path: `/proc/sys/${name.replace(/\./g, "/")}` };
}

/** The functions of provider/scripts/sysctl.sh, then one call of `fn` a sysctl (nothing for none). */
function sysctlCalls(fn: "read_sysctl" | "write_sysctl", calls: string[][]): string {
  return calls.length === 0
    ? ""
    : [hostScript("sysctl.sh"), ...calls.map((args) => shellJoin([fn, ...args]))].join("\n");
}

/** Reads sysctls: one line each, `name=value`, or `name!` when the kernel has no such parameter. */
export function readSysctlsScript(list: Sysctl[]): string {
  return sysctlCalls(
    "read_sysctl",
    list.map((s) => [s.name, s.path]),
  );
}

export function parseSysctls(text: string): Map<string, string | undefined> {
  const out = new Map<string, string | undefined>();
  for (const line of text.split("\n")) {
    if (line.endsWith("!")) out.set(line.slice(0, -1), undefined);
    else {
      const i = line.indexOf("=");
      if (i > 0)
        out.set(
          line.slice(0, i),
          line
            .slice(i + 1)
            .trim()
            .replace(/\s+/g, " "),
        );
    }
  }
  return out;
}

/** Writes sysctls, in order; fails (naming the parameter) if the kernel refuses one. */
export function writeSysctlsScript(values: Array<[Sysctl, string]>): string {
  return sysctlCalls(
    "write_sysctl",
    values.map(([s, v]) => [s.name, s.path, v]),
  );
}

/**
 * The same writes, one line each, where a parameter that does not exist (its interface or module
 * not there yet, or gone) is skipped, not a failure: at boot, and when delete puts values back.
 */
export function sysctlsIfPresentLines(values: Array<[Sysctl, string]>): string[] {
  return values.map(
    ([s, v]) => `[ ! -e ${shellQuote(s.path)} ] || printf '%s' ${shellQuote(v)} > ${shellQuote(s.path)}`,
  );
}

/** A sysctl from its recorded name: an interface sits at index 3 of net.ipv{4,6}.conf.<iface>.<key>. */
export function sysctlNamed(name: string): Sysctl {
  const m = /^net\.(ipv4|ipv6)\.conf\.(.+)\.([^.]+)$/.exec(name);
  return m ? ifaceSysctl(m[1] as "ipv4" | "ipv6", m[2]!, m[3]!) : plainSysctl(name);
}

/** sysctl.d(5) file content. */
export function sysctlConf(header: string, values: Array<[Sysctl, string]>): string {
  return `# ${header}\n${values.map(([s, v]) => `${s.name} = ${v}`).join("\n")}\n`;
}
