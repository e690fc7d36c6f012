/**
 * The ledger: the file where a host records the IPVS rules its stacks own, tagged with their owner.
 * Only this module knows the format: the path, the tags, which lines belong to an object, and how
 * a change is recorded: by shell (printf, a builtin) that both IPVS clients run, the ipvsadm one
 * on a host, the netlink one on this machine (./local.ts), and one awk program,
 * provider/scripts/ledger-replay.awk, for the boot restore and the compaction of a journal that
 * changed since it was read (one that did not is compacted here: {@link Compaction}).
 *
 * The file is a journal, so that a host records a change with shell builtins alone (no process
 * started): each change appends records, later records win.
 * - A rule line in ipvsadm's rule form (rules/words.ts), `-A …` or `-a …`, sets its object (a
 *   service, or one real server of a service), replacing any earlier line of that object. Tags
 *   follow it: ` #owner=<percent-encoded owner>`, then ` #tx=<id>` (the change it belongs to; a
 *   boot restore older than the journal strips both with the owner tag).
 * - `#drop <words>` drops every object whose line starts with those words and a blank.
 * - `#abort <id>` cancels the records of change `<id>` (the kernel refused it).
 * Replaying the journal ({@link replayLedger}) gives the rules it holds; compaction writes that
 * back, once the journal has grown well past it.
 *
 * The contract both IPVS clients keep: the ledger is written before the kernel, and the change
 * cancelled when the kernel refuses, so it may claim what the kernel lacks, never the reverse.
 *
 * Writers (appends, compaction) and the boot restore hold an exclusive flock(2) on a lock file
 * beside the ledger ({@link ledgerLock}): two stacks deployed at once on one director, through
 * either client, then never compact the journal under each other's appends.
 */
import { createHash, randomBytes } from "node:crypto";
import { hostScript } from "../../scripts";
import { shellQuote } from "../../transport/transport";
import type { Change } from "../change";
import { parseRules, splitHostPort, takeServiceKey } from "../rules/parse";
import { addRealServerArgs, addServiceArgs, realServerAddress, serviceArgs } from "../rules/words";
import type { IpvsTable, RealServerConfig, RealServerKey, ServiceKey, VirtualServiceConfig } from "../types";
import { serviceKeyText } from "../types";

/** Where a host keeps the ledger. */
export const LEDGER = "/var/lib/pulumi-lvs/ipvs.rules";

/** What to do when the ledger cannot be written, whichever client writes it. */
export const LEDGER_REMEDY =
  "pulumi-lvs keeps what it owns in this file: run pulumi as root on the director (or with sudo: true), or make its directory writable";

// ---- the line format

/** The tag a ledger line ends with when its owner is recorded: ` #owner=<percent-encoded owner>`. */
const OWNER_TAG = /\s#owner=(\S+)/;
/** The tag of the change a record belongs to: ` #tx=<id>`. */
const TX_TAG = /\s#tx=(\S+)/;
const ABORT = "#abort ";
const DROP = "#drop ";

/**
 * The ledger line of a rule with its owner (ipvsadm never sees the tags: the boot restore strips
 * them), and the change it belongs to.
 */
export function ledgerLine(rule: string, owner?: string, tx?: string): string {
  return `${rule}${owner ? ` #owner=${encodeURIComponent(owner)}` : ""}${tx ? txTag(tx) : ""}`;
}

/** The tag of a record of change `tx` (see TX_TAG). */
function txTag(tx: string): string {
  return ` #tx=${tx}`;
}

function decodeOwner(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** The words that name a rule line's object: a service's key, or its key and the real server's address. */
function objectKey(words: readonly string[]): string {
  const last = words[0] === "-A" ? (words[3] === "-6" ? 3 : 2) : words.indexOf("-r") + 1;
  return words.slice(0, last + 1).join(" ");
}

/**
 * The index of the prefix (of `prefixes`) that names the line's object: its first 2..8 words and
 * a blank, where `-f 8` does not take `-f 8 -6` (the IPv6 fwmark 8). -1: none.
 */
function prefixOf(words: readonly string[], prefixes: ReadonlyMap<string, number>): number {
  if (words.length < 2) return -1;
  let key = `${words[0]} ${words[1]}`;
  for (let j = 2; j < Math.min(9, words.length + 1); j++) {
    const i = prefixes.get(`${key} `);
    if (i !== undefined && words[j] !== "-6") return i;
    if (words[j] === undefined) break;
    key = `${key} ${words[j]}`;
  }
  return -1;
}

/**
 * The records of a journal that are still live, in the order they came: each as written (trimmed,
 * its tags kept) and as the rule it sets (its tx tag dropped). Walking backwards, a record survives
 * when no later record dropped, replaced or aborted it (as ledger-replay.awk does on a host).
 */
function liveRecords(text: string): Array<{ record: string; rule: string }> {
  const lines = text.split("\n").map((l) => l.trim());
  const aborted = new Set<string>();
  const dropped = new Map<string, number>();
  const seen = new Set<string>();
  const kept: Array<{ record: string; rule: string }> = [];
  for (let i = lines.length - 1; i >= 0; i--) {
    const record = lines[i]!;
    let line = record;
    if (line.startsWith(ABORT)) {
      aborted.add(line.slice(ABORT.length).trim().split(/\s+/)[0]!);
      continue;
    }
    const tx = TX_TAG.exec(line);
    if (tx) {
      if (aborted.has(tx[1]!)) continue;
      line = line.slice(0, tx.index) + line.slice(tx.index + tx[0].length);
    }
    if (line.startsWith(DROP)) {
      dropped.set(`${line.slice(DROP.length)} `, 0);
      continue;
    }
    if (!line.startsWith("-A ") && !line.startsWith("-a ")) continue;
    const words = line.split(/\s+/);
    const key = objectKey(words);
    if (seen.has(key)) continue;
    seen.add(key);
    if (prefixOf(words, dropped) < 0) kept.push({ record, rule: line });
  }
  return kept.reverse();
}

/**
 * The rules a ledger holds: its journal replayed (as ledger-replay.awk does on a host). Each line
 * keeps its owner tag; tx tags are dropped.
 */
export function replayLedger(text: string): string[] {
  return liveRecords(text).map((r) => r.rule);
}

/**
 * A compaction worked out here, from the journal as a read found it. Under the ledger's lock, the
 * host writes `records` in its place only while the file is still that journal (its MD5);
 * otherwise (a writer appended since) the awk program compacts what the file holds then. Either
 * way the file ends as ledger-replay.awk would write it; this way the host runs no awk, which on
 * a slow host costs seconds for a journal of 20,000 records.
 */
export interface Compaction {
  /** MD5 (hex) of the journal as read. */
  md5: string;
  /** The journal compacted: its live records, tags kept, in order. */
  records: string[];
}

/**
 * A journal read: the rules it holds and, when it has outgrown them ({@link needsCompaction}), its
 * compaction. One walk of the journal.
 */
export function readJournal(text: string): { rules: string[]; compaction?: Compaction } {
  const live = liveRecords(text);
  const rules = live.map((r) => r.rule);
  return needsCompaction(text, rules.length) ? { rules, compaction: compactionFrom(text, live) } : { rules };
}

/** The compaction of a journal, due or not: its live records, tags kept, in order (what ledger-replay.awk writes, a line each). */
export function compactionOf(text: string): Compaction {
  return compactionFrom(text, liveRecords(text));
}

function compactionFrom(text: string, live: ReadonlyArray<{ record: string }>): Compaction {
  return { md5: md5Of(text), records: live.map((r) => r.record) };
}

/** MD5 (hex) of a journal's text, as md5sum prints it of the file. */
function md5Of(text: string): string {
  return createHash("md5").update(text).digest("hex");
}

/**
 * Parses a ledger: its journal replayed, then services read before real servers (an edited
 * service's line may come after its real servers' lines); each rule gets its owner.
 */
export function parseLedger(text: string): IpvsTable {
  return tableOfRules(replayLedger(text));
}

/** The table of a ledger's rules (as {@link replayLedger} gives them), each with its owner. */
export function tableOfRules(replayed: readonly string[]): IpvsTable {
  const owners = new Map<string, string>();
  const rules = replayed.map((l) => {
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

/** How long the journal is, against the rules it holds: whether compacting it is worth a round trip's two processes. */
export function needsCompaction(text: string, rules = replayLedger(text).length): boolean {
  const records = text.split("\n").filter((l) => l.trim() !== "").length;
  return records > 2 * rules + COMPACT_SLACK;
}

/** Records a journal may hold beyond twice its rules before it is compacted. */
const COMPACT_SLACK = 200;

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

// ---- recording on a host (shell builtins)

/** Shell that makes sure the ledger file exists (once per round trip: the scripts below assume it). */
function ledgerExists(ledger: string): string {
  const dir = shellQuote(ledger.slice(0, ledger.lastIndexOf("/")) || "/");
  const f = shellQuote(ledger);
  // shell builtins when both exist already (the usual case): no process to start
  return `{ [ -d ${dir} ] || mkdir -p ${dir}; } && { [ -e ${f} ] || : >> ${f}; }`;
}

const TX_BASE = `${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
let txCount = 0;

/** A new change id, unique on the host: this process's base and a counter. */
export function newTx(): string {
  txCount += 1;
  return `${TX_BASE}.${txCount}`;
}

/**
 * The journal records of an edit, as change `tx`: its lines (each sets its object), and a drop for
 * each prefix that none of them sets.
 */
export function ledgerRecords(edit: LedgerEdit, tx: string): string[] {
  const set = new Set(edit.lines.map((l) => `${objectKey(l.split(" "))} `));
  const drops = edit.prefixes.filter((p) => !set.has(p)).map((p) => `${DROP}${p.trimEnd()}${txTag(tx)}`);
  return [...drops, ...edit.lines.map((l) => `${l}${txTag(tx)}`)];
}

/** The record that cancels change `tx`. */
export function abortRecord(tx: string): string {
  return `${ABORT}${tx}`;
}

/** Shell that appends records to the ledger (which must exist): printf, a builtin, whatever their number. */
export function appendScript(ledger: string, records: readonly string[]): string {
  return records.length === 0 ? ":" : `${printRecords(records)} >> ${shellQuote(ledger)}`;
}

/** Shell that prints records, a line each: printf, a builtin, whatever their number (at least one). */
function printRecords(records: readonly string[]): string {
  return `printf '%s\\n' ${records.map(shellQuote).join(" ")}`;
}

/**
 * Shell that records `edit` as change `tx` in the ledger (which must exist), then runs `command`;
 * if the command fails, the change is cancelled and the command's exit status returned. No process
 * besides the command's own.
 */
export function withLedgerFirst(ledger: string, edit: LedgerEdit, tx: string, command: string): string {
  return (
    `${appendScript(ledger, ledgerRecords(edit, tx))} && ` +
    `{ ${command} || { lvs_rc=$?; ${appendScript(ledger, [abortRecord(tx)])}; lvs_status $lvs_rc; }; }`
  );
}

/** Shell defining what {@link withLedgerFirst} uses (once per script: a function, no process). */
const LEDGER_FUNCTIONS = 'lvs_status() { return "$1"; }';

/**
 * The lock file of a ledger: beside it, not the ledger itself, whose inode compaction replaces
 * (a writer waiting on the old inode would take a lock nobody else looks at).
 */
export function ledgerLock(ledger: string): string {
  return `${ledger}.lock`;
}

/**
 * Shell that takes the ledger's lock until the shell (and what it started) ends: fd 9 opened on
 * the lock file by a redirection (a builtin; `command` so that a failure is a status, not the
 * shell's exit), then one `flock 9` process, which locks the open file that the shell keeps. The
 * directory must exist. A host without flock (neither util-linux's nor busybox's applet) goes on
 * without the lock, as before there was one: two stacks writing at the very moment one compacts
 * may then lose a record.
 */
function lockScript(ledger: string): string {
  return `command exec 9>>${shellQuote(ledgerLock(ledger))} && { ! command -v flock >/dev/null 2>&1 || flock 9; }`;
}

/**
 * Shell that readies the ledger for appends, once per script, as its last line (its status says
 * whether the ledger is ready): {@link LEDGER_FUNCTIONS}, the file there, its lock taken for the
 * rest of the script, then, with a `compaction`, the journal compacted (a failed compaction leaves
 * it as it was and fails nothing). One process (flock); compacting, md5sum and mv as well while
 * the file is still the journal the compaction was worked out from, else awk and mv.
 */
export function ledgerPrologue(ledger: string, compaction?: Compaction): string {
  const compact = compaction
    ? ` && { { ${compactScript(ledger, compaction)}; } || rm -f ${shellQuote(`${ledger}.tmp`)}; }`
    : "";
  return `${LEDGER_FUNCTIONS}\n${ledgerExists(ledger)} && ${lockScript(ledger)}${compact}`;
}

/**
 * Shell that compacts the journal, then renames the result over it (atomic). The lines it keeps
 * keep their tx tags: an `#abort` appended afterwards still cancels a change that was under way.
 * @param done the compaction worked out from the journal as read: written by the shell's printf
 *   while the file's MD5 is still that journal's; otherwise (and without it) one awk pass
 */
export function compactScript(ledger: string, done?: Compaction): string {
  const f = shellQuote(ledger);
  const replay = `awk ${shellQuote(hostScript("ledger-replay.awk"))} ${f} > ${f}.tmp`;
  if (!done) return `${replay} && mv ${f}.tmp ${f}`;
  const write = `${done.records.length === 0 ? ":" : printRecords(done.records)} > ${f}.tmp`;
  return `if [ "$(md5sum < ${f} 2>/dev/null)" = '${done.md5}  -' ]; then ${write}; else ${replay}; fi && mv ${f}.tmp ${f}`;
}

/**
 * Shell that restores the rules the ledger holds with `ipvsadm -R` (nothing when it is empty or
 * absent), under the ledger's lock (in a subshell: released once ipvsadm is done). The lock is
 * best effort there: a boot whose /var cannot take the lock file still restores the rules.
 */
export function restoreRulesScript(ledger: string = LEDGER): string {
  const f = shellQuote(ledger);
  const restore = `awk -v rules=1 ${shellQuote(hostScript("ledger-replay.awk"))} ${f} | ipvsadm -R`;
  return `[ ! -s ${f} ] || ({ ${lockScript(ledger)}; } 2>/dev/null; ${restore})`;
}
