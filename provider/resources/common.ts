import type * as pulumi from "@pulumi/pulumi";
import type { z } from "zod";
import type { IpvsClient } from "../ipvs/client";
import { IpvsadmClient } from "../ipvs/ipvsadm/client";
import { NetlinkIpvsClient } from "../ipvs/netlink/client";
import { type EngineObserved, IN_SYNC, type KeepalivedObject, recordedObserved } from "../keepalived/engine";
import { type Connection, isLocal } from "../model/connection";
import { containsUnknown } from "../model/unknown";
import { validate } from "../model/validate";
import { transportFor } from "../transport/pool";
import type { Transport } from "../transport/transport";

const clients = new WeakMap<Transport, IpvsClient>();
let factory: ((c: Connection) => IpvsClient) | undefined;

/** Replaces how resources get their IPVS client (unit tests use an in-memory fake). @internal */
export function setIpvsClientFactory(f: ((c: Connection) => IpvsClient) | undefined): void {
  factory = f;
}

let local: NetlinkIpvsClient | undefined;

/**
 * The IPVS client of the host a connection reaches (one per host per deployment): generic netlink
 * for the local connection, ipvsadm over SSH otherwise.
 */
export function ipvsClientFor(c: Connection): IpvsClient {
  if (factory) return factory(c);
  if (isLocal(c)) {
    local ??= new NetlinkIpvsClient();
    return local;
  }
  const t = transportFor(c);
  let client = clients.get(t);
  if (!client) {
    client = new IpvsadmClient(t);
    clients.set(t, client);
  }
  return client;
}

/**
 * `check` of every resource: validates the inputs (without the `__provider` key Pulumi adds) and,
 * when they are complete and valid, returns them normalized, with defaults, and `__provider` back.
 * Inputs still unknown at preview are returned as they are.
 */
export function checkInputs<S extends z.ZodType>(
  schema: S,
  news: Record<string, unknown>,
  normalize: (v: z.infer<S>) => z.infer<S> = (v) => v,
): pulumi.dynamic.CheckResult {
  const { __provider, ...rest } = news;
  const { value, failures } = validate(schema, rest);
  if (failures.length > 0 || value === undefined || containsUnknown(rest)) return { inputs: news, failures };
  return { inputs: { ...(normalize(value) as Record<string, unknown>), __provider }, failures: [] };
}

/**
 * The real servers this deployment declares, by host and service, as their RealServer resources
 * are read, created or updated in this provider process. An exclusive VirtualService never prunes
 * these as strays, even if the host's ledger lost them (a wiped /var/lib, a reinstalled host).
 * Memory only: recording it changes nothing anywhere.
 */
const declared = new Map<string, Set<string>>();

export function declareRealServer(host: string, service: string, realServer: string): void {
  const k = `${host} ${service}`;
  let set = declared.get(k);
  if (!set) {
    set = new Set();
    declared.set(k, set);
  }
  set.add(realServer);
}

export function isDeclaredRealServer(host: string, service: string, realServer: string): boolean {
  return declared.get(`${host} ${service}`)?.has(realServer) ?? false;
}

/**
 * Which resource (owner, `project/stack/name`) declared each IPVS object checked in this provider
 * process: one deployment's resources share it, so two resources that declare the same service or
 * real server are caught at `check`, in preview, before any host is touched. Memory only.
 */
const claims = new Map<string, string>();

/**
 * Records that `owner` declares the object `id`.
 * @returns the other resource that already declared it in this deployment, if any
 */
export function claim(id: string, owner: string | undefined): string | undefined {
  if (owner === undefined) return undefined;
  const first = claims.get(id);
  if (first === undefined) claims.set(id, owner);
  return first !== undefined && first !== owner ? first : undefined;
}

/**
 * The end of every `check` of an IPVS object: when the inputs are valid and known, claims the object
 * for its owner, and fails on `property` if another resource of this deployment declared it first.
 */
export function checkClaim<V>(
  checked: pulumi.dynamic.CheckResult,
  news: Record<string, unknown>,
  object: (inputs: V) => { id: string; owner?: string; property: string; kind: string; text: string },
): pulumi.dynamic.CheckResult {
  if ((checked.failures?.length ?? 0) > 0 || containsUnknown(checked.inputs)) return checked;
  const o = object(checked.inputs as V);
  const other = claim(o.id, o.owner);
  if (!other) return checked;
  const reason = `${o.property}: ${o.kind} ${o.text} is already declared by resource "${resourceNameOf(other)}": declare each ${o.kind} once`;
  return { inputs: news, failures: [{ property: o.property, reason }] };
}

/** Forgets every claim (unit tests run many deployments in one process). @internal */
export function resetClaims(): void {
  claims.clear();
}

/** The resource name part of an owner (`project/stack/name` → `name`), for messages. */
export function resourceNameOf(owner: string): string {
  const parts = owner.split("/");
  return parts.length >= 3 ? parts.slice(2).join("/") : owner;
}

/**
 * Whether an object found already in the kernel may be taken over by a create: the resource asked
 * for it (`adopt`), or the ledger records this very resource as its owner (an earlier run was cut
 * short after making it). Otherwise it is someone else's, and create must fail.
 */
export function mayTakeOver(
  adopt: boolean | undefined,
  owner: string | undefined,
  recorded: string | undefined,
): boolean {
  return !!adopt || (owner !== undefined && recorded === owner);
}

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

/**
 * What a resource does with one engine (ipvsadm or keepalived), after check and the identity diff:
 * a resource picks its engine once, from a table, in each CRUD method.
 */
export interface EngineOps<P> {
  /** The diff, given the one of its identity and configuration fields. */
  diff(d: pulumi.dynamic.DiffResult, olds: P, news: P): pulumi.dynamic.DiffResult;
  /** Makes it; returns the outputs. */
  create(v: P): Promise<P>;
  read(id: string, props: P): Promise<pulumi.dynamic.ReadResult>;
  /** Converges it to `news`; returns the outputs. */
  update(news: P): Promise<P>;
  delete(props: P): Promise<void>;
}

/**
 * A resource provider whose CRUD goes to the engine of the resource (one table lookup per call):
 * `check` is the resource's own, `diff` starts from {@link diffResource} of `config` and `identity`.
 */
export function engineProvider<P extends { connection?: unknown } & Record<string, unknown>>(r: {
  check: NonNullable<pulumi.dynamic.ResourceProvider["check"]>;
  engineOf: (v: P) => EngineOps<P>;
  idOf: (v: P) => string;
  config: readonly string[];
  identity: readonly string[];
}): pulumi.dynamic.ResourceProvider {
  return {
    check: r.check,
    async diff(_id, olds: P, news: P) {
      return r.engineOf(news).diff(diffResource(olds, news, r.config, r.identity), olds, news);
    },
    async create(inputs: P) {
      return { id: r.idOf(inputs), outs: await r.engineOf(inputs).create(inputs) };
    },
    async read(id, props: P) {
      return r.engineOf(props).read(id, props);
    },
    async update(_id, _olds: P, news: P) {
      return { outs: await r.engineOf(news).update(news) };
    },
    async delete(_id, props: P) {
      await r.engineOf(props).delete(props);
    },
  };
}

/**
 * The keepalived engine of a resource: its object's file, with the observed drift in the outputs
 * (`observed`, compared with {@link IN_SYNC} at diff).
 * @param outs the outputs of an applied resource (`observed` is added)
 */
export function keepalivedEngine<P extends { connection: Connection; observed?: EngineObserved }, S>(
  obj: KeepalivedObject<S>,
  specOf: (v: P) => S,
  outs: (v: P) => P = (v) => v,
  drainOf: (v: P) => number = () => 0,
): EngineOps<P> {
  return {
    diff: (d, olds) => withObservedDrift(d, recordedObserved(olds.observed), IN_SYNC),
    async create(v) {
      await obj.apply(transportFor(v.connection), specOf(v));
      return { ...outs(v), observed: IN_SYNC };
    },
    async read(id, props) {
      const observed = await obj.observe(
        transportFor(props.connection),
        ipvsClientFor(props.connection),
        specOf(props),
      );
      return { id, props: { ...props, observed } };
    },
    async update(news) {
      const t = transportFor(news.connection);
      await obj.apply(t, specOf(news));
      await obj.repair(t, ipvsClientFor(news.connection), specOf(news));
      return { ...outs(news), observed: IN_SYNC };
    },
    async delete(props) {
      await obj.remove(transportFor(props.connection), ipvsClientFor(props.connection), specOf(props), drainOf(props));
    },
  };
}
