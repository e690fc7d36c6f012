/**
 * VirtualService: one IPVS virtual service on a director (`ipvsadm -A/-E/-D`).
 *
 * Identity: the director (connection host and port) and the service key (protocol, address, port,
 * or fwmark and family). Changing either replaces the service, deleting the old one first.
 * Everything else (scheduler, flags, persistence, pe, one-packet) is changed in place with
 * `ipvsadm -E`, without an outage.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { RealServerChange } from "../ipvs/change";
import { IpvsAlreadyExistsError, type IpvsClient, IpvsNotFoundError } from "../ipvs/client";
import { drainRealServers, drains } from "../ipvs/drain";
import { planRealServers, type RealServerPlan } from "../ipvs/sync";
import {
  findService,
  type RealServerConfig,
  realServerKeyText,
  type ServiceEntry,
  type ServiceKey,
  serviceKeyText,
  type VirtualServiceConfig,
} from "../ipvs/types";
import { type EngineObserved, keepalivedService, type RealServerSpec, type ServiceSpec } from "../keepalived/engine";
import { hostIdOf } from "../model/connection";
import { type InlineRealServer, realServerConfigOf, withLiveSettings } from "../model/real-server";
import {
  type InlineEntry,
  inlineEntries,
  serviceConfigOf,
  type VirtualServiceInputs,
  virtualServiceInputs,
} from "../model/virtual-service";
import { say } from "../transport/progress";
import {
  checkClaim,
  checkFailure,
  checkHostNeed,
  checkInlineService,
  checkInputs,
  hostNeedOf,
  isDeclaredRealServer,
  mayTakeOver,
  sameStack,
} from "./check";
import { ipvsClientFor } from "./clients";
import { type EngineOps, engineProvider, keepalivedEngine } from "./engines";
import { diffFields } from "./fields";

const { identity: IDENTITY, config: CONFIG } = diffFields("VirtualService");

/**
 * The checked, normalized inputs, as stored in state (outputs add `strayRealServers`, and with
 * engine keepalived, `observed`: the rendered file and the live table compared).
 */
type Props = VirtualServiceInputs & { __provider?: string; strayRealServers?: string[]; observed?: EngineObserved };

/** The inline real servers of a service as the keepalived engine renders them (none: not inline). */
function entrySpecs(v: VirtualServiceInputs | undefined): RealServerSpec[] {
  if (v?.realServers === undefined) return [];
  const service = serviceConfigOf(v).key;
  return inlineEntries(v).map((e) => {
    const s: RealServerSpec = { service, cfg: realServerConfigOf(e.rs) };
    if (e.rs.healthCheck) s.healthCheck = e.rs.healthCheck;
    if (e.rs.inhibitOnFailure) s.inhibitOnFailure = true;
    return s;
  });
}

function specOf(v: VirtualServiceInputs, olds?: VirtualServiceInputs): ServiceSpec {
  const s: ServiceSpec = { cfg: serviceConfigOf(v) };
  if (v.sorryServer) s.sorryServer = v.sorryServer;
  if (v.realServers !== undefined || olds?.realServers !== undefined) {
    // (from inline to none: the entries declared before are removed)
    s.realServers = entrySpecs(v);
    const now = new Set(s.realServers.map((r) => realServerKeyText(r.cfg)));
    s.removed = entrySpecs(olds).filter((r) => !now.has(realServerKeyText(r.cfg)));
    s.drainSeconds = v.drainTimeout ?? 0;
  }
  return s;
}

/** Exclusive: as set, else true for a service with inline real servers (the ipvsadm engine's). */
const exclusiveOf = (v: VirtualServiceInputs): boolean =>
  v.exclusive ?? (v.realServers !== undefined && v.engine !== "keepalived");

/** An inline real server's settings, normalized as a RealServer's (its tunnel as the kernel reads it back). */
function normalizeEntry(e: InlineEntry): InlineRealServer {
  const cfg = realServerConfigOf(e.rs);
  const { service: _s, address: _a, port: _p, ...settings } = e.rs;
  const out: InlineRealServer = { ...settings };
  if (cfg.tunnel) out.tunnel = { ...cfg.tunnel };
  else delete out.tunnel;
  return out;
}

function normalize(v: VirtualServiceInputs): VirtualServiceInputs {
  const cfg = serviceConfigOf(v);
  const out: VirtualServiceInputs = { ...v, schedulerFlags: cfg.schedulerFlags };
  if (cfg.persistence) out.persistence = { timeout: cfg.persistence.timeout, netmask: cfg.persistence.netmask };
  if (v.fwmark !== undefined) out.family = v.family ?? "ipv4";
  out.exclusive = exclusiveOf(v);
  if (v.realServers !== undefined)
    out.realServers = Object.fromEntries(inlineEntries(v).map((e) => [e.key, normalizeEntry(e)]));
  return out;
}

export function virtualServiceId(v: VirtualServiceInputs): string {
  return `${hostIdOf(v.connection)}/${serviceKeyText(serviceConfigOf(v).key)}`;
}

/** Live real servers of the service that pulumi-lvs does not own on that host. */
function straysOf(live: ServiceEntry, owned: ServiceEntry | undefined): string[] {
  const mine = new Set((owned?.realServers ?? []).map((r) => realServerKeyText(r.config)));
  return live.realServers
    .map((r) => realServerKeyText(r.config))
    .filter((k) => !mine.has(k))
    .sort();
}

/** The declared inline real servers, as the kernel takes them. */
const wantOf = (v: VirtualServiceInputs | undefined): RealServerConfig[] =>
  v?.realServers === undefined ? [] : inlineEntries(v).map((e) => realServerConfigOf(e.rs));

/** What it takes to bring the inline real servers of `v` to the kernel, from a snapshot. */
function inlinePlan(
  v: Props,
  snap: { table: { services: ServiceEntry[] }; owned: { services: ServiceEntry[] } },
  olds?: Props,
): RealServerPlan {
  const key = serviceConfigOf(v).key;
  return planRealServers(
    key,
    wantOf(v),
    findService(snap.table, key),
    findService(snap.owned, key),
    v.owner,
    wantOf(olds).map(realServerKeyText),
    (recorded) => v.owner !== undefined && sameStack(recorded, v.owner),
  );
}

/** One add or edit of an inline real server; one made or removed meanwhile is put right. */
async function put(ipvs: IpvsClient, c: RealServerChange): Promise<void> {
  const cfg = c.config as RealServerConfig;
  const [first, second, gone] =
    c.kind === "add"
      ? ([ipvs.addRealServer, ipvs.editRealServer, IpvsAlreadyExistsError] as const)
      : ([ipvs.editRealServer, ipvs.addRealServer, IpvsNotFoundError] as const);
  await first.call(ipvs, c.service, cfg, c.owner).catch((e: unknown) => {
    if (!(e instanceof gone)) throw e;
    return second.call(ipvs, c.service, cfg, c.owner);
  });
}

/** Deletes real servers of a service (drained together first, for `drain` seconds); gone ones are done. */
async function removeAll(
  ipvs: IpvsClient,
  key: ServiceKey,
  rs: readonly RealServerConfig[],
  owner: string | undefined,
  drain: number,
): Promise<void> {
  const left = drains(key, drain) && rs.length > 0 ? await drainRealServers(ipvs, key, rs, owner, drain) : rs;
  await Promise.all(
    left.map((r) =>
      ipvs.deleteRealServer(key, r).catch((e) => {
        if (!(e instanceof IpvsNotFoundError)) throw e;
      }),
    ),
  );
}

/**
 * Brings the inline real servers to the kernel: the adds and edits that are needed, in one batch;
 * removed entries drained and deleted; strays deleted when the service is exclusive. Returns the
 * strays left.
 */
async function syncInline(v: Props, olds?: Props): Promise<string[]> {
  const ipvs = ipvsClientFor(v.connection);
  const key = serviceConfigOf(v).key;
  // (one read shared by the services of the host that sync together; any change through the client drops it)
  const plan = inlinePlan(v, await ipvs.snapshot(), olds);
  if (plan.taken.length > 0) {
    const t = plan.taken[0]!;
    throw new Error(
      `real server ${realServerKeyText(t.rs)} of ${serviceKeyText(key)} on ${ipvs.host} belongs to "${t.owner}" (another stack, by the director's ledger)${plan.taken.length > 1 ? `, and ${plan.taken.length - 1} more` : ""}: remove it there first, or leave it out of realServers`,
    );
  }
  if (plan.apply.length > 1)
    say(`applying ${plan.apply.length} real servers of ${serviceKeyText(key)} on ${ipvs.host} in one batch`);
  await Promise.all(plan.apply.map((c) => put(ipvs, c)));
  await removeAll(ipvs, key, plan.remove, v.owner, v.drainTimeout ?? 0);
  const strays = undeclared(v, plan.strays);
  if (!exclusiveOf(v)) return strays.map(realServerKeyText).sort();
  await removeAll(ipvs, key, strays, undefined, 0);
  return [];
}

/**
 * The inline real servers as the kernel has them: an entry missing from the kernel (or from the
 * ledger) is left out, one changed by hand shows its live settings.
 */
function liveEntries(v: Props, live: ServiceEntry, owned: ServiceEntry | undefined): Props["realServers"] {
  const liveBy = new Map(live.realServers.map((r) => [realServerKeyText(r.config), r.config]));
  const ownedKeys = new Set((owned?.realServers ?? []).map((r) => realServerKeyText(r.config)));
  const out: NonNullable<Props["realServers"]> = {};
  for (const e of inlineEntries(v)) {
    const k = realServerKeyText(realServerConfigOf(e.rs));
    const l = liveBy.get(k);
    if (!l || !ownedKeys.has(k)) continue;
    out[e.key] = withLiveSettings(v.realServers![e.key]!, l);
  }
  return out;
}

/**
 * Whether the kernel has the service as declared, recorded as this resource's: an update that
 * changes only real servers then leaves the service alone (at 10,000 real servers, an `ipvsadm -E`
 * and its ledger edit are a round trip of their own).
 */
async function serviceAsDeclared(ipvs: IpvsClient, v: Props): Promise<boolean> {
  const cfg = serviceConfigOf(v);
  const snap = await ipvs.snapshot();
  const live = findService(snap.table, cfg.key);
  const view = (c: VirtualServiceConfig) =>
    JSON.stringify([c.scheduler, c.schedulerFlags, c.onePacket, c.persistence ?? null, c.pe ?? null]);
  return !!live && view(live.config) === view(cfg) && findService(snap.owned, cfg.key)?.owner === v.owner;
}

/** The ipvsadm engine: ipvsadm commands (or netlink), recorded in the director's ledger. */
const ipvsadmEngine: EngineOps<Props> = {
  diff(d, olds, news) {
    // stray real servers are drift only where the service claims all its real servers
    return exclusiveOf(news) && (olds.strayRealServers?.length ?? 0) > 0 ? { ...d, changes: true } : d;
  },

  async create(v) {
    const cfg = serviceConfigOf(v);
    const ipvs = ipvsClientFor(v.connection);
    try {
      await ipvs.addService(cfg, v.owner);
    } catch (e) {
      if (!(e instanceof IpvsAlreadyExistsError)) throw e;
      const recorded = findService((await ipvs.snapshot()).owned, cfg.key)?.owner;
      if (!mayTakeOver(v.adopt, v.owner, recorded)) {
        throw new Error(
          `virtual service ${serviceKeyText(cfg.key)} already exists on ${ipvs.host}, and this resource does not own it (made by hand, by keepalived, or by another stack${recorded ? `: the director's ledger records it as "${recorded}"` : ""}). ` +
            "To manage it from this stack, set adopt: true on the VirtualService: pulumi-lvs then takes it over and converges it to the declared configuration (dynamic providers cannot `pulumi import`). Otherwise pick another address, port or fwmark.",
        );
      }
      await ipvs.editService(cfg, v.owner);
    }
    const strays = v.realServers !== undefined ? await syncInline(v) : [];
    return { ...v, strayRealServers: strays };
  },

  async read(id, props) {
    const cfg = serviceConfigOf(props);
    const snap = await ipvsClientFor(props.connection).snapshot();
    const live = findService(snap.table, cfg.key);
    if (!live) return { id: "" };
    const c = live.config;
    const owned = findService(snap.owned, cfg.key);
    const out: Props = {
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
      const plan = inlinePlan(props, snap);
      out.strayRealServers = [...plan.strays, ...plan.remove].map(realServerKeyText).sort();
    }
    return { id, props: out };
  },

  async update(news, olds) {
    const cfg = serviceConfigOf(news);
    const ipvs = ipvsClientFor(news.connection);
    if (!(await serviceAsDeclared(ipvs, news))) {
      try {
        await ipvs.editService(cfg, news.owner);
      } catch (e) {
        if (!(e instanceof IpvsNotFoundError)) throw e;
        await ipvs.addService(cfg, news.owner); // deleted out of band: put it back
      }
    }
    if (news.realServers !== undefined || olds.realServers !== undefined) {
      // (from inline to none: the entries declared before are removed)
      return { ...news, strayRealServers: await syncInline(news, olds) };
    }
    let strays: string[] = [];
    const snap = await ipvs.snapshot();
    const live = findService(snap.table, cfg.key);
    if (live) {
      strays = straysOf(live, findService(snap.owned, cfg.key));
      if (exclusiveOf(news)) {
        await removeStrays(news, live, strays);
        // what is left is declared by this deployment (its RealServers re-own it in the ledger)
        strays = [];
      }
    }
    return { ...news, strayRealServers: strays };
  },

  async delete(props) {
    const cfg = serviceConfigOf(props);
    const ipvs = ipvsClientFor(props.connection);
    const snap = await ipvs.snapshot();
    const live = findService(snap.table, cfg.key);
    if (!live) return;
    const drain = props.drainTimeout ?? 0;
    // its inline real servers, as the kernel has them
    const mine = wantOf(props).filter((w) =>
      live.realServers.some((r) => realServerKeyText(r.config) === realServerKeyText(w)),
    );
    // Real servers that this stack does not own would go with the service: unless the service
    // claims them all (exclusive), leave the service to them, with its own real servers removed.
    if (!exclusiveOf(props) && straysOf(live, findService(snap.owned, cfg.key)).length > 0) {
      await removeAll(ipvs, cfg.key, mine, props.owner, drain);
      return;
    }
    if (mine.length > 0 && drains(cfg.key, drain)) await drainRealServers(ipvs, cfg.key, mine, props.owner, drain);
    await ipvs.deleteService(cfg.key).catch((e) => {
      if (!(e instanceof IpvsNotFoundError)) throw e;
    });
  },
};

/** Of these real servers of `v`'s service, those that no resource of this deployment declares. */
function undeclared(v: Props, rs: readonly RealServerConfig[]): RealServerConfig[] {
  const host = hostIdOf(v.connection);
  const service = serviceKeyText(serviceConfigOf(v).key);
  return rs.filter((r) => !isDeclaredRealServer(host, service, realServerKeyText(r)));
}

/** An exclusive service's strays go, except the real servers this deployment declares. */
async function removeStrays(v: Props, live: ServiceEntry, strays: string[]): Promise<void> {
  const found = live.realServers.map((r) => r.config).filter((r) => strays.includes(realServerKeyText(r)));
  await removeAll(ipvsClientFor(v.connection), serviceConfigOf(v).key, undeclared(v, found), undefined, 0);
}

/** The keepalived engine: a virtual_server block in keepalived's files (keepalived/engine.ts). */
const keepalivedVs = keepalivedEngine<Props, ServiceSpec>(
  keepalivedService,
  specOf,
  (v) => ({ ...v, strayRealServers: [] }),
  (v) => v.drainTimeout ?? 0,
);

const engines = { ipvsadm: ipvsadmEngine, keepalived: keepalivedVs };
const engineOf = (v: VirtualServiceInputs): EngineOps<Props> => engines[v.engine ?? "ipvsadm"];

/** Across the deployment: one form of real servers per service, and what each inline one needs of its host. */
function inlineFailure(v: VirtualServiceInputs): string | undefined {
  if (v.realServers === undefined || v.owner === undefined) return undefined;
  const service = serviceKeyText(serviceConfigOf(v).key);
  const entries = inlineEntries(v);
  const cfgs = entries.map((e) => realServerConfigOf(e.rs));
  const mixed = checkInlineService(hostIdOf(v.connection), service, v.owner, cfgs.map(realServerKeyText));
  if (mixed) return mixed;
  for (const [i, cfg] of cfgs.entries()) {
    const need = hostNeedOf(cfg);
    const failure = need && checkHostNeed(cfg.address, `${v.owner}[${entries[i]!.key}]`, need);
    if (failure) return `realServers[${JSON.stringify(entries[i]!.key)}]: ${failure}`;
  }
  return undefined;
}

export const virtualService: pulumi.dynamic.ResourceProvider = engineProvider<Props>({
  async check(_olds, news) {
    const claimed = checkClaim<VirtualServiceInputs>(checkInputs(virtualServiceInputs, news, normalize), news, (v) => ({
      id: virtualServiceId(v),
      owner: v.owner,
      property: v.fwmark !== undefined ? "fwmark" : "address",
      kind: "virtual service",
      text: serviceKeyText(serviceConfigOf(v).key),
    }));
    return checkFailure(claimed, news, "realServers", inlineFailure);
  },
  engineOf,
  idOf: virtualServiceId,
  config: CONFIG,
  identity: IDENTITY,
});
