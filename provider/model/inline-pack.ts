/**
 * The compact form of a VirtualService's inline real server: one canonical JSON string per entry
 * of `realServers` (the map stays keyed by `address[:port]`). Pulumi encodes and logs a string far
 * faster than a nested object (10,000 entries: a no-op `up` about twice as fast), and
 * `preview --diff` still shows each entry's fields (the CLI renders JSON strings as objects).
 *
 * Canonical: keys sorted (at every depth), undefined dropped, and every setting at its default
 * ({@link REAL_SERVER_DEFAULTS}) left out, so that one entry has one text. The SDK packs with these
 * functions too: this module loads nothing at run time (no zod, no provider code).
 */
import type { InlineRealServer } from "./real-server";

/** The settings a real server takes when they are left out (the schema's defaults, and what packing drops). */
export const REAL_SERVER_DEFAULTS = {
  forwarding: "dr",
  weight: 1,
  upperThreshold: 0,
  lowerThreshold: 0,
} as const;

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** JSON with the keys of every object sorted and undefined values dropped. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? "null" : canonicalJson(x))).join(",")}]`;
  if (isRecord(v)) {
    return `{${Object.keys(v)
      .filter((k) => v[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v) ?? "null";
}

/**
 * One inline real server's settings as one canonical string: keys sorted, undefined and defaults
 * left out (`{"weight":3}`; all defaults: `{}`). Given anything but an object (a mistake the
 * provider's check reports), the value's JSON.
 */
export function packInlineEntry(entry: unknown): string {
  if (!isRecord(entry)) return canonicalJson(entry);
  const defaults: Record<string, unknown> = REAL_SERVER_DEFAULTS;
  return canonicalJson(
    Object.fromEntries(Object.entries(entry).filter(([k, v]) => !(Object.hasOwn(defaults, k) && defaults[k] === v))),
  );
}

/**
 * An inline real server's settings from either form: a packed string (its defaults put back) or an
 * object (the form before packing, as given). A string that is not a JSON object is returned as it
 * is, for the provider's check to report.
 */
export function unpackInlineEntry(value: unknown): InlineRealServer {
  if (typeof value !== "string") return value as InlineRealServer;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return value as never;
  }
  return (isRecord(parsed) ? { ...REAL_SERVER_DEFAULTS, ...parsed } : parsed) as InlineRealServer;
}
