/**
 * The arguments a generated program writes: only what differs from the provider's defaults, as
 * the provider itself decides it. A field is left out when the provider's check (validation,
 * defaults, normalization) makes the same of the arguments without it as of the arguments with it:
 * the provider is the one place that knows its defaults, so the program and the provider cannot
 * disagree about them.
 */
import type { z } from "zod";
import { PLACEHOLDER_CONNECTION } from "../../provider/keepalived/conf";
import { directorInputs, realServerHostInputs } from "../../provider/model/host";
import { canonicalJson } from "../../provider/model/inline-pack";
import { vrrpInstanceInputs } from "../../provider/model/keepalived";
import { validate } from "../../provider/model/validate";
import { checkedVirtualService, virtualServiceInputs } from "../../provider/model/virtual-service";
import { addressBytes, parseHostPort } from "../../provider/net/address";
import { Code } from "./literal";
import type { ImportedResource } from "./model";

/** A kind of resource the import declares (its SDK class has the same name). */
export type Kind = ImportedResource["kind"];

/** What the generator needs to know of a kind of resource. */
export interface KindSpec {
  /** What the provider's `check` parses the inputs with: validated, defaults applied, normalized. */
  checked: z.ZodType;
  /** The schema of the inputs: the order of its fields is the order they are written in. */
  inputs: z.ZodObject;
  /** The fields that name the object on its host: written even when the provider would default them. */
  keyFields: readonly string[];
  /** Maps whose entries are judged each on its own (a service's inline real servers: thousands of them). */
  entryMaps: readonly string[];
  /** Whether it takes a live object over (`adopt: "exact"`). */
  adopts: boolean;
}

/** The kinds, in the order a program declares them (a director's settings before its services). */
export const KINDS: Record<Kind, KindSpec> = {
  Director: { checked: directorInputs, inputs: directorInputs, keyFields: [], entryMaps: [], adopts: true },
  RealServerHost: {
    checked: realServerHostInputs,
    inputs: realServerHostInputs,
    keyFields: ["mode"],
    entryMaps: [],
    adopts: true,
  },
  VrrpInstance: {
    checked: vrrpInstanceInputs,
    inputs: vrrpInstanceInputs,
    keyFields: ["name", "virtualRouterId"],
    entryMaps: [],
    adopts: true,
  },
  VirtualService: {
    checked: checkedVirtualService,
    inputs: virtualServiceInputs,
    keyFields: ["protocol", "address", "port", "fwmark", "family"],
    entryMaps: ["realServers"],
    adopts: true,
  },
};

/** The kinds in declaration order. */
export const KIND_ORDER = Object.keys(KINDS) as Kind[];

type Args = Record<string, unknown>;

const isPlainObject = (v: unknown): v is Args =>
  v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Code);

/** The provider's normalized inputs, as one text (keys sorted, undefined left out); undefined when it rejects them. */
export function normalizedText(kind: Kind, args: Args): string | undefined {
  const r = KINDS[kind].checked.safeParse({ connection: PLACEHOLDER_CONNECTION, ...args });
  return r.success ? canonicalJson(r.data) : undefined;
}

/** Why the provider rejects a resource's arguments (the placeholder connection's fields are never named). */
function rejection(kind: Kind, args: Args): string[] {
  return validate(KINDS[kind].checked, { connection: PLACEHOLDER_CONNECTION, ...args }).failures.map((f) => f.reason);
}

const without = (o: Args, key: string): Args => {
  const { [key]: _, ...rest } = o;
  return rest;
};

/**
 * An object with every field left out that `same` accepts the object without, one field at a
 * time in order (so the result is accepted as a whole); a field that must stay is tried inside:
 * an object's fields, and those of the objects in an array.
 */
function dropDefaults(node: Args, same: (candidate: Args) => boolean, keep: (key: string) => boolean): Args {
  let current = node;
  for (const key of Object.keys(node)) {
    if (keep(key)) continue;
    const candidate = without(current, key);
    if (same(candidate)) {
      current = candidate;
      continue;
    }
    const base = current;
    const value = base[key];
    if (isPlainObject(value)) {
      current = {
        ...base,
        [key]: dropDefaults(
          value,
          (c) => same({ ...base, [key]: c }),
          () => false,
        ),
      };
    } else if (Array.isArray(value)) {
      const items = [...value];
      value.forEach((item, i) => {
        if (!isPlainObject(item)) return;
        items[i] = dropDefaults(
          item,
          (c) => same({ ...base, [key]: items.map((x, j) => (j === i ? c : x)) }),
          () => false,
        );
      });
      current = { ...base, [key]: items };
    }
  }
  return current;
}

/**
 * A resource's arguments with every value the provider would default left out. Its key fields and
 * a `persist: false` always stay. Throws when the provider rejects the arguments (the readers check
 * what they read with the same schemas: this is a reader's mistake).
 */
export function minimalArgs(kind: Kind, read: Args): Args {
  const spec = KINDS[kind];
  // fields tried in the schema's order, whatever order the reader built them in
  const args = ordered(read, spec.inputs) as Args;
  const target = normalizedText(kind, args);
  if (target === undefined) {
    throw new Error(`the provider rejects the ${kind} read: ${rejection(kind, args).join("; ")}`);
  }
  const keep = (key: string) =>
    spec.keyFields.includes(key) || (key === "persist" && args.persist === false) || spec.entryMaps.includes(key);
  let out = dropDefaults(args, (c) => normalizedText(kind, c) === target, keep);
  for (const map of spec.entryMaps) {
    const entries = out[map];
    if (!isPlainObject(entries)) continue;
    const base = out;
    const alone = (key: string, entry: unknown) => normalizedText(kind, { ...base, [map]: { [key]: entry } });
    const minimal = Object.entries(entries).map(([key, entry]) => {
      if (!isPlainObject(entry)) return [key, entry] as const;
      const wanted = alone(key, entry);
      return [
        key,
        dropDefaults(
          entry,
          (c) => alone(key, c) === wanted,
          () => false,
        ),
      ] as const;
    });
    out = { ...base, [map]: Object.fromEntries(minimal) };
  }
  if (normalizedText(kind, out) !== target) throw new Error(`${kind}: leaving out its defaults changed it`);
  return out;
}

/** A zod schema's `def`, as far as the generator reads it. */
interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  valueType?: z.ZodType;
  options?: z.ZodType[];
}
const defOf = (s: z.ZodType | undefined): Def | undefined => (s as unknown as { def: Def } | undefined)?.def;

/** A schema without its wrappers (optional, default, a transform's input side). */
function unwrap(s: z.ZodType | undefined): Def | undefined {
  let d = defOf(s);
  while (d?.innerType || (d?.type === "pipe" && d.in)) d = defOf(d.innerType ?? d.in);
  return d;
}

/** The fields of an object schema, or of the objects of a union, in their order. */
function shapeOf(d: Def | undefined): Record<string, z.ZodType> | undefined {
  if (d?.shape) return d.shape;
  if (d?.type !== "union" || !d.options) return undefined;
  const out: Record<string, z.ZodType> = {};
  for (const o of d.options) for (const [k, s] of Object.entries(shapeOf(unwrap(o)) ?? {})) out[k] ??= s;
  return out;
}

/**
 * Map keys in order: `address[:port]` keys by family, address and port (10.0.0.2 before
 * 10.0.0.11), other keys as strings, addresses before other keys.
 */
export function compareKeys(a: string, b: string): number {
  const ka = addressKey(a);
  const kb = addressKey(b);
  if (ka && kb) {
    for (let i = 0; i < Math.max(ka.length, kb.length); i++) {
      const d = (ka[i] ?? -1) - (kb[i] ?? -1);
      if (d !== 0) return d;
    }
    return a < b ? -1 : a > b ? 1 : 0;
  }
  if (ka || kb) return ka ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** An `address[:port]` as numbers to compare (length, bytes, port), or undefined for another key. */
function addressKey(text: string): number[] | undefined {
  try {
    const k = parseHostPort(text);
    const bytes = addressBytes(k.address);
    return [bytes.length, ...bytes, k.port ?? 0];
  } catch {
    return undefined;
  }
}

/**
 * A value with the keys of its objects in the order the schema declares them (fields the schema
 * does not know after them, sorted), and the keys of its maps sorted ({@link compareKeys}): the
 * order a person reads the provider's documentation in, the same for every import.
 */
export function ordered(v: unknown, schema: z.ZodType | undefined): unknown {
  const d = unwrap(schema);
  if (Array.isArray(v)) return v.map((x) => ordered(x, d?.type === "array" ? d.element : undefined));
  if (!isPlainObject(v)) return v;
  if (d?.type === "record") {
    return Object.fromEntries(
      Object.keys(v)
        .sort(compareKeys)
        .map((k) => [k, ordered(v[k], d.valueType)]),
    );
  }
  const shape = shapeOf(d) ?? {};
  const known = Object.keys(shape).filter((k) => Object.hasOwn(v, k));
  const rest = Object.keys(v)
    .filter((k) => !Object.hasOwn(shape, k))
    .sort(compareKeys);
  return Object.fromEntries([...known, ...rest].map((k) => [k, ordered(v[k], shape[k])]));
}
