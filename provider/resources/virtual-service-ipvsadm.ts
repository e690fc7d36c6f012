/**
 * The ipvsadm engine of VirtualService: the service and its inline real servers through the IPVS
 * client (ipvsadm commands, or netlink), recorded in the director's ledger. Each method computes
 * the service's configuration once and passes it down.
 */
import { serviceChange } from "../ipvs/change";
import type { IpvsClient } from "../ipvs/client";
import { drainRealServers, drains, removeRealServers } from "../ipvs/drain";
import { ensure } from "../ipvs/ensure";
import { planRealServers, type RealServerPlan, syncRealServers } from "../ipvs/sync";
import { takeOverService } from "../ipvs/take-over";
import {
  findService,
  type RealServerConfig,
  realServerKeyText,
  type ServiceEntry,
  type ServiceKey,
  serviceKeyText,
  type VirtualServiceConfig,
} from "../ipvs/types";
import { adoptsExactly, hostIdOf } from "../model/connection";
import { realServerConfigOf, withLiveSettings } from "../model/real-server";
import {
  exclusiveOf,
  inlineConfigs,
  inlineEntries,
  serviceConfigOf,
  type VirtualServiceInputs,
} from "../model/virtual-service";
import { deployment, mayTakeOver, sameStack } from "./check";
import { ipvsClientFor } from "./clients";
import type { EngineOps } from "./engines";

/** The state of a VirtualService as this engine writes it: the checked inputs, and the strays it found. */
export type IpvsadmProps = VirtualServiceInputs & { __provider?: string; strayRealServers?: string[] };

/** Live real servers of the service that pulumi-lvs does not own on that host. */
function straysOf(live: ServiceEntry, owned: ServiceEntry | undefined): string[] {
  const mine = new Set((owned?.realServers ?? []).map((r) => realServerKeyText(r.config)));
  return live.realServers
    .map((r) => realServerKeyText(r.config))
    .filter((k) => !mine.has(k))
    .sort();
}

/** What it would take to bring the inline real servers of `v` (service `key`) to the kernel, from a snapshot. */
function inlinePlan(
  v: IpvsadmProps,
  key: ServiceKey,
  snap: { table: { services: ServiceEntry[] }; owned: { services: ServiceEntry[] } },
): RealServerPlan {
  return planRealServers(
    key,
    inlineConfigs(v),
    findService(snap.table, key),
    findService(snap.owned, key),
    v.owner,
    [],
    mayTakeOf(v),
  );
}

/** A real server the ledger records as another's passes to `v` when that one is of the same stack. */
const mayTakeOf =
  (v: IpvsadmProps) =>
  (recorded: string): boolean =>
    v.owner !== undefined && sameStack(recorded, v.owner);

/**
 * Brings the inline real servers of `v` (service `key`) to the kernel (ipvs/sync.ts); the strays
 * that RealServers of this deployment declare are theirs. Returns the strays left.
 * @param madeNow the service was made by this step: it has no real servers yet
 */
function syncInline(v: IpvsadmProps, key: ServiceKey, olds?: IpvsadmProps, madeNow = false): Promise<string[]> {
  return syncRealServers(ipvsClientFor(v.connection), key, inlineConfigs(v), {
    madeNow,
    owner: v.owner,
    before: inlineConfigs(olds).map(realServerKeyText),
    mayTake: mayTakeOf(v),
    drainSeconds: v.drainTimeout ?? 0,
    exclusive: exclusiveOf(v),
    declaredElsewhere: declaredIn(v, key),
  });
}

/**
 * The inline real servers as the kernel has them: an entry missing from the kernel (or from the
 * ledger) is left out, one changed by hand shows its live settings.
 */
function liveEntries(
  v: IpvsadmProps,
  live: ServiceEntry,
  owned: ServiceEntry | undefined,
): IpvsadmProps["realServers"] {
  const liveBy = new Map(live.realServers.map((r) => [realServerKeyText(r.config), r.config]));
  const ownedKeys = new Set((owned?.realServers ?? []).map((r) => realServerKeyText(r.config)));
  const out: NonNullable<IpvsadmProps["realServers"]> = {};
  for (const e of inlineEntries(v)) {
    const k = realServerKeyText(realServerConfigOf(e.rs));
    const l = liveBy.get(k);
    if (!l || !ownedKeys.has(k)) continue;
    out[e.key] = withLiveSettings(v.realServers![e.key]!, l);
  }
  return out;
}

/**
 * Whether the kernel has the service as declared (`cfg`), recorded as this resource's: an update
 * that changes only real servers then leaves the service alone (at 10,000 real servers, an
 * `ipvsadm -E` and its ledger edit are a round trip of their own). It reads this service alone
 * (at 10,000 real servers in 10 services, a tenth of the table), and shares that read with the
 * update's sync of its real servers.
 */
async function serviceAsDeclared(ipvs: IpvsClient, cfg: VirtualServiceConfig, owner?: string): Promise<boolean> {
  const snap = await ipvs.snapshot({ services: [cfg.key] });
  const live = findService(snap.table, cfg.key);
  const view = (c: VirtualServiceConfig) =>
    JSON.stringify([c.scheduler, c.schedulerFlags, c.onePacket, c.persistence ?? null, c.pe ?? null]);
  return !!live && view(live.config) === view(cfg) && findService(snap.owned, cfg.key)?.owner === owner;
}

/** Whether a resource of this deployment (a RealServer) declares a real server of `v`'s service (`key`). */
function declaredIn(v: IpvsadmProps, key: ServiceKey): (rs: RealServerConfig) => boolean {
  const host = hostIdOf(v.connection);
  const service = serviceKeyText(key);
  return (r) => deployment().isDeclaredRealServer(host, service, realServerKeyText(r));
}

/** An exclusive service's strays go, except the real servers this deployment declares. */
async function removeStrays(v: IpvsadmProps, key: ServiceKey, live: ServiceEntry, strays: string[]): Promise<void> {
  const declared = declaredIn(v, key);
  const found = live.realServers.map((r) => r.config).filter((r) => strays.includes(realServerKeyText(r)));
  await removeRealServers(
    ipvsClientFor(v.connection),
    key,
    found.filter((r) => !declared(r)),
    undefined,
    0,
  );
}

/**
 * Makes the service; one that exists already is taken over only when this resource may (adopt, or
 * its own). Returns true when it made it (it then has no real servers yet), false when it took one over.
 */
function createService(ipvs: IpvsClient, v: IpvsadmProps, cfg: VirtualServiceConfig): Promise<boolean> {
  return ensure(ipvs, serviceChange("add", cfg, v.owner), {
    beforeFallback: async () => {
      const recorded = findService((await ipvs.snapshot()).owned, cfg.key)?.owner;
      if (mayTakeOver(!!v.adopt, v.owner, recorded)) return;
      throw new Error(
        `virtual service ${serviceKeyText(cfg.key)} already exists on ${ipvs.host}, and this resource does not own it (made by hand, by keepalived, or by another stack${recorded ? `: the director's ledger records it as "${recorded}"` : ""}). ` +
          "To manage it from this stack, set adopt: true on the VirtualService: pulumi-lvs then takes it over and converges it to the declared configuration (dynamic providers cannot `pulumi import`). Otherwise pick another address, port or fwmark.",
      );
    },
  });
}

/** Reads the service as the kernel has it (gone: an empty id), with its strays. */
async function readService(id: string, props: IpvsadmProps) {
  const key = serviceConfigOf(props).key;
  const snap = await ipvsClientFor(props.connection).snapshot();
  const live = findService(snap.table, key);
  if (!live) return { id: "" };
  const c = live.config;
  const owned = findService(snap.owned, key);
  const out: IpvsadmProps = {
    ...props,
    scheduler: c.scheduler,
    schedulerFlags: c.schedulerFlags,
    onePacket: c.onePacket,
    strayRealServers: straysOf(live, owned),
  };
  if (c.persistence) out.persistence = { ...c.persistence };
  else delete out.persistence;
  if (c.pe) out.pe = c.pe;
  else delete out.pe;
  if (props.realServers !== undefined) {
    out.realServers = liveEntries(props, live, owned);
    // the service's own leftovers (recorded as its, declared no more) are strays too
    const plan = inlinePlan(props, key, snap);
    out.strayRealServers = [...plan.strays, ...plan.remove].map(realServerKeyText).sort();
  }
  return { id, props: out };
}

/** Converges the service to `news`, its inline real servers from `olds`; returns the strays left. */
async function updateService(news: IpvsadmProps, olds: IpvsadmProps): Promise<string[]> {
  const cfg = serviceConfigOf(news);
  const ipvs = ipvsClientFor(news.connection);
  // (deleted out of band: put back)
  if (!(await serviceAsDeclared(ipvs, cfg, news.owner))) await ensure(ipvs, serviceChange("edit", cfg, news.owner));
  // (from inline to none: the entries declared before are removed)
  if (news.realServers !== undefined || olds.realServers !== undefined) return syncInline(news, cfg.key, olds);
  const snap = await ipvs.snapshot({ services: [cfg.key] });
  const live = findService(snap.table, cfg.key);
  if (!live) return [];
  const strays = straysOf(live, findService(snap.owned, cfg.key));
  if (!exclusiveOf(news)) return strays;
  await removeStrays(news, cfg.key, live, strays);
  // what is left is declared by this deployment (its RealServers re-own it in the ledger)
  return [];
}

/** Deletes the service (its inline real servers drained first), or only its own real servers when others' remain. */
async function deleteService(props: IpvsadmProps): Promise<void> {
  const key = serviceConfigOf(props).key;
  const ipvs = ipvsClientFor(props.connection);
  const snap = await ipvs.snapshot();
  const live = findService(snap.table, key);
  if (!live) return;
  const drain = props.drainTimeout ?? 0;
  // its inline real servers, as the kernel has them
  const mine = inlineConfigs(props).filter((w) =>
    live.realServers.some((r) => realServerKeyText(r.config) === realServerKeyText(w)),
  );
  // Real servers that this stack does not own would go with the service: unless the service
  // claims them all (exclusive), leave the service to them, with its own real servers removed.
  if (!exclusiveOf(props) && straysOf(live, findService(snap.owned, key)).length > 0) {
    await removeRealServers(ipvs, key, mine, props.owner, drain);
    return;
  }
  if (mine.length > 0 && drains(key, drain)) await drainRealServers(ipvs, key, mine, props.owner, drain);
  await ensure(ipvs, serviceChange("delete", key));
}

/** The ipvsadm engine: ipvsadm commands (or netlink), recorded in the director's ledger. */
export const ipvsadmVirtualService: EngineOps<IpvsadmProps> = {
  diff(d, olds, news) {
    // stray real servers are drift only where the service claims all its real servers
    return exclusiveOf(news) && (olds.strayRealServers?.length ?? 0) > 0 ? { ...d, changes: true } : d;
  },

  async create(v) {
    const cfg = serviceConfigOf(v);
    if (adoptsExactly(v)) {
      const inline = v.realServers !== undefined ? inlineConfigs(v) : undefined;
      await takeOverService(ipvsClientFor(v.connection), cfg, v.owner, inline, declaredIn(v, cfg.key));
      return { ...v, strayRealServers: [] };
    }
    const made = await createService(ipvsClientFor(v.connection), v, cfg);
    const strays = v.realServers !== undefined ? await syncInline(v, cfg.key, undefined, made) : [];
    return { ...v, strayRealServers: strays };
  },

  read: readService,

  async update(news, olds) {
    return { ...news, strayRealServers: await updateService(news, olds) };
  },

  delete: deleteService,
};
