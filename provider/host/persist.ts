/**
 * Persistence across reboots, the way a Debian/Ubuntu/RHEL host does it:
 * - sysctls in /etc/sysctl.d/ (applied by systemd-sysctl at boot),
 * - modules in /etc/modules-load.d/ (systemd-modules-load),
 * - addresses (and the ordering they need) in oneshot systemd units, enabled the way
 *   `systemctl enable` does it (a symlink in multi-user.target.wants): before the network for
 *   what needs no interface ({@link beforeNetwork}), after it for addresses on the interfaces a
 *   network manager configures ({@link afterNetwork}),
 * - the IPVS rules pulumi-lvs owns, restored at boot by a oneshot unit from the ledger.
 */
import { hostScript } from "../scripts";
import { sectionStart, splitSections } from "../scripts/sections";
import { shellJoin, shellQuote } from "../transport/transport";

export interface PersistedFile {
  path: string;
  content: string;
  /** Also create this symlink to `path` (unit enablement). */
  enableLink?: string;
  /** Octal mode, e.g. "0755" for a script; default: the umask's. */
  mode?: string;
}

/**
 * Where a oneshot unit runs in the boot, and why: the reasons become comments in the unit, so that
 * whoever reads it on a host knows what the ordering guarantees.
 */
export interface UnitOrder {
  why: string[];
  /** false: `DefaultDependencies=no`, for units that run before basic.target (early boot). */
  defaultDependencies: boolean;
  after: string[];
  before: string[];
  wants: string[];
  /** Paths whose file systems must be mounted first (`RequiresMountsFor=`). */
  requiresMountsFor?: string[];
}

/**
 * Early boot, before any network is configured: for settings that need no network interface
 * (modules, sysctls, IPVS rules; addresses on lo). After the file systems, systemd-modules-load and
 * systemd-sysctl (so sysctl.d settings are in place before the unit runs), before
 * network-pre.target, which every network manager (ifupdown's networking.service,
 * systemd-networkd, NetworkManager) is ordered after; the unit pulls that target in, as
 * netfilter-persistent does for the firewall.
 */
export function beforeNetwork(why: string[], requiresMountsFor?: string[]): UnitOrder {
  const o: UnitOrder = {
    why,
    defaultDependencies: false,
    after: ["local-fs.target", "systemd-modules-load.service", "systemd-sysctl.service"],
    before: ["network-pre.target"],
    wants: ["network-pre.target"],
  };
  if (requiresMountsFor) o.requiresMountsFor = requiresMountsFor;
  return o;
}

/**
 * Once the network is configured (network-online.target: ifupdown's `ifup -a`, or
 * systemd-networkd-wait-online, or NetworkManager-wait-online, has finished): for addresses on
 * interfaces that the network manager brings up, and may flush, or even create (bridges, bonds,
 * VLANs). keepalived's own unit is ordered the same way.
 */
export function afterNetwork(why: string[], alsoAfter: string[] = []): UnitOrder {
  return {
    why,
    defaultDependencies: true,
    after: ["network-online.target", ...alsoAfter],
    before: [],
    wants: ["network-online.target"],
  };
}

export function unitFile(description: string, script: string, order: UnitOrder): string {
  const list = (key: string, units: string[]) => (units.length > 0 ? [`${key}=${units.join(" ")}`] : []);
  return [
    "# managed by pulumi-lvs: do not edit (pulumi up rewrites it, pulumi destroy removes it)",
    ...order.why.map((l) => `# ${l}`),
    "[Unit]",
    `Description=${description}`,
    ...(order.defaultDependencies ? [] : ["DefaultDependencies=no"]),
    ...list("After", order.after),
    ...list("Before", order.before),
    ...list("Wants", order.wants),
    ...list("RequiresMountsFor", order.requiresMountsFor ?? []),
    "",
    "[Service]",
    "Type=oneshot",
    "RemainAfterExit=yes",
    `ExecStart=/bin/sh ${script}`,
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

/** Where the boot scripts of the units live. */
export const SCRIPT_DIR = "/etc/pulumi-lvs";

/**
 * A oneshot unit `name` (enabled) that runs a boot script of `commands` (one per line, stopping at
 * the first failure; lines starting with `#` are comments), and that script. Keeping the commands
 * in a script spares them systemd's own quoting rules.
 */
export function unit(name: string, description: string, commands: string[], order: UnitOrder): PersistedFile[] {
  const script = `${SCRIPT_DIR}/${name.replace(/\.service$/, "")}.sh`;
  return [
    {
      path: script,
      content: ["#!/bin/sh", "# managed by pulumi-lvs: run at boot by " + name, "set -e", ...commands, ""].join("\n"),
    },
    {
      path: `/etc/systemd/system/${name}`,
      content: unitFile(description, script, order),
      enableLink: `/etc/systemd/system/multi-user.target.wants/${name}`,
    },
  ];
}

/** The files {@link unit} writes. */
export function unitPaths(name: string): string[] {
  return [
    `${SCRIPT_DIR}/${name.replace(/\.service$/, "")}.sh`,
    `/etc/systemd/system/${name}`,
    `/etc/systemd/system/multi-user.target.wants/${name}`,
  ];
}

/**
 * Writes the files (atomically each, provider/scripts/write-files.sh) and enables units; reloads
 * systemd if there is one. Nothing for no files.
 */
export function writeFilesScript(files: PersistedFile[]): string {
  if (files.length === 0) return "";
  const lines = [hostScript("write-files.sh")];
  for (const f of files) {
    lines.push(shellJoin(["write_file", f.path, f.content, ...(f.mode ? [f.mode] : [])]));
    if (f.enableLink) lines.push(shellJoin(["link_file", f.path, f.enableLink]));
  }
  if (files.some((f) => f.enableLink)) lines.push(DAEMON_RELOAD);
  return lines.join("\n");
}

/** Makes systemd read its unit files again, where systemd runs (best effort: never fails). */
export const DAEMON_RELOAD =
  "if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi";

/**
 * Removes the files, any temporary copy of theirs (`<path>.tmp.<pid>`, see writeFilesScript), and
 * the script directory once it is empty.
 */
export function removeFilesScript(paths: string[]): string {
  // with the temporaries a write cut short left (a power cut between the write and its rename)
  const files = paths.map((p) => `${shellQuote(p)} ${shellQuote(`${p}.tmp`)}.*`);
  return paths.length === 0 ? ":" : `rm -f ${files.join(" ")}; rmdir ${SCRIPT_DIR} 2>/dev/null || true`;
}

/** The mark of the sections {@link readFilesScript} prints, one a file, named by its path. */
const FILE_MARK = "#file";

/** Prints each existing file as a section: `#file <path>`, then its content. */
export function readFilesScript(paths: string[]): string {
  return paths
    .map((p) => `if [ -f ${shellQuote(p)} ]; then ${sectionStart(FILE_MARK, p)}; cat ${shellQuote(p)}; echo; fi`)
    .join("\n");
}

/** The files {@link readFilesScript} printed, by path. */
export function parseFiles(text: string): Map<string, string> {
  const { "": _before, ...files } = splitSections(text, FILE_MARK);
  return new Map(Object.entries(files).map(([p, lines]) => [p, lines.join("\n").replace(/\n$/, "")]));
}
