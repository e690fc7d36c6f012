/** What every resource's `diff` does: which fields changed, which replace, and observed drift. */
import type * as pulumi from "@pulumi/pulumi";

/** Deep equality of JSON-like values (key order ignored). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  return stable(a) === stable(b);
}

function stable(v: unknown): string {
  if (v === undefined) return "null";
  if (Array.isArray(v)) return `[${v.map(stable).join(",")}]`;
  if (v !== null && typeof v === "object") {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stable(o[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v);
}

/**
 * Compares old outputs with new inputs key by key, for `diff`. Keys listed in `replaceKeys` force a
 * replacement, deleting the old object first (the kernel key is the same or the host moves).
 * (Dynamic providers cannot return a detailed diff: the engine shows the property changes itself.)
 */
export function diffKeys(
  olds: Record<string, unknown>,
  news: Record<string, unknown>,
  keys: readonly string[],
  replaceKeys: readonly string[],
): pulumi.dynamic.DiffResult {
  const changed = keys.filter((k) => !jsonEqual(olds[k], news[k]));
  const replaces = changed.filter((k) => replaceKeys.includes(k));
  return { changes: changed.length > 0, replaces, deleteBeforeReplace: replaces.length > 0 };
}

/**
 * `diff` of every resource: compares `keys` of the old outputs and the new inputs; the host the
 * connection reaches and the `identity` keys replace (old one deleted first), the rest updates.
 */
export function diffResource(
  olds: { connection?: unknown } & Record<string, unknown>,
  news: { connection?: unknown } & Record<string, unknown>,
  keys: readonly string[],
  identity: readonly string[] = [],
): pulumi.dynamic.DiffResult {
  return diffKeys(
    { ...olds, host: hostIdentity(olds.connection as never) },
    { ...news, host: hostIdentity(news.connection as never) },
    [...new Set(["host", "connection", ...identity, ...keys])],
    ["host", ...identity],
  );
}

/** The part of a connection that names the host; changing it moves the resource to another host. */
export function hostIdentity(
  c: { host?: unknown; port?: unknown; proxy?: unknown; local?: unknown } | undefined,
): unknown {
  if (!c || typeof c !== "object") return c;
  if ("local" in c) return "local";
  const p = c.proxy as { host?: unknown; port?: unknown } | undefined;
  return { host: c.host, port: c.port ?? 22, proxy: p ? { host: p.host, port: p.port ?? 22 } : undefined };
}

/**
 * A diff that also reports drift: when the inputs did not change, what the last read observed
 * (`observed`, absent in states written before it existed) must equal what an in-sync host shows.
 */
export function withObservedDrift(
  d: pulumi.dynamic.DiffResult,
  observed: unknown,
  inSync: unknown,
): pulumi.dynamic.DiffResult {
  if (d.changes || observed === undefined) return d;
  return { ...d, changes: !jsonEqual(observed, inSync) };
}
