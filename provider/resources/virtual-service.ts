/**
 * VirtualService: one IPVS virtual service on a director (`ipvsadm -A/-E/-D`).
 *
 * Identity: the director (connection host and port) and the service key (protocol, address, port,
 * or fwmark and family). Changing either replaces the service, deleting the old one first.
 * Everything else (scheduler, flags, persistence, pe, one-packet) is changed in place with
 * `ipvsadm -E`, without an outage.
 */
import type * as pulumi from "@pulumi/pulumi";
import { IpvsAlreadyExistsError, IpvsNotFoundError } from "../ipvs/client";
import { findService, realServerKeyText, type ServiceEntry, serviceKeyText } from "../ipvs/types";
import { type EngineObserved, keepalivedService, type ServiceSpec } from "../keepalived/engine";
import { hostIdOf } from "../model/connection";
import { serviceConfigOf, type VirtualServiceInputs, virtualServiceInputs } from "../model/virtual-service";
import { checkClaim, checkInputs, isDeclaredRealServer, mayTakeOver } from "./check";
import { ipvsClientFor } from "./clients";
import { type EngineOps, engineProvider, keepalivedEngine } from "./engines";
import { diffFields } from "./fields";

const { identity: IDENTITY, config: CONFIG } = diffFields("VirtualService");

/**
 * The checked, normalized inputs, as stored in state (outputs add `strayRealServers`, and with
 * engine keepalived, `observed`: the rendered file and the live table compared).
 */
type Props = VirtualServiceInputs & { __provider?: string; strayRealServers?: string[]; observed?: EngineObserved };

function specOf(v: VirtualServiceInputs): ServiceSpec {
  const s: ServiceSpec = { cfg: serviceConfigOf(v) };
  if (v.sorryServer) s.sorryServer = v.sorryServer;
  return s;
}

function normalize(v: VirtualServiceInputs): VirtualServiceInputs {
  const cfg = serviceConfigOf(v);
  const out: VirtualServiceInputs = { ...v, schedulerFlags: cfg.schedulerFlags };
  if (cfg.persistence) out.persistence = { timeout: cfg.persistence.timeout, netmask: cfg.persistence.netmask };
  if (v.fwmark !== undefined) out.family = v.family ?? "ipv4";
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

/** The ipvsadm engine: ipvsadm commands (or netlink), recorded in the director's ledger. */
const ipvsadmEngine: EngineOps<Props> = {
  diff(d, olds, news) {
    // stray real servers are drift only where the service claims all its real servers
    return news.exclusive && (olds.strayRealServers?.length ?? 0) > 0 ? { ...d, changes: true } : d;
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
    return { ...v, strayRealServers: [] };
  },

  async read(id, props) {
    const cfg = serviceConfigOf(props);
    const snap = await ipvsClientFor(props.connection).snapshot();
    const live = findService(snap.table, cfg.key);
    if (!live) return { id: "" };
    const c = live.config;
    const out: Props = {
      ...props,
      scheduler: c.scheduler,
      schedulerFlags: c.schedulerFlags,
      onePacket: c.onePacket,
      strayRealServers: straysOf(live, findService(snap.owned, cfg.key)),
    };
    if (c.persistence) out.persistence = { ...c.persistence };
    else delete out.persistence;
    if (c.pe) out.pe = c.pe;
    else delete out.pe;
    return { id, props: out };
  },

  async update(news) {
    const cfg = serviceConfigOf(news);
    const ipvs = ipvsClientFor(news.connection);
    try {
      await ipvs.editService(cfg, news.owner);
    } catch (e) {
      if (!(e instanceof IpvsNotFoundError)) throw e;
      await ipvs.addService(cfg, news.owner); // deleted out of band: put it back
    }
    let strays: string[] = [];
    const snap = await ipvs.snapshot();
    const live = findService(snap.table, cfg.key);
    if (live) {
      strays = straysOf(live, findService(snap.owned, cfg.key));
      if (news.exclusive) {
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
    // Real servers that this stack does not own would go with the service: unless the service
    // claims them all (exclusive), leave the service to them.
    if (!props.exclusive && straysOf(live, findService(snap.owned, cfg.key)).length > 0) return;
    await ipvs.deleteService(cfg.key).catch((e) => {
      if (!(e instanceof IpvsNotFoundError)) throw e;
    });
  },
};

/** An exclusive service's strays go, except the real servers this deployment declares. */
async function removeStrays(v: Props, live: ServiceEntry, strays: string[]): Promise<void> {
  const cfg = serviceConfigOf(v);
  const ipvs = ipvsClientFor(v.connection);
  const host = hostIdOf(v.connection);
  for (const r of live.realServers) {
    const k = realServerKeyText(r.config);
    if (!strays.includes(k) || isDeclaredRealServer(host, serviceKeyText(cfg.key), k)) continue;
    await ipvs.deleteRealServer(cfg.key, r.config).catch((e) => {
      if (!(e instanceof IpvsNotFoundError)) throw e;
    });
  }
}

/** The keepalived engine: a virtual_server block in keepalived's files (keepalived/engine.ts). */
const keepalivedVs = keepalivedEngine<Props, ServiceSpec>(keepalivedService, specOf, (v) => ({
  ...v,
  strayRealServers: [],
}));

const engines = { ipvsadm: ipvsadmEngine, keepalived: keepalivedVs };
const engineOf = (v: VirtualServiceInputs): EngineOps<Props> => engines[v.engine ?? "ipvsadm"];

export const virtualService: pulumi.dynamic.ResourceProvider = engineProvider<Props>({
  async check(_olds, news) {
    return checkClaim<VirtualServiceInputs>(checkInputs(virtualServiceInputs, news, normalize), news, (v) => ({
      id: virtualServiceId(v),
      owner: v.owner,
      property: v.fwmark !== undefined ? "fwmark" : "address",
      kind: "virtual service",
      text: serviceKeyText(serviceConfigOf(v).key),
    }));
  },
  engineOf,
  idOf: virtualServiceId,
  config: CONFIG,
  identity: IDENTITY,
});
