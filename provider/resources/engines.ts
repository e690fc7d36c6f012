/** The engine table of VirtualService and RealServer: ipvsadm (the ledger) or keepalived (its files). */
import type * as pulumi from "@pulumi/pulumi";
import { type EngineObserved, IN_SYNC, type KeepalivedObject, recordedObserved } from "../keepalived/engine";
import type { Connection } from "../model/connection";
import type { Engine } from "../model/keepalived";
import { transportFor } from "../transport/pool";
import { ipvsClientFor } from "./clients";
import { diffResource, withObservedDrift } from "./diff";

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
  /** Converges it to `news` (from `olds`, the state); returns the outputs. */
  update(news: P, olds: P): Promise<P>;
  delete(props: P): Promise<void>;
}

/**
 * A resource provider whose CRUD goes to the engine of the resource, looked up in its table once per
 * call: `check` is the resource's own, `diff` starts from {@link diffResource} of `config` and
 * `identity`.
 * @param r.engines what the resource does with each engine
 * @param r.engineOf which engine a resource's inputs (or state) name (absent: ipvsadm)
 */
export function engineProvider<P extends { connection?: unknown } & Record<string, unknown>>(r: {
  check: NonNullable<pulumi.dynamic.ResourceProvider["check"]>;
  engines: Record<Engine, EngineOps<P>>;
  engineOf: (v: P) => Engine | undefined;
  idOf: (v: P) => string;
  config: readonly string[];
  identity: readonly string[];
}): pulumi.dynamic.ResourceProvider {
  const ops = (v: P): EngineOps<P> => r.engines[r.engineOf(v) ?? "ipvsadm"];
  return {
    check: r.check,
    async diff(_id, olds: P, news: P) {
      return ops(news).diff(diffResource(olds, news, r.config, r.identity), olds, news);
    },
    async create(inputs: P) {
      return { id: r.idOf(inputs), outs: await ops(inputs).create(inputs) };
    },
    async read(id, props: P) {
      return ops(props).read(id, props);
    },
    async update(_id, olds: P, news: P) {
      return { outs: await ops(news).update(news, olds) };
    },
    async delete(_id, props: P) {
      await ops(props).delete(props);
    },
  };
}

/**
 * The keepalived engine of a resource: its object's file, with the observed drift in the outputs
 * (`observed`, compared with {@link IN_SYNC} at diff).
 * @param specOf its object, from its inputs (and on update, the state before)
 * @param outs the outputs of an applied resource (`observed` is added)
 * @param handOver with `adopt: "exact"`, what create does instead of writing the object's files:
 *   take the site's own block over (keepalived/hand-over.ts)
 */
export function keepalivedEngine<
  P extends { connection: Connection; observed?: EngineObserved; adopt?: boolean | "exact" },
  S,
>(
  obj: KeepalivedObject<S>,
  specOf: (v: P, olds?: P) => S,
  outs: (v: P) => P = (v) => v,
  drainOf: (v: P) => number = () => 0,
  handOver?: (v: P) => Promise<void>,
): EngineOps<P> {
  return {
    diff: (d, olds) => withObservedDrift(d, recordedObserved(olds.observed), IN_SYNC),
    async create(v) {
      if (handOver && v.adopt === "exact") await handOver(v);
      else await obj.apply(transportFor(v.connection), ipvsClientFor(v.connection), specOf(v));
      return { ...outs(v), observed: IN_SYNC };
    },
    async read(id, props) {
      // (inline real servers found drifted are named in observed.drifted: the state keeps them as
      // declared, so that their files are still known to a later removal)
      const observed = await obj.observe(
        transportFor(props.connection),
        ipvsClientFor(props.connection),
        specOf(props),
      );
      return { id, props: { ...props, observed } };
    },
    async update(news, olds) {
      const t = transportFor(news.connection);
      const ipvs = ipvsClientFor(news.connection);
      await obj.apply(t, ipvs, specOf(news, olds));
      await obj.repair(t, ipvs, specOf(news));
      return { ...outs(news), observed: IN_SYNC };
    },
    async delete(props) {
      await obj.remove(transportFor(props.connection), ipvsClientFor(props.connection), specOf(props), drainOf(props));
    },
  };
}
