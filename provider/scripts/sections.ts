/**
 * Scripts that print their output in named sections, in one round trip: each section starts with
 * a line `<mark> <name>`. One builder and one splitter for all of them (the IPVS snapshot, the
 * host and keepalived reads, the files read back, the apply's announcements, the one-pass batch,
 * doctor).
 */
import { shellQuote } from "../transport/transport";

/** The shell line that starts section `name` (any text: a file's path, say). */
export function sectionStart(mark: string, name: string): string {
  return `echo ${shellQuote(`${mark} ${name}`)}`;
}

/** A script of sections: each name's line, then its commands. */
export function sectionsScript(mark: string, sections: Array<[name: string, commands: string]>): string {
  return sections.flatMap(([name, commands]) => [sectionStart(mark, name), commands]).join("\n");
}

/**
 * The lines of each section, by name; lines before the first mark go to "". A name repeated
 * continues its section.
 */
export function splitSections(text: string, mark: string): Record<string, string[]> {
  const out: Record<string, string[]> = { "": [] };
  let cur = "";
  for (const line of text.split("\n")) {
    if (line === mark || line.startsWith(`${mark} `)) {
      cur = line.slice(mark.length).trim();
      out[cur] ??= [];
    } else out[cur]!.push(line);
  }
  return out;
}
