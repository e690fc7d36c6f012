/**
 * What a generated program declares, decided once for the files that write it (index.ts,
 * IMPORT.md): each host's identifier, each resource's name and arguments (defaults left out), the
 * director pair, and the secrets the program reads.
 */
import { KIND_ORDER, type Kind, minimalArgs } from "./minimal";
import type { ImportedResource, ImportHost, ImportResult, ImportSecret, Source } from "./model";

/** The config key of the SSH private key every connection of the program uses. */
export const PRIVATE_KEY = "privateKey";

/** A resource as the program declares it. */
export interface PlannedResource {
  resource: ImportedResource;
  /** Its name in the program, unique per kind: the imported name, `-host` added where it is not unique. */
  name: string;
  /** Its arguments as the program writes them: the provider's defaults left out; no connection, password or adopt. */
  args: Record<string, unknown>;
}

/** A host and what the program declares on it. */
export interface PlannedHost {
  host: ImportHost;
  /** The identifier of its connection in the program. */
  ident: string;
  /** Its resources, by kind (in {@link KIND_ORDER}) and name. */
  resources: PlannedResource[];
}

/** Everything the files of a program are written from. */
export interface Plan {
  /** In the order the import was given them. */
  hosts: PlannedHost[];
  /** Two director hosts: what they have alike is written once, in a loop over both. */
  pair?: [PlannedHost, PlannedHost];
  /** Every resource, by kind, host and name. */
  resources: PlannedResource[];
  /** The private key first, then the others by key. */
  secrets: ImportSecret[];
}

/** Words a host's identifier must not be: JavaScript's reserved words and globals, and the program's own names. */
const RESERVED = new Set(
  (
    "arguments await break case catch class const continue debugger default delete do else enum eval export extends " +
    "false finally for function if implements import in instanceof interface let new null package private protected " +
    "public return static super switch this throw true try typeof var void while with yield undefined NaN Infinity " +
    "Object Record Array String Number Boolean Promise require module exports process console " +
    "pulumi lvs config privateKey node connection director virtualServices vrrpRoles"
  ).split(" "),
);

/** Identifiers, each handed out once: a base that is taken gets a number (lb1, lb12 …). */
export class Identifiers {
  private readonly taken = new Set(RESERVED);

  /** A free identifier made of `text`'s letters and digits (`rs-1.lab` → `rs1Lab`, `10.0.0.11` → `host10_0_0_11`). */
  take(text: string, prefix = "host"): string {
    const words = text.split(/[^A-Za-z0-9]+/).filter((w) => w !== "");
    let base = words
      .map((w, i) => {
        if (i === 0) return w;
        const prev = words[i - 1]!;
        return /[0-9]$/.test(prev) && /^[0-9]/.test(w) ? `_${w}` : w[0]!.toUpperCase() + w.slice(1);
      })
      .join("");
    if (base === "" || /^[0-9]/.test(base)) base = `${prefix}${base}`;
    let id = base;
    for (let i = 2; this.taken.has(id); i++) id = `${base}${i}`;
    this.taken.add(id);
    return id;
  }
}

/** Where something was read, as `host:file:line` (or `host` when it was no file). */
export function sourceText(s: Source): string {
  return [s.host, s.file, s.line].filter((x) => x !== undefined && x !== "").join(":");
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The resources in declaration order: by kind, then host (in the import's order), then name. */
function sortResources(rs: ImportedResource[], hostOrder: Map<string, number>): ImportedResource[] {
  return [...rs].sort(
    (a, b) =>
      KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) ||
      hostOrder.get(a.host)! - hostOrder.get(b.host)! ||
      byText(a.name, b.name),
  );
}

/**
 * Decides the program: checks that the result is coherent (hosts named once, every resource on a
 * known host, names unique per kind and host), leaves out the provider's defaults, names resources
 * uniquely per kind, and finds the director pair. Throws on an incoherent result.
 */
export function plan(result: ImportResult, identifiers = new Identifiers()): Plan {
  const hostOrder = new Map<string, number>();
  result.hosts.forEach((h, i) => {
    if (hostOrder.has(h.name)) throw new Error(`host ${h.name} is given twice`);
    hostOrder.set(h.name, i);
  });
  const seen = new Set<string>();
  for (const r of result.resources) {
    if (!hostOrder.has(r.host))
      throw new Error(`${r.kind} ${r.name} is on host ${r.host}, which the import did not read`);
    const id = JSON.stringify([r.kind, r.host, r.name]);
    if (seen.has(id)) throw new Error(`${r.kind} ${r.name} is on host ${r.host} twice`);
    seen.add(id);
  }
  const directors = result.hosts.filter((h) => h.role === "director");
  const pairHosts = new Set(directors.length === 2 ? directors.map((h) => h.name) : []);
  const hostsOf = new Map<string, Set<string>>();
  for (const r of result.resources) {
    const k = JSON.stringify([r.kind, r.name]);
    hostsOf.set(k, (hostsOf.get(k) ?? new Set()).add(r.host));
  }
  const nameOf = (r: ImportedResource) =>
    pairHosts.has(r.host) || hostsOf.get(JSON.stringify([r.kind, r.name]))!.size > 1 ? `${r.name}-${r.host}` : r.name;

  const names = new Set<string>();
  const resources = sortResources(result.resources, hostOrder).map((r): PlannedResource => {
    const name = nameOf(r);
    const id = JSON.stringify([r.kind, name]);
    if (names.has(id)) throw new Error(`two ${r.kind} resources would be named ${name}: rename one in the import`);
    names.add(id);
    const { adopt: _adopt, ...args } = r.args as Record<string, unknown>;
    try {
      return { resource: r, name, args: minimalArgs(r.kind, args) };
    } catch (e) {
      throw new Error(`${r.kind} ${r.name} on ${r.host}: ${(e as Error).message}`);
    }
  });
  const hosts = result.hosts.map(
    (host): PlannedHost => ({
      host,
      ident: identifiers.take(host.name),
      resources: resources.filter((p) => p.resource.host === host.name),
    }),
  );
  const pair = hosts.filter((h) => pairHosts.has(h.host.name));
  return {
    hosts,
    pair: pair.length === 2 ? [pair[0]!, pair[1]!] : undefined,
    resources,
    secrets: secretsOf(result),
  };
}

/** The secrets the program reads: the SSH private key, and each VRRP password by its key. */
function secretsOf(result: ImportResult): ImportSecret[] {
  const out = new Map<string, ImportSecret>([
    [PRIVATE_KEY, { key: PRIVATE_KEY, what: "the SSH private key for every host" }],
  ]);
  for (const s of result.secrets) if (!out.has(s.key)) out.set(s.key, s);
  for (const r of result.resources) {
    if (r.kind === "VrrpInstance" && r.authPassKey !== undefined && !out.has(r.authPassKey))
      out.set(r.authPassKey, { key: r.authPassKey, what: `the VRRP password (auth_pass) of ${r.name}` });
  }
  const [first, ...rest] = out.values();
  return [first!, ...rest.sort((a, b) => byText(a.key, b.key))];
}

/** The kinds a plan declares, in order. */
export const kindsOf = (p: Plan): Kind[] => KIND_ORDER.filter((k) => p.resources.some((r) => r.resource.kind === k));
