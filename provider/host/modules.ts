/** Kernel modules: loaded now (`modprobe -a`), and at boot (modules-load.d(5)). */
import { shellJoin, shellQuote } from "../transport/transport";

/** The command that loads `modules` (every name quoted); `:` when there are none. */
export function modprobeCommand(modules: readonly string[]): string {
  return modules.length === 0 ? ":" : shellJoin(["modprobe", "-a", ...modules]);
}

/** {@link modprobeCommand} that, when a module cannot be loaded, says which ones on standard error and exits 1. */
export function modprobeOrExit(modules: readonly string[]): string {
  if (modules.length === 0) return ":";
  const why = shellQuote(`cannot load kernel modules: ${modules.join(" ")}`);
  return `${modprobeCommand(modules)} || { echo ${why} >&2; exit 1; }`;
}

/** The text of a modules-load.d(5) file that loads `modules` at boot. */
export function modulesLoadConf(modules: readonly string[]): string {
  return `# managed by pulumi-lvs\n${modules.join("\n")}\n`;
}
