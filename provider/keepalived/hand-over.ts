/**
 * The hand-over of a site's own keepalived blocks to pulumi-lvs (`adopt: "exact"` on a
 * keepalived-engine VirtualService or on a VrrpInstance): the block moves from the site's
 * configuration into pulumi-lvs's files without keepalived noticing more than a reload.
 *
 * 1. Read: keepalived's configuration as keepalived reads it (the provider's reader,
 *    ./conf), every file under /etc/keepalived, and keepalived's process ({@link readSite}).
 * 2. Compare: the block must mean what the resource declares. Both are rendered by pulumi-lvs's own
 *    renderer (./render) and compared line by line ({@link renderedDifferences}): anything that
 *    differs fails the create, naming it, before the host is touched.
 * 3. Move, with the host's lock held (provider/scripts/keepalived-hand-over.sh): the block's lines
 *    are commented out where they are (every other line keeps its number), pulumi-lvs's files are
 *    written, the main file gets pulumi-lvs's include line if it lacks it, and `keepalived -t`
 *    must accept the result, or everything is put back.
 * 4. Reload (./daemon: a signal to the running keepalived, never a restart). keepalived keeps a
 *    virtual server whose key is in the old and the new configuration, with its real servers, and
 *    a VRRP instance of the same name keeps its role and its VIPs.
 */
import type { PersistedFile } from "../host/persist";
import { writeFilesScript } from "../host/persist";
import { shellScriptWith } from "../scripts";
import { sectionsScript, splitSections } from "../scripts/sections";
import { CommandError, shellQuote, type Transport } from "../transport/transport";
import { type ConfSecret, type KeepalivedConf, mapFiles, type ReadObject, readKeepalivedConf } from "./conf";
import { reload } from "./daemon";
import { CONF_DIR, INCLUDE_LINE, MAIN_CONF, OWN_DIR } from "./render";

/** What each line of a handed-over block starts with in the site's file afterwards. */
export const HANDED_OVER_PREFIX = "#pulumi-lvs-handed-over# ";

/** The site's keepalived as the hand-over reads it. */
export interface Site {
  /** The pids of the running keepalived processes (none: it is not running). */
  pids: number[];
  /** The configuration file keepalived was started with (its `-f`), or the default. */
  conf: string;
  /** Every file under /etc/keepalived, by path. */
  files: Map<string, string>;
  /** The configuration, read from {@link MAIN_CONF} as keepalived does. */
  read: KeepalivedConf;
}

const MARK = "#pulumi-lvs:site";

/** One round trip, reading only: keepalived's pids and `-f`, and every file under /etc/keepalived (≤ 1 MiB each). */
export function siteScript(): string {
  return [
    sectionsScript(MARK, [
      ["pids", "pidof keepalived 2>/dev/null || true"],
      ["cmdline", 'p=$(pidof -s keepalived 2>/dev/null) && tr "\\0" "\\n" <"/proc/$p/cmdline" || true'],
    ]),
    "find /etc/keepalived -type f -size -1025k 2>/dev/null | sort | while IFS= read -r f; do " +
      `printf '%s file %s\\n' '${MARK}' "$f"; cat "$f"; echo; done`,
    "exit 0",
  ].join("\n");
}

/** Parses {@link siteScript}'s output (exported for tests). */
export function parseSite(out: string): Site {
  const sec = splitSections(out, MARK);
  const files = new Map<string, string>();
  for (const [name, lines] of Object.entries(sec))
    if (name.startsWith("file ")) files.set(name.slice(5), lines.join("\n").replace(/\n$/, ""));
  const pids = (sec.pids ?? []).join(" ").split(/\s+/).filter(Boolean).map(Number);
  return { pids, conf: confOf(sec.cmdline ?? []), files, read: readKeepalivedConf(mapFiles(files), MAIN_CONF) };
}

/** The configuration file of keepalived's command line (`-f F`, `-fF`, `--use-file[=]F`), or the default. */
function confOf(words: string[]): string {
  let conf = MAIN_CONF;
  for (const [i, w] of words.entries()) {
    const prev = words[i - 1];
    if (prev === "-f" || prev === "--use-file") conf = w;
    else if (w.startsWith("--use-file=")) conf = w.slice("--use-file=".length);
    else if (/^-f./.test(w)) conf = w.slice(2);
  }
  return conf;
}

export async function readSite(t: Transport): Promise<Site> {
  const r = await t.run(siteScript());
  if (r.code !== 0) throw new CommandError(t.label, "read keepalived's configuration", r);
  return parseSite(r.stdout);
}

/** Whether a file is one of pulumi-lvs's own (its blocks are never handed over again). */
export function isOwnFile(path: string): boolean {
  return path.startsWith(`${OWN_DIR}/`) || path.startsWith(`${CONF_DIR}/pulumi-lvs-`);
}

/** What is handed over: which block, what it is called in messages, and what replaces it. */
export interface HandOver<T> {
  /** In messages: `virtual_server tcp/10.0.0.100:80`, `vrrp_instance VI_1`. */
  what: string;
  /** Whether a block read from the site's configuration is this one (same key or name). */
  matches(o: ReadObject<T>): boolean;
  /** pulumi-lvs's files for the block as the site has it, and as the resource declares it. */
  render(o: ReadObject<T>, conf: KeepalivedConf): PersistedFile[];
  declared: PersistedFile[];
  /** How the files are named in messages (a real server's file: `real server 10.0.0.11:80`). */
  nameOf(path: string): string;
  /** Folders to make before writing (a service's real server folder). */
  make?: string[];
  /** Secret values of the declaration (a VRRP password): named in messages, never quoted. */
  secrets?: string[];
  /** The blocks of its kind in a configuration (virtual servers, or VRRP instances). */
  blocks(c: KeepalivedConf): ReadObject<T>[];
}

/**
 * Where a block's own settings differ between two renderings of the same object, in words: for each
 * file, a line whose first word is on one side only once and on the other with other words is one
 * setting that differs; other lines are on one side only. Lines of `secret` values are named, not
 * quoted.
 */
export function renderedDifferences(
  site: readonly PersistedFile[],
  declared: readonly PersistedFile[],
  nameOf: (path: string) => string,
  secrets: readonly string[] = [],
): string[] {
  const out: string[] = [];
  const hide = (line: string) => (secrets.some((s) => s !== "" && line.includes(s)) ? "(a secret, not shown)" : line);
  const paths = [...new Set([...site, ...declared].map((f) => f.path))];
  for (const path of paths) {
    const name = nameOf(path);
    const a = linesOf(site.find((f) => f.path === path)?.content);
    const b = linesOf(declared.find((f) => f.path === path)?.content);
    if (a === undefined || b === undefined) {
      out.push(`${name}: ${a === undefined ? "not in keepalived's configuration" : "not in the program"}`);
      continue;
    }
    const onlyA = without(a, b);
    const onlyB = without(b, a);
    const key = (l: string) => l.split(/\s+/)[0]!;
    const count = (ls: string[], k: string) => ls.filter((l) => key(l) === k).length;
    for (const l of onlyA) {
      const k = key(l);
      const other = onlyB.find((m) => key(m) === k);
      if (other !== undefined && count(onlyA, k) === 1 && count(onlyB, k) === 1) {
        out.push(
          `${name}: ${k}: keepalived's configuration has \`${hide(l)}\`, the program declares \`${hide(other)}\``,
        );
        onlyB.splice(onlyB.indexOf(other), 1);
      } else out.push(`${name}: keepalived's configuration has \`${hide(l)}\`, the program does not`);
    }
    for (const l of onlyB)
      out.push(`${name}: the program declares \`${hide(l)}\`, keepalived's configuration does not`);
  }
  return out;
}

function linesOf(text: string | undefined): string[] | undefined {
  return text
    ?.split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}

/** The lines of `a` that `b` does not have (as many times as `a` has them more). */
function without(a: string[], b: string[]): string[] {
  const left = [...b];
  return a.filter((l) => {
    const i = left.indexOf(l);
    if (i < 0) return true;
    left.splice(i, 1);
    return false;
  });
}

/** Why a hand-over cannot happen, or nothing: the block and what to do are named. */
export class HandOverError extends Error {
  constructor(host: string, what: string, reasons: string[], remedy: string) {
    super(
      `on ${host}: adopt: "exact": ${what} was not taken over from keepalived's configuration, and nothing was changed:\n` +
        reasons.map((r) => `  - ${r}`).join("\n") +
        `\nWhat to do: ${remedy}`,
    );
    this.name = "HandOverError";
  }
}

const REMEDY =
  "make the program declare what keepalived's configuration has (or run pulumi-lvs import again), or remove adopt to have pulumi-lvs write the block as declared";

/**
 * What `keepalived -t` says of every configuration with pulumi-lvs's files, as an extended regular
 * expression: its notify scripts run as root without `enable_script_security` (keepalived runs them,
 * and says so), and its virtual_server blocks leave the forwarding method to each real server
 * (`lvs_method` there).
 */
export const KNOWN_TEST_COMPLAINTS =
  "SECURITY VIOLATION - (check )?scripts are being executed but script_security not enabled|no forwarding method set, setting default NAT";

/** What `keepalived -t` complained of (its output), less what pulumi-lvs's own files always draw. */
export function testComplaints(output: string): string[] {
  const known = new RegExp(KNOWN_TEST_COMPLAINTS);
  return output
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !known.test(l));
}

/** Exit codes of the hand-over script, for messages. */
const NO_KEEPALIVED = 71;
const CHANGED = 74;
const REJECTED = 73;

/**
 * The site block `h` names, checked: keepalived runs with {@link MAIN_CONF}, the block is in one
 * of the site's files (not pulumi-lvs's) on lines of its own, and it renders as declared. Pure.
 * @returns the block, or the reasons it cannot be handed over
 */
export function siteBlock<T>(site: Site, h: HandOver<T>): ReadObject<T> | string[] {
  if (site.pids.length === 0)
    return ["keepalived is not running: there is nothing running to hand over (start it, or remove adopt)"];
  if (site.conf !== MAIN_CONF)
    return [`keepalived runs with ${site.conf}; pulumi-lvs's keepalived engine works with ${MAIN_CONF}`];
  const found = h.blocks(site.read).filter((o) => !isOwnFile(o.file) && h.matches(o));
  if (found.length === 0)
    return [
      `keepalived's configuration (${MAIN_CONF} and the files it includes: ${site.read.files.join(", ") || "none readable"}) has no such block`,
    ];
  if (found.length > 1)
    return [`it is declared ${found.length} times: ${found.map((o) => `${o.file}:${o.line}`).join(", ")}`];
  const o = found[0]!;
  const obstacles = handOverObstacles(site.read, o);
  if (obstacles.length > 0) return obstacles;
  const secrets = [...site.read.secrets.map((s: ConfSecret) => s.value), ...(h.secrets ?? [])];
  const diffs = renderedDifferences(h.render(o, site.read), h.declared, h.nameOf, secrets);
  return diffs.length > 0 ? diffs.map((d) => `${o.file}:${o.line}: ${d}`) : o;
}

/**
 * Why a block read from the site's configuration cannot move into pulumi-lvs's files as it is
 * (none: it can): its lines are not its own, or it holds a statement pulumi-lvs cannot represent
 * (commenting it out would drop it). Pure; the importer asks the same before it declares a block.
 */
export function handOverObstacles(conf: KeepalivedConf, o: ReadObject<unknown>): string[] {
  if (o.end === undefined)
    return [
      `${o.file}:${o.line}: the block shares a line with another statement, or closes in another file: put it on lines of its own`,
    ];
  return conf.unsupported
    .filter((d) => d.file === o.file && d.line >= o.line && d.line <= o.end!)
    .map((d) => `${d.file}:${d.line}: ${d.what}: ${d.why}, so the block cannot move into pulumi-lvs's files`);
}

/** The text of lines `from`..`to` (1-based) of `text`, as `sed -n from,top` prints them (no last newline). */
export function linesText(text: string, from: number, to: number): string {
  return text
    .split("\n")
    .slice(from - 1, to)
    .join("\n");
}

/**
 * Takes the site block over: checks it ({@link siteBlock}), then, with the host's lock, comments
 * it out and writes pulumi-lvs's files (keepalived-hand-over.sh), then reloads keepalived.
 * Throws {@link HandOverError} (nothing changed) when the block is missing or differs.
 */
export async function handOver<T>(t: Transport, h: HandOver<T>): Promise<void> {
  await t.exclusive(async () => {
    const site = await readSite(t);
    const block = siteBlock(site, h);
    if (Array.isArray(block)) throw new HandOverError(t.label, h.what, block, REMEDY);
    const secrets = [...site.read.secrets.map((s) => s.value), ...(h.secrets ?? [])];
    const script = handOverScript(block, site.files.get(block.file) ?? "", h.declared, h.make ?? []);
    const r = await t.run(script);
    if (r.code === 0) return;
    const hidden = { ...r, stdout: hideAll(r.stdout, secrets), stderr: hideAll(r.stderr, secrets) };
    const remedy: Record<number, string> = {
      [NO_KEEPALIVED]: "install keepalived on this director, then run `pulumi up` again",
      [CHANGED]: "the file changed while pulumi-lvs read it: run `pulumi up` again",
      [REJECTED]:
        "keepalived -t rejected the configuration with the block moved, so everything was put back as it was: see keepalived's words above",
    };
    throw new CommandError(
      t.label,
      `hand ${h.what} (${block.file}:${block.line}-${block.end}) over to pulumi-lvs`,
      hidden,
      remedy[r.code] ?? "see the output above; fix the host, then run `pulumi up` again",
    );
  });
  await reload(t);
}

/** Where keepalived's files are (tests put them elsewhere). */
export interface KeepalivedPaths {
  mainConf: string;
  confDir: string;
  ownDir: string;
  includeLine: string;
}
const PATHS: KeepalivedPaths = { mainConf: MAIN_CONF, confDir: CONF_DIR, ownDir: OWN_DIR, includeLine: INCLUDE_LINE };

/**
 * The script that moves `block` (read from a file whose text was `text`) into `declared`, with
 * the host's lock held by the caller: provider/scripts/keepalived-hand-over.sh, after the
 * functions that write and remove pulumi-lvs's files. Pure.
 */
export function handOverScript(
  block: ReadObject<unknown>,
  text: string,
  declared: readonly PersistedFile[],
  make: readonly string[],
  paths: KeepalivedPaths = PATHS,
): string {
  const end = block.end ?? block.line;
  return [
    `write_own_files() {\n${[...make.map((d) => `mkdir -p ${shellQuote(d)} || return`), writeFilesScript([...declared]) || ":"].join("\n")}\n}`,
    shellScriptWith("keepalived-hand-over.sh", {
      SITE_FILE: block.file,
      START: String(block.line),
      END: String(end),
      EXPECTED: linesText(text, block.line, end),
      PREFIX: HANDED_OVER_PREFIX,
      MAIN_CONF: paths.mainConf,
      INCLUDE_LINE: paths.includeLine,
      CONF_DIR: paths.confDir,
      OWN_DIR: paths.ownDir,
      OWN_FILES: declared.map((f) => f.path).join("\n"),
      KNOWN: KNOWN_TEST_COMPLAINTS,
      NO_KEEPALIVED: String(NO_KEEPALIVED),
      CHANGED: String(CHANGED),
      REJECTED: String(REJECTED),
    }),
  ].join("\n");
}

function hideAll(text: string, secrets: readonly string[]): string {
  return secrets.reduce((acc, s) => (s === "" ? acc : acc.split(s).join("(secret)")), text);
}
