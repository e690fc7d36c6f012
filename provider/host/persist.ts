/**
 * Persistence across reboots, the way a Debian/Ubuntu/RHEL host does it:
 * - sysctls in /etc/sysctl.d/ (applied by systemd-sysctl at boot),
 * - modules in /etc/modules-load.d/ (systemd-modules-load),
 * - addresses (and the ordering they need) in a oneshot systemd unit, enabled the way
 *   `systemctl enable` does it (a symlink in multi-user.target.wants),
 * - the IPVS rules pulumi-lvs owns, restored at boot by a oneshot unit from the ledger.
 */
import { shellQuote } from "../transport/transport";

export interface PersistedFile {
  path: string;
  content: string;
  /** Also create this symlink to `path` (unit enablement). */
  enableLink?: string;
  /** Octal mode, e.g. "0755" for a script; default: the umask's. */
  mode?: string;
}

export function unitFile(description: string, script: string, opts: { before?: string } = {}): string {
  return [
    "# managed by pulumi-lvs: do not edit (pulumi up rewrites it, pulumi destroy removes it)",
    "[Unit]",
    `Description=${description}`,
    "DefaultDependencies=no",
    "After=systemd-sysctl.service systemd-modules-load.service network-pre.target",
    `Before=${opts.before ?? "network.target"}`,
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
 * the first failure), and that script. Keeping the commands in a script spares them systemd's own
 * quoting rules.
 */
export function unit(name: string, description: string, commands: string[]): PersistedFile[] {
  const script = `${SCRIPT_DIR}/${name.replace(/\.service$/, "")}.sh`;
  return [
    {
      path: script,
      content: ["#!/bin/sh", "# managed by pulumi-lvs: run at boot by " + name, "set -e", ...commands, ""].join("\n"),
    },
    {
      path: `/etc/systemd/system/${name}`,
      content: unitFile(description, script),
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

/** Writes the files (atomically each) and enables units; reloads systemd if there is one. */
export function writeFilesScript(files: PersistedFile[]): string {
  const lines: string[] = [];
  for (const f of files) {
    const dir = f.path.slice(0, f.path.lastIndexOf("/"));
    const tmp = shellQuote(`${f.path}.tmp`);
    const chmod = f.mode ? ` && chmod ${f.mode} ${tmp}` : "";
    lines.push(
      `mkdir -p ${shellQuote(dir)} && printf '%s' ${shellQuote(f.content)} > ${tmp}${chmod} && mv ${tmp} ${shellQuote(f.path)} || exit 1`,
    );
    if (f.enableLink) {
      const ldir = f.enableLink.slice(0, f.enableLink.lastIndexOf("/"));
      lines.push(`mkdir -p ${shellQuote(ldir)} && ln -sf ${shellQuote(f.path)} ${shellQuote(f.enableLink)} || exit 1`);
    }
  }
  if (files.some((f) => f.enableLink))
    lines.push(
      "if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi",
    );
  return lines.join("\n");
}

/** Removes the files, and the script directory once it is empty. */
export function removeFilesScript(paths: string[]): string {
  return paths.length === 0 ? ":" : `rm -f ${paths.map(shellQuote).join(" ")}; rmdir ${SCRIPT_DIR} 2>/dev/null || true`;
}

/** Prints each existing file as `#file <path>` followed by its content. */
export function readFilesScript(paths: string[]): string {
  return paths
    .map((p) => `if [ -f ${shellQuote(p)} ]; then echo ${shellQuote(`#file ${p}`)}; cat ${shellQuote(p)}; echo; fi`)
    .join("\n");
}

export function parseFiles(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let cur: string | undefined;
  let buf: string[] = [];
  const flush = () => {
    if (cur !== undefined) out.set(cur, buf.join("\n").replace(/\n$/, ""));
  };
  for (const line of text.split("\n")) {
    if (line.startsWith("#file ")) {
      flush();
      cur = line.slice(6);
      buf = [];
    } else buf.push(line);
  }
  flush();
  return out;
}
