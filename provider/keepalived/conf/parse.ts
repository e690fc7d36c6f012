/**
 * keepalived's configuration syntax, read into a tree of statements with the file and line of each
 * (acassen/keepalived, lib/parser.c at 9cbce3e2: `decomment`, `read_line`):
 * - `#` and `!` outside double quotes start a comment to the end of the line (`\#`, `\!` are the
 *   characters themselves); a line ending in `\` continues on the next;
 * - words are separated by blanks; `"..."` is one word; `{` and `}` outside quotes open and close
 *   the block of the statement before them (a `{` may stand on the next line);
 * - `include` lines are replaced by the files they name ({@link includedFiles});
 * - `@id` / `@^id` conditional lines, `$NAME=` definitions (and lines that use them) and `~SEQ` /
 *   `~LST` lines are not evaluated: each is reported as unsupported, with its file and line.
 */
import { posix } from "node:path";
import { type ConfFiles, includedFiles } from "./files";

/** Something the reader could not take over, or a warning: where, what, and why. */
export interface Diagnostic {
  file: string;
  line: number;
  /** The construct, as written (never a secret: a password is named, not quoted). */
  what: string;
  why: string;
}

/** One statement: its keyword, its other words, where it is, and its block if it has one. */
export interface ConfNode {
  keyword: string;
  args: string[];
  file: string;
  line: number;
  block?: ConfNode[];
  /** Where its block's closing brace is (absent while the block is not closed). */
  end?: { file: string; line: number };
}

/** A configuration read into statements, with what the syntax pass could not take over. */
export interface ParsedConf {
  nodes: ConfNode[];
  /** Constructs not evaluated (conditionals, definitions, sequences) and syntax faults. */
  unsupported: Diagnostic[];
  /** Includes that matched no file, include loops. */
  warnings: Diagnostic[];
  /** The files read, in reading order. */
  files: string[];
}

/** A word of a line; `brace` for an unquoted `{` or `}`. */
interface Word {
  text: string;
  brace: boolean;
}
interface Line {
  file: string;
  line: number;
  words: Word[];
}

/** How deep includes may nest before the reader calls it a loop. */
const MAX_INCLUDE_DEPTH = 16;

/** A line without its comment, blanks trimmed, `\#` and `\!` unescaped; `continued` when it ended in `\`. */
export function decomment(text: string): { text: string; continued: boolean } {
  let out = "";
  let quote = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') quote = !quote;
    else if (c === "\\") {
      if (i + 1 === text.length) return { text: out.trim(), continued: true };
      const next = text[i + 1]!;
      out += !quote && (next === "#" || next === "!") ? next : c + next;
      i++;
      continue;
    } else if (!quote && (c === "#" || c === "!")) break;
    out += c;
  }
  return { text: out.trim(), continued: false };
}

/** The words of a decommented line: quoted strings whole (without quotes), braces apart. */
export function wordsOf(text: string): Word[] {
  const out: Word[] = [];
  const re = /"([^"]*)"?|([{}])|([^\s{}"]+)/g;
  for (const m of text.matchAll(re)) {
    if (m[1] !== undefined) out.push({ text: m[1], brace: false });
    else if (m[2] !== undefined) out.push({ text: m[2], brace: true });
    else out.push({ text: m[3]!, brace: false });
  }
  return out;
}

/** The logical lines of one file: comments gone, continuations joined (numbered by their first line). */
function logicalLines(text: string): Array<{ line: number; text: string }> {
  const out: Array<{ line: number; text: string }> = [];
  let pending: { line: number; text: string } | undefined;
  text.split(/\r?\n/).forEach((raw, i) => {
    const { text: t, continued } = decomment(raw);
    const joined = pending ? { line: pending.line, text: `${pending.text} ${t}`.trim() } : { line: i + 1, text: t };
    pending = continued ? joined : undefined;
    if (!continued && joined.text !== "") out.push(joined);
  });
  if (pending && pending.text !== "") out.push(pending);
  return out;
}

const INCLUDE = /^include[rmwba]?\s+(.+)$/;

/** Why a line is not evaluated, by its first character(s); undefined for an ordinary line. */
function notEvaluated(text: string, haveDefinitions: boolean): { what: string; why: string } | undefined {
  if (text.startsWith("@"))
    return {
      what: `conditional line ${text.split(/\s/)[0]}`,
      why: "keepalived keeps it only when started with a matching config id (-i); the reader does not evaluate conditions",
    };
  if (text.startsWith("$"))
    return { what: `definition ${text.split("=")[0]}`, why: "parameter definitions are not expanded by the reader" };
  if (text.startsWith("~"))
    return { what: `sequence ${text.split(/[\s(]/)[0]}`, why: "~SEQ and ~LST lines are not expanded by the reader" };
  if (haveDefinitions && text.includes("$"))
    return { what: "line using a $definition", why: "parameter definitions are not expanded by the reader" };
  return undefined;
}

/** State of one read: the lines so far and the diagnostics. */
interface Reading {
  files: ConfFiles;
  lines: Line[];
  parsed: ParsedConf;
  definitions: boolean;
}

function readFile(r: Reading, path: string, depth: number): void {
  const text = r.files.read(path);
  if (text === undefined) {
    r.parsed.warnings.push({ file: path, line: 0, what: path, why: "cannot be read" });
    return;
  }
  r.parsed.files.push(path);
  for (const { line, text: t } of logicalLines(text)) {
    const skip = notEvaluated(t, r.definitions);
    if (skip) {
      if (t.startsWith("$")) r.definitions = true;
      r.parsed.unsupported.push({ file: path, line, ...skip });
      continue;
    }
    const include = INCLUDE.exec(t);
    if (include) readInclude(r, include[1]!.trim(), { file: path, line }, depth);
    else r.lines.push({ file: path, line, words: wordsOf(t) });
  }
}

function readInclude(r: Reading, pattern: string, at: { file: string; line: number }, depth: number): void {
  if (depth >= MAX_INCLUDE_DEPTH) {
    r.parsed.warnings.push({ ...at, what: `include ${pattern}`, why: "includes nest too deep (a loop?): not read" });
    return;
  }
  const found = includedFiles(r.files, pattern, posix.dirname(at.file));
  if (found.length === 0)
    r.parsed.warnings.push({ ...at, what: `include ${pattern}`, why: "matches no file (keepalived skips it too)" });
  for (const f of found) readFile(r, f, depth + 1);
}

/**
 * Reads a keepalived configuration from its main file (following includes) into statements.
 * Pure: every file comes through `files`. Never throws on a configuration's content.
 */
export function parseConf(files: ConfFiles, main: string): ParsedConf {
  const parsed: ParsedConf = { nodes: [], unsupported: [], warnings: [], files: [] };
  const r: Reading = { files, lines: [], parsed, definitions: false };
  readFile(r, main, 0);
  parsed.nodes = buildTree(r.lines, parsed.unsupported);
  return parsed;
}

/** Statements and their blocks from lines of words. */
function buildTree(lines: Line[], unsupported: Diagnostic[]): ConfNode[] {
  const root: ConfNode[] = [];
  const stack: ConfNode[][] = [root];
  const open: ConfNode[] = [];
  for (const l of lines) {
    let current: ConfNode | undefined;
    for (const w of l.words) {
      const top = stack[stack.length - 1]!;
      if (w.brace && w.text === "{") {
        const last = top[top.length - 1];
        const owner = current ?? (last && !last.block ? last : undefined);
        const node = owner ?? { keyword: "", args: [], file: l.file, line: l.line };
        if (!owner) {
          top.push(node);
          unsupported.push({ file: l.file, line: l.line, what: "{", why: "a block without a keyword" });
        }
        node.block = [];
        stack.push(node.block);
        open.push(node);
        current = undefined;
      } else if (w.brace) {
        current = undefined;
        if (stack.length > 1) {
          stack.pop();
          open.pop()!.end = { file: l.file, line: l.line };
        } else unsupported.push({ file: l.file, line: l.line, what: "}", why: "closes no block" });
      } else if (current) current.args.push(w.text);
      else {
        current = { keyword: w.text, args: [], file: l.file, line: l.line };
        top.push(current);
      }
    }
  }
  for (const n of open)
    unsupported.push({ file: n.file, line: n.line, what: n.keyword, why: "its block is not closed" });
  return root;
}
