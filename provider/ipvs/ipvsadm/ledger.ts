import { shellQuote } from "../../transport/transport";
import type { RealServerKey, ServiceKey } from "../types";
import { realServerAddress, serviceArgs } from "./command";

// Shell that keeps the ledger: the file where a host records what pulumi-lvs owns, one rule per
// line in ipvsadm -S form, tagged with its owner (see parse.ts, ledgerLine). Every edit writes a
// new file and renames it over the old one.

/**
 * Awk condition: the ledger line ($0) belongs to the object named by the prefix in awk variable
 * `v` (its naming words, then a blank). `-f 8 ` must not take `-f 8 -6 …` (IPv6 fwmark 8).
 */
export function ledgerLineStartsWith(v: string): string {
  return `(index($0 " ", ${v}) == 1 && substr($0 " ", length(${v}) + 1, 3) != "-6 ")`;
}

/** Shell that makes sure the ledger file exists (once per round trip: the scripts below assume it). */
export function ledgerExists(ledger: string): string {
  const dir = shellQuote(ledger.slice(0, ledger.lastIndexOf("/")) || "/");
  const f = shellQuote(ledger);
  // shell builtins when both exist already (the usual case): no process to start
  return `{ [ -d ${dir} ] || mkdir -p ${dir}; } && { [ -e ${f} ] || : >> ${f}; }`;
}

/**
 * Shell that updates the ledger (which must exist), then runs `command`; if the command fails, the
 * ledger is restored from the copy taken before and the command's exit status returned.
 */
export function withLedgerFirst(ledger: string, ledgerScript: string, command: string): string {
  const f = shellQuote(ledger);
  const prev = shellQuote(`${ledger}.prev`);
  return (
    `cp ${f} ${prev} && { ${ledgerScript}; } && ` +
    `{ ${command} || { rc=$?; mv ${prev} ${f}; (exit $rc); }; } && rm -f ${prev}`
  );
}

/**
 * Shell that replaces every ledger line starting with one of the prefixes by `lines` (none: the
 * lines are dropped). The ledger must exist ({@link ledgerExists}).
 */
export function ledgerSet(ledger: string, prefixes: string[], lines: string[]): string {
  const f = shellQuote(ledger);
  const conds = prefixes.map((_, i) => `!${ledgerLineStartsWith(`p${i}`)}`).join(" && ");
  const vars = prefixes.map((p, i) => `-v p${i}=${shellQuote(p)}`).join(" ");
  const add = lines.length > 0 ? ` printf '%s\\n' ${lines.map(shellQuote).join(" ")};` : "";
  return `{ awk ${vars} ${shellQuote(conds)} ${f};${add} } > ${f}.tmp && mv ${f}.tmp ${f}`;
}

/** Shell that drops every ledger line starting with one of the prefixes, if there is a ledger. */
export function ledgerDrop(ledger: string, prefixes: string[]): string {
  return `[ ! -e ${shellQuote(ledger)} ] || { ${ledgerSet(ledger, prefixes, [])}; }`;
}

/** Ledger lines start with the rule's naming words; these prefixes find a service's line. */
export function svcPrefix(k: ServiceKey): string {
  return `-A ${serviceArgs(k).join(" ")} `;
}

/** The prefix of a real server's ledger line (without `r`: of every real server of the service). */
export function rsPrefix(k: ServiceKey, r?: RealServerKey): string {
  return `-a ${serviceArgs(k).join(" ")} -r ${r ? `${realServerAddress(r)} ` : ""}`;
}

/** Whether a ledger line belongs to the object named by `prefix` (as {@link ledgerLineStartsWith}). */
export function ledgerLineMatches(line: string, prefix: string): boolean {
  const l = `${line} `;
  return l.startsWith(prefix) && l.slice(prefix.length, prefix.length + 3) !== "-6 ";
}

/**
 * The ledger text with every line of the objects named by `prefixes` replaced by `lines` (none:
 * dropped), as {@link ledgerSet} does on a host, for callers that edit the file themselves.
 * @returns the new text and the lines it replaced
 */
export function ledgerTextSet(
  text: string,
  prefixes: readonly string[],
  lines: readonly string[],
): { text: string; replaced: string[] } {
  const kept: string[] = [];
  const replaced: string[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    if (prefixes.some((p) => ledgerLineMatches(line, p))) replaced.push(line);
    else kept.push(line);
  }
  const all = [...kept, ...lines];
  return { text: all.length > 0 ? `${all.join("\n")}\n` : "", replaced };
}

/**
 * Several {@link ledgerTextSet} edits in one pass over the text (for a group of changes to distinct
 * objects): each line is looked up by its first 2..8 words, as the one-pass awk script does.
 * @returns the new text and, per edit, the lines it replaced
 */
export function ledgerTextEdit(
  text: string,
  edits: ReadonlyArray<{ prefixes: readonly string[]; lines: readonly string[] }>,
): { text: string; replaced: string[][] } {
  const owner = new Map<string, number>();
  edits.forEach((e, i) => {
    for (const p of e.prefixes) owner.set(p, i);
  });
  const replaced: string[][] = edits.map(() => []);
  const kept: string[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const words = line.split(" ");
    let key = words[0]!;
    let hit = -1;
    for (let j = 1; j < Math.min(9, words.length + 1) && hit < 0; j++) {
      const w = words[j];
      const i = owner.get(`${key} `);
      if (i !== undefined && w !== "-6") hit = i;
      if (w === undefined) break;
      key = `${key} ${w}`;
    }
    if (hit >= 0) replaced[hit]!.push(line);
    else kept.push(line);
  }
  const all = [...kept, ...edits.flatMap((e) => e.lines)];
  return { text: all.length > 0 ? `${all.join("\n")}\n` : "", replaced };
}
