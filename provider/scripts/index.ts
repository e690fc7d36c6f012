/**
 * The scripts that run on hosts, as files (shellcheck reads the shell ones in `npm run lint`). Each
 * is read once; callers give it its arguments (awk -v, positional parameters), never splice values
 * into its text.
 */
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { shellQuote } from "../transport/transport";

// compiled, this module is dist/provider/scripts/index.js and the files stay in provider/scripts/
const FOLDERS = [__dirname, path.resolve(__dirname, "../../../provider/scripts")];
const cache = new Map<string, string>();

/**
 * The text of a host script under provider/scripts/ (for example `ledger-edit.awk`), as it travels
 * inline: an awk program without its comment lines, a shell script without its opening comments.
 */
export function hostScript(name: string): string {
  let text = cache.get(name);
  if (text === undefined) {
    const file = FOLDERS.map((d) => path.join(d, name)).find((f) => existsSync(f));
    if (!file) throw new Error(`pulumi-lvs is missing its host script ${name} (looked in ${FOLDERS.join(", ")})`);
    text = readFileSync(file, "utf8");
    const lines = text.split("\n");
    if (name.endsWith(".awk")) text = lines.filter((l) => l.trim() !== "" && !l.trimStart().startsWith("#")).join("\n");
    else text = lines.slice(lines.findIndex((l) => !l.startsWith("#"))).join("\n");
    cache.set(name, text);
  }
  return text;
}

/** A shell script from provider/scripts/ with its positional parameters set (`set --`, no process). */
export function shellScript(name: string, args: readonly string[]): string {
  return `set -- ${args.map(shellQuote).join(" ")}\n${hostScript(name)}`;
}
