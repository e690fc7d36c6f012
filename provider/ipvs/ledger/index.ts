/**
 * The ledger: the file where a host records the IPVS rules its stacks own, one rule per line in
 * ipvsadm's rule form (rules/words.ts), tagged with its owner. Only this module knows the format:
 * the path, the owner tag, which lines belong to an object, and how to edit the file, in
 * TypeScript (the netlink client writes it itself) and on a host (one awk program,
 * provider/scripts/ledger-edit.awk, for one change and for a batch alike). The Director's boot unit
 * restores the rules through {@link restoreRulesScript}.
 *
 * The contract both IPVS clients keep: the ledger is edited before the kernel, and put back when
 * the kernel refuses, so it may claim what the kernel lacks, never the reverse.
 */
import { hostScript } from "../../scripts";
import { shellQuote } from "../../transport/transport";
import type { Change } from "../change";
import { parseRules, splitHostPort, takeServiceKey } from "../rules/parse";
import { addRealServerArgs, addServiceArgs, realServerAddress, serviceArgs } from "../rules/words";
import type { IpvsTable, RealServerConfig, RealServerKey, ServiceKey, VirtualServiceConfig } from "../types";
import { serviceKeyText } from "../types";

/** Where a host keeps the ledger. */
export const LEDGER = "/var/lib/pulumi-lvs/ipvs.rules";

// ---- the line format

/** The tag a ledger line ends with when its owner is recorded: ` #owner=<percent-encoded owner>`. */
const OWNER_TAG = /\s#owner=(\S+)$/;

/** The ledger line of a rule with its owner (ipvsadm never sees the tag: the boot unit strips it). */
export function ledgerLine(rule: string, owner?: string): string {
  return owner ? `${rule} #owner=${encodeURIComponent(owner)}` : rule;
}

function decodeOwner(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * Parses a ledger: rules whose lines may come in any order (an edited service's line moves to the
 * end), so services are read before real servers; each rule gets its owner.
 */
export function parseLedger(text: string): IpvsTable {
  const lines = text.split("\n").map((l) => l.trim());
  const owners = new Map<string, string>();
  const rules = lines.map((l) => {
    const m = OWNER_TAG.exec(l);
    if (!m) return l;
    const rule = l.slice(0, m.index).trim();
    owners.set(rule, decodeOwner(m[1]!));
    return rule;
  });
  const table = parseRules(
    [...rules.filter((l) => l.startsWith("-A ")), ...rules.filter((l) => l.startsWith("-a "))].join("\n"),
  );
  for (const [rule, owner] of owners) {
    const words = rule.split(/\s+/);
    const cmd = words.shift();
    const { key, rest } = takeServiceKey(words, rule);
    const svc = table.services.find((x) => serviceKeyText(x.config.key) === serviceKeyText(key));
    if (!svc) continue;
    if (cmd === "-A") {
      svc.owner = owner;
      continue;
    }
    const r = rest.indexOf("-r");
    if (r < 0) continue;
    const k = splitHostPort(rest[r + 1] ?? "", rule);
    const rs = svc.realServers.find((x) => x.config.address === k.address && x.config.port === k.port);
    if (rs) rs.owner = owner;
  }
  return table;
}

// ---- which lines an object has, and the edit of a change

/** A service's line starts with these words and a blank. */
export function svcPrefix(k: ServiceKey): string {
  return `-A ${serviceArgs(k).join(" ")} `;
}

/** A real server's line starts with these (without `r`: every real server of the service). */
export function rsPrefix(k: ServiceKey, r?: RealServerKey): string {
  return `-a ${serviceArgs(k).join(" ")} -r ${r ? `${realServerAddress(r)} ` : ""}`;
}

/** An edit of the ledger: the lines of the objects named by `prefixes` are replaced by `lines`. */
export interface LedgerEdit {
  prefixes: readonly string[];
  lines: readonly string[];
}

/** The ledger edit of a change: the object's line replaced (a service's delete takes its real servers). */
export function ledgerEditOf(c: Change): LedgerEdit {
  if (c.rs) {
    const config = c.config as RealServerConfig | undefined;
    return {
      prefixes: [rsPrefix(c.service, c.rs)],
      lines: config ? [ledgerLine(addRealServerArgs(c.service, config).join(" "), c.owner)] : [],
    };
  }
  const config = c.config as VirtualServiceConfig | undefined;
  return c.kind === "delete"
    ? { prefixes: [svcPrefix(c.service), rsPrefix(c.service)], lines: [] }
    : {
        prefixes: [svcPrefix(c.service)],
        lines: config ? [ledgerLine(addServiceArgs(config).join(" "), c.owner)] : [],
      };
}

// ---- editing the text (as ledger-edit.awk does on a host)

/**
 * Several edits of distinct objects in one pass over the text: each line is looked up by its first
 * 2..8 words, and `-f 8` does not take `-f 8 -6` (the IPv6 fwmark 8).
 * @returns the new text and, per edit, the lines it replaced
 */
export function editLedgerText(text: string, edits: readonly LedgerEdit[]): { text: string; replaced: string[][] } {
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

// ---- editing on a host (shell)

/** Shell that makes sure the ledger file exists (once per round trip: the scripts below assume it). */
export function ledgerExists(ledger: string): string {
  const dir = shellQuote(ledger.slice(0, ledger.lastIndexOf("/")) || "/");
  const f = shellQuote(ledger);
  // shell builtins when both exist already (the usual case): no process to start
  return `{ [ -d ${dir} ] || mkdir -p ${dir}; } && { [ -e ${f} ] || : >> ${f}; }`;
}

/**
 * Shell that applies the edits to the ledger (which must exist) in one pass of ledger-edit.awk and
 * renames the new file over the old one. With `old`, the lines each edit replaced are printed, as
 * `#old <edit> <line>` (see {@link parseOldLines}), on standard output.
 */
export function ledgerEditScript(ledger: string, edits: readonly LedgerEdit[], opts: { old?: boolean } = {}): string {
  const f = shellQuote(ledger);
  const prefixes = edits.flatMap((e, i) => e.prefixes.map((p) => shellQuote(`${i} ${p}`)));
  const lines = edits.flatMap((e) => e.lines);
  // printf is the shell's own: no argument limit for the prefixes
  const awk =
    `printf '%s\\n' ${[...prefixes, "'#end'"].join(" ")} | awk -v old=${opts.old ? 1 : 0} ` +
    `${shellQuote(hostScript("ledger-edit.awk"))} - ${f}`;
  const add = lines.length > 0 ? ` printf '%s\\n' ${lines.map(shellQuote).join(" ")};` : " :;";
  return opts.old
    ? `{ { ${awk} 2>&3 &&${add} } > ${f}.tmp && mv ${f}.tmp ${f}; } 3>&1`
    : `{ ${awk} &&${add} } > ${f}.tmp && mv ${f}.tmp ${f}`;
}

/** The lines each edit replaced, from what {@link ledgerEditScript} printed with `old`. */
export function parseOldLines(text: string, n: number): string[][] {
  const old: string[][] = Array.from({ length: n }, () => []);
  for (const line of text.split("\n")) {
    const m = /^#old (\d+) (.*)$/.exec(line);
    if (m) old[Number(m[1])]?.push(m[2]!);
  }
  return old;
}

/** {@link ledgerEditScript}, when there is a ledger (a delete on a host without one changes nothing). */
export function ledgerEditIfAnyScript(ledger: string, edits: readonly LedgerEdit[]): string {
  return `[ ! -e ${shellQuote(ledger)} ] || { ${ledgerEditScript(ledger, edits)}; }`;
}

/**
 * Shell that edits the ledger (which must exist), then runs `command`; if the command fails, the
 * ledger is restored from the copy taken before and the command's exit status returned.
 */
export function withLedgerFirst(ledger: string, editScript: string, command: string): string {
  const f = shellQuote(ledger);
  const prev = shellQuote(`${ledger}.prev`);
  return (
    `cp ${f} ${prev} && { ${editScript}; } && ` +
    `{ ${command} || { rc=$?; mv ${prev} ${f}; (exit $rc); }; } && rm -f ${prev}`
  );
}

/** Shell that restores the rules the ledger holds with `ipvsadm -R` (nothing when it is empty or absent). */
export function restoreRulesScript(ledger: string = LEDGER): string {
  const f = shellQuote(ledger);
  return `[ ! -s ${f} ] || awk ${shellQuote(hostScript("ledger-rules.awk"))} ${f} | ipvsadm -R`;
}
