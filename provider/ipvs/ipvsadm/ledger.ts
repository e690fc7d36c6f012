import { shellQuote } from "../../transport/transport";

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
