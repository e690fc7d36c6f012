/**
 * The scripts that run on hosts, as files (shellcheck reads the shell ones in `npm run lint`). Each
 * is read once; callers give it its arguments (awk -v, positional parameters, named variables),
 * never splice values into its text.
 *
 * A shell script may include another of this folder with a line `. ./<name>.sh` (shellcheck follows
 * it); the included text is put in its place, so that the script still travels as one.
 */
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { shellQuote } from "../transport/transport";

// compiled, this module is dist/provider/scripts/index.js and the files stay in provider/scripts/
const FOLDERS = [__dirname, path.resolve(__dirname, "../../../provider/scripts")];
const files = new Map<string, string>();
const INCLUDE = /^\. \.\/([A-Za-z0-9._-]+\.sh)$/;

/** A file of this folder, as it is. */
function scriptText(name: string): string {
  let text = files.get(name);
  if (text === undefined) {
    const file = FOLDERS.map((d) => path.join(d, name)).find((f) => existsSync(f));
    if (!file) throw new Error(`pulumi-lvs is missing its host script ${name} (looked in ${FOLDERS.join(", ")})`);
    text = readFileSync(file, "utf8");
    files.set(name, text);
  }
  return text;
}

/** A shell script's opening comments (with the `#!` line) and its body, includes put in place. */
function shellParts(name: string): { header: string[]; body: string[] } {
  const lines = scriptText(name).split("\n");
  const start = lines.findIndex((l) => !l.startsWith("#"));
  const body = lines
    .slice(start)
    .filter((l) => !l.trimStart().startsWith("# shellcheck "))
    .flatMap((l) => {
      const m = INCLUDE.exec(l);
      return m ? shellParts(m[1]!).body : [l];
    });
  return { header: lines.slice(0, start), body };
}

/**
 * The text of a host script under provider/scripts/ (for example `ledger-replay.awk`), as it travels
 * inline: an awk program without its comment lines, a shell script without its opening comments.
 */
export function hostScript(name: string): string {
  if (name.endsWith(".awk"))
    return scriptText(name)
      .split("\n")
      .filter((l) => l.trim() !== "" && !l.trimStart().startsWith("#"))
      .join("\n");
  return shellParts(name).body.join("\n");
}

/** A shell script from provider/scripts/ with its positional parameters set (`set --`, no process). */
export function shellScript(name: string, args: readonly string[]): string {
  return `set -- ${args.map(shellQuote).join(" ")}\n${hostScript(name)}`;
}

/** Shell assignments of named variables, one a line. */
function assignments(vars: Readonly<Record<string, string>>): string[] {
  return Object.entries(vars).map(([k, v]) => `${k}=${shellQuote(v)}`);
}

/** A shell script from provider/scripts/ with the named variables it reads set before it. */
export function shellScriptWith(name: string, vars: Readonly<Record<string, string>>): string {
  return [...assignments(vars), hostScript(name)].join("\n");
}

/**
 * A shell script from provider/scripts/ as a file to install on a host: its opening comments
 * kept, then the named variables it reads, then its body.
 */
export function scriptFile(name: string, vars: Readonly<Record<string, string>> = {}): string {
  const { header, body } = shellParts(name);
  return [...header, ...assignments(vars), ...body].join("\n");
}
