/**
 * The files a keepalived configuration reader sees, and how `include` finds them, the way keepalived
 * does it (acassen/keepalived, lib/parser.c at 9cbce3e2, `check_include`, `open_and_check_glob`,
 * `open_conf_file`):
 * - a line whose first word is `include` (or `includer`, `includem`, `includew`, `includeb`,
 *   `includea`: the same, with other error reporting) names a pattern: the rest of the line;
 * - the pattern goes to glob(3) with `GLOB_MARK | GLOB_BRACE`: `*`, `?`, `[...]` and `{a,b}`;
 *   glob sorts its matches (brace alternatives are globbed one after the other, each sorted);
 *   matches that are directories (marked with a trailing `/`) are skipped;
 * - before reading a file whose name has a `/`, keepalived `chdir`s to that file's directory, so a
 *   relative pattern is relative to the directory of the file that includes it.
 * Pure: no I/O here; the caller supplies {@link ConfFiles}.
 */
import { posix } from "node:path";

/** Where the reader gets files: read over SSH by the importer, a Map in tests. */
export interface ConfFiles {
  /** A file's text, or undefined when there is none. */
  read(path: string): string | undefined;
  /** The paths matching an absolute glob pattern (`*`, `?`, `[...]`; no braces: the reader expands them). */
  glob(pattern: string): string[];
}

/** `{a,b}` alternatives expanded, left to right, as glibc's GLOB_BRACE does. */
export function expandBraces(pattern: string): string[] {
  const open = pattern.indexOf("{");
  if (open < 0) return [pattern];
  let depth = 0;
  const commas: number[] = [];
  for (let i = open; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "{") depth++;
    else if (c === "}" && --depth === 0) {
      const cuts = [open, ...commas, i];
      const alts = cuts.slice(1).map((end, k) => pattern.slice(cuts[k]! + 1, end));
      const rest = pattern.slice(i + 1);
      return alts.flatMap((a) => expandBraces(`${pattern.slice(0, open)}${a}${rest}`));
    } else if (c === "," && depth === 1) commas.push(i);
  }
  return [pattern];
}

/** Byte order, as glob(3) sorts in the C locale keepalived runs in. */
function byteOrder(a: string, b: string): number {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return Buffer.compare(x, y);
}

/**
 * The files an `include` pattern reads, in keepalived's order: relative to `fromDir`, braces
 * expanded, each alternative's matches sorted, directories skipped.
 */
export function includedFiles(files: ConfFiles, pattern: string, fromDir: string): string[] {
  const absolute = posix.isAbsolute(pattern) ? pattern : posix.join(fromDir, pattern);
  return expandBraces(absolute).flatMap((alt) => [...files.glob(alt)].sort(byteOrder).filter((p) => !p.endsWith("/")));
}

/** A glob(3) pattern as a regular expression over one path ( `*` and `?` stop at `/` and leading dots). */
export function globRegExp(pattern: string): RegExp {
  const segments = pattern.split("/").map((seg) => {
    let out = seg.startsWith(".") ? "" : "(?!\\.)";
    for (let i = 0; i < seg.length; i++) {
      const c = seg[i]!;
      const close = c === "[" ? seg.indexOf("]", i + 2) : -1;
      if (c === "*") out += "[^/]*";
      else if (c === "?") out += "[^/]";
      else if (close > 0) {
        const body = seg
          .slice(i + 1, close)
          .replace(/^!/, "^")
          .replace(/\\/g, "\\\\");
        out += `[${body}]`;
        i = close;
      } else out += c.replace(/[.+^${}()|\\\]]/g, "\\$&");
    }
    return out;
  });
  return new RegExp(`^${segments.join("/")}$`);
}

/** {@link ConfFiles} over a map of path to text (tests, or files already fetched). */
export function mapFiles(map: ReadonlyMap<string, string>): ConfFiles {
  return {
    read: (path) => map.get(path),
    glob: (pattern) => {
      const re = globRegExp(pattern);
      return [...map.keys()].filter((p) => re.test(p));
    },
  };
}
