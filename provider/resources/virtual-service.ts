/**
 * VirtualService: one IPVS virtual service on a director (`ipvsadm -A/-E/-D`).
 *
 * Identity: the director (connection host and port) and the service key (protocol, address, port,
 * or fwmark and family). Changing either replaces the service, deleting the old one first.
 * Everything else (scheduler, flags, persistence, pe, one-packet) is changed in place with
 * `ipvsadm -E`, without an outage.
 *
 * This file wires the resource: check (model/virtual-service.ts validates and normalizes), the
 * table of its engines, ipvsadm (virtual-service-ipvsadm.ts) and keepalived, and the packed form
 * of its inline real servers at the edge (packed-entries.ts).
 */
import type * as pulumi from "@pulumi/pulumi";
import { realServerKeyText, type ServiceKey, serviceKeyText } from "../ipvs/types";
import type { ReadObject, ReadVirtualServiceInputs } from "../keepalived/conf";
import {
  type EngineObserved,
  keepalivedService,
  type RealServerSpec,
  type ServiceSpec,
  serviceFileNames,
  serviceFiles,
} from "../keepalived/engine";
import { type HandOver, handOver } from "../keepalived/hand-over";
import { realServerDirOf } from "../keepalived/render";
import { hostIdOf } from "../model/connection";
import { realServerConfigOf } from "../model/real-server";
import { validate } from "../model/validate";
import {
  checkedVirtualService,
  inlineEntries,
  serviceConfigOf,
  serviceKeyOf,
  type VirtualServiceInputs,
} from "../model/virtual-service";
import { transportFor } from "../transport/pool";
import { checkClaim, checkFailure, checkInputs, deployment, hostNeedOf } from "./check";
import { engineProvider, keepalivedEngine } from "./engines";
import { diffFields } from "./fields";
import { withPackedEntries } from "./packed-entries";
import { type IpvsadmProps, ipvsadmVirtualService } from "./virtual-service-ipvsadm";

const { identity: IDENTITY, config: CONFIG } = diffFields("VirtualService");

/**
 * The checked, normalized inputs, as stored in state (outputs add `strayRealServers`, and with
 * engine keepalived, `observed`: the rendered file and the live table compared).
 */
type Props = IpvsadmProps & { observed?: EngineObserved };

/** The inline real servers of a service (`service`) as the keepalived engine renders them (none: not inline). */
function entrySpecs(v: VirtualServiceInputs | undefined, service: ServiceKey): RealServerSpec[] {
  if (v?.realServers === undefined) return [];
  return inlineEntries(v).map((e) => {
    const s: RealServerSpec = { service, cfg: realServerConfigOf(e.rs) };
    if (e.rs.healthCheck) s.healthCheck = e.rs.healthCheck;
    if (e.rs.inhibitOnFailure) s.inhibitOnFailure = true;
    return s;
  });
}

/** The service as the keepalived engine renders it (and on update, the inline entries `olds` had and `v` has not). */
function specOf(v: VirtualServiceInputs, olds?: VirtualServiceInputs): ServiceSpec {
  const s: ServiceSpec = { cfg: serviceConfigOf(v) };
  if (v.sorryServer) s.sorryServer = v.sorryServer;
  if (v.realServers !== undefined || olds?.realServers !== undefined) {
    // (from inline to none: the entries declared before are removed)
    s.realServers = entrySpecs(v, s.cfg.key);
    const now = new Set(s.realServers.map((r) => realServerKeyText(r.cfg)));
    s.removed = entrySpecs(olds, s.cfg.key).filter((r) => !now.has(realServerKeyText(r.cfg)));
    s.drainSeconds = v.drainTimeout ?? 0;
  }
  return s;
}

/** A service's id: its director and its key (`host/tcp/10.0.0.1:80`). */
const idOf = (v: VirtualServiceInputs, key: ServiceKey): string => `${hostIdOf(v.connection)}/${serviceKeyText(key)}`;

/** The id of a VirtualService (its Pulumi id): `host[:port]/tcp/10.0.0.100:80` or `…/fwmark/1`. */
export function virtualServiceId(v: VirtualServiceInputs): string {
  return idOf(v, serviceKeyOf(v));
}

/** A virtual_server block of the site's keepalived configuration, as this director's service (undefined: the schema rejects it). */
function siteService(o: ReadObject<ReadVirtualServiceInputs>, v: VirtualServiceInputs): ServiceSpec | undefined {
  const site = validate(checkedVirtualService, { ...o.inputs, connection: v.connection }).value;
  return site && specOf(site);
}

/**
 * `adopt: "exact"`: the site's own virtual_server block of this key, to move into pulumi-lvs's
 * files (keepalived/hand-over.ts). @internal exported for tests
 */
export function serviceHandOver(v: VirtualServiceInputs): HandOver<ReadVirtualServiceInputs> {
  const spec = specOf(v);
  const key = serviceKeyText(spec.cfg.key);
  const names = serviceFileNames(spec);
  return {
    what: `virtual_server ${key}`,
    matches: (o) => {
      const s = siteService(o, v);
      return s !== undefined && serviceKeyText(s.cfg.key) === key;
    },
    render: (o) => serviceFiles(siteService(o, v)!),
    declared: serviceFiles(spec),
    nameOf: (path) => names.get(path) ?? siteFileName(path),
    make: [realServerDirOf(spec.cfg.key)],
    blocks: (c) => c.virtualServices,
  };
}

const handOverService = (v: Props) => handOver(transportFor(v.connection), serviceHandOver(v));

/** A file of a site's service that the program does not declare: a real server's, named by its file. */
const siteFileName = (path: string) => `real server file ${path}`;

/** The keepalived engine: a virtual_server block in keepalived's files (keepalived/engine.ts). */
const keepalivedVs = keepalivedEngine<Props, ServiceSpec>(
  keepalivedService,
  specOf,
  (v) => ({ ...v, strayRealServers: [] }),
  (v) => v.drainTimeout ?? 0,
  handOverService,
);

/** Across the deployment: one form of real servers per service, and what each inline one needs of its host. */
function inlineFailure(v: VirtualServiceInputs): string | undefined {
  if (v.realServers === undefined || v.owner === undefined) return undefined;
  const service = serviceKeyText(serviceKeyOf(v));
  const entries = inlineEntries(v);
  const cfgs = entries.map((e) => realServerConfigOf(e.rs));
  const mixed = deployment().checkInlineService(hostIdOf(v.connection), service, v.owner, cfgs.map(realServerKeyText));
  if (mixed) return mixed;
  for (const [i, cfg] of cfgs.entries()) {
    const need = hostNeedOf(cfg);
    const failure = need && deployment().checkHostNeed(cfg.address, `${v.owner}[${entries[i]!.key}]`, need);
    if (failure) return `realServers[${JSON.stringify(entries[i]!.key)}]: ${failure}`;
  }
  return undefined;
}

/** VirtualService's provider; Pulumi carries its inline real servers packed (packed-entries.ts). */
export const virtualService: pulumi.dynamic.ResourceProvider = withPackedEntries(
  engineProvider<Props>({
    async check(_olds, news) {
      const claimed = checkClaim<VirtualServiceInputs>(checkInputs(checkedVirtualService, news), news, (v) => {
        const key = serviceKeyOf(v);
        return {
          id: idOf(v, key),
          owner: v.owner,
          property: v.fwmark !== undefined ? "fwmark" : "address",
          kind: "virtual service",
          text: serviceKeyText(key),
        };
      });
      return checkFailure(claimed, news, "realServers", inlineFailure);
    },
    engines: { ipvsadm: ipvsadmVirtualService, keepalived: keepalivedVs },
    engineOf: (v) => v.engine,
    idOf: virtualServiceId,
    config: CONFIG,
    identity: IDENTITY,
  }),
);
