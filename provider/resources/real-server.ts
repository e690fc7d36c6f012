/**
 * RealServer: one real server of a virtual service (`ipvsadm -a/-e/-d`).
 *
 * Identity: the director, the service key, and the real server's address and port. Changing any
 * of them replaces it. Forwarding method, weight, thresholds and tunnel options change in place
 * with `ipvsadm -e`: no connection is dropped.
 */
import type * as pulumi from "@pulumi/pulumi";
import { realServerChange } from "../ipvs/change";
import { IpvsNotFoundError } from "../ipvs/client";
import { drainRealServers, drains } from "../ipvs/drain";
import { ensure } from "../ipvs/ensure";
import { takeOverRealServer } from "../ipvs/take-over";
import { findRealServer, findRealServerEntry, findService, realServerKeyText, serviceKeyText } from "../ipvs/types";
import { type EngineObserved, keepalivedRealServer, type RealServerSpec } from "../keepalived/engine";
import { adoptsExactly, hostIdOf } from "../model/connection";
import {
  checkedRealServer,
  type RealServerInputs,
  realServerConfigOf,
  serviceKeyOfRef,
  withLiveSettings,
} from "../model/real-server";
import { say } from "../transport/progress";
import { checkClaim, checkFailure, checkInputs, deployment, hostNeedOf, mayTakeOver, resourceNameOf } from "./check";
import { ipvsClientFor } from "./clients";
import { type EngineOps, engineProvider, keepalivedEngine } from "./engines";
import { diffFields } from "./fields";

const { identity: IDENTITY, config: CONFIG } = diffFields("RealServer");
const EMPTY = { realServers: [] };

type Props = RealServerInputs & {
  __provider?: string;
  /** Whether the director's ledger lists this real server as owned (false: drift, update re-owns it). */
  owned?: boolean;
  /** Engine keepalived: the rendered file and the live table compared. */
  observed?: EngineObserved;
};

function specOf(v: RealServerInputs): RealServerSpec {
  const s: RealServerSpec = { service: serviceKeyOfRef(v.service), cfg: realServerConfigOf(v) };
  if (v.healthCheck) s.healthCheck = v.healthCheck;
  if (v.inhibitOnFailure) s.inhibitOnFailure = true;
  return s;
}

function declare(v: RealServerInputs): void {
  deployment().declareRealServer(
    hostIdOf(v.connection),
    serviceKeyText(serviceKeyOfRef(v.service)),
    realServerKeyText(realServerConfigOf(v)),
  );
}

export function realServerId(v: RealServerInputs): string {
  const cfg = realServerConfigOf(v);
  return `${hostIdOf(v.connection)}/${serviceKeyText(serviceKeyOfRef(v.service))}/${realServerKeyText(cfg)}`;
}

/** The ipvsadm engine: ipvsadm commands (or netlink), recorded in the director's ledger. */
const ipvsadmEngine: EngineOps<Props> = {
  diff(d, olds) {
    // in the kernel but missing from the ledger: an update writes it back
    return olds.owned === false ? { ...d, changes: true } : d;
  },

  async create(v) {
    const key = serviceKeyOfRef(v.service);
    const cfg = realServerConfigOf(v);
    const ipvs = ipvsClientFor(v.connection);
    if (adoptsExactly(v)) {
      await takeOverRealServer(ipvs, key, cfg, v.owner);
      declare(v);
      return { ...v, owned: true };
    }
    let found = false;
    const takeOver = async () => {
      found = true;
      const recorded = findRealServerEntry(findService((await ipvs.snapshot()).owned, key) ?? EMPTY, cfg)?.owner;
      if (!mayTakeOver(!!v.adopt, v.owner, recorded)) {
        throw new Error(
          `real server ${realServerKeyText(cfg)} of ${serviceKeyText(key)} already exists on ${ipvs.host}, and this resource does not own it` +
            (recorded ? ` (the director's ledger records it as "${recorded}")` : "") +
            ". To manage it from this stack, set adopt: true on the RealServer: pulumi-lvs then takes it over and converges it to the declared weight, forwarding and thresholds (dynamic providers cannot `pulumi import`).",
        );
      }
    };
    await ensure(ipvs, realServerChange("add", key, cfg, v.owner), { beforeFallback: takeOver }).catch((e) => {
      if (found || !(e instanceof IpvsNotFoundError)) throw e;
      throw new Error(
        `cannot add real server ${realServerKeyText(cfg)}: virtual service ${serviceKeyText(key)} does not exist on ${ipvs.host}. ` +
          "Declare it with a VirtualService resource and pass that resource as `service`, so that it is created first.",
      );
    });
    declare(v);
    return { ...v, owned: true };
  },

  async read(id, props) {
    const ipvs = ipvsClientFor(props.connection);
    const key = serviceKeyOfRef(props.service);
    const want = realServerConfigOf(props);
    const snap = await ipvs.snapshot();
    const svc = findService(snap.table, key);
    const live = svc && findRealServer(svc, want);
    if (!live) return { id: "" };
    declare(props);
    const owned = !!findRealServer(findService(snap.owned, key) ?? { config: svc.config, realServers: [] }, want);
    return { id, props: withLiveSettings({ ...props, owned }, live) };
  },

  async update(news) {
    const key = serviceKeyOfRef(news.service);
    const cfg = realServerConfigOf(news);
    const ipvs = ipvsClientFor(news.connection);
    // deleted out of band: put back
    await ensure(ipvs, realServerChange("edit", key, cfg, news.owner));
    declare(news);
    return { ...news, owned: true };
  },

  async delete(props) {
    const ipvs = ipvsClientFor(props.connection);
    const key = serviceKeyOfRef(props.service);
    const cfg = realServerConfigOf(props);
    const drain = props.drainTimeout ?? 0;
    // graceful: no new connections at once, then wait for the open ones to finish
    if (drains(key, drain) && (await drainRealServers(ipvs, key, [cfg], props.owner, drain)).length === 0) return;
    await ensure(ipvs, realServerChange("delete", key, cfg));
  },
};

/** The keepalived engine: a real_server block in keepalived's files (keepalived/engine.ts). */
const keepalivedRs = keepalivedEngine<Props, RealServerSpec>(
  keepalivedRealServer,
  specOf,
  undefined,
  (v: Props) => v.drainTimeout ?? 0,
);

/**
 * A real server that a VirtualService of this deployment now lists inline (a stack moving to the
 * inline form) is that service's: deleting the RealServer leaves it in the kernel, in the
 * ledger, and in keepalived's files.
 */
function handedOver(ops: EngineOps<Props>): EngineOps<Props> {
  return {
    ...ops,
    async delete(props) {
      const service = serviceKeyText(serviceKeyOfRef(props.service));
      const rs = realServerKeyText(realServerConfigOf(props));
      const to = deployment().inlineOwnerOf(hostIdOf(props.connection), service, rs);
      if (to !== undefined && to !== props.owner) {
        say(
          `real server ${rs} of ${service}: now listed inline by VirtualService "${resourceNameOf(to)}", left in place`,
        );
        return;
      }
      await ops.delete(props);
    },
  };
}

export const realServer: pulumi.dynamic.ResourceProvider = engineProvider<Props>({
  async check(_olds, news) {
    const checked = checkClaim<RealServerInputs>(checkInputs(checkedRealServer, news), news, (v) => ({
      id: realServerId(v),
      owner: v.owner,
      property: "address",
      kind: "real server",
      text: `${realServerKeyText(realServerConfigOf(v))} of ${serviceKeyText(serviceKeyOfRef(v.service))}`,
    }));
    const property = news.forwarding === "tun" ? "tunnel" : "port";
    const separate = checkFailure(checked, news, "service", (v: RealServerInputs) =>
      v.owner
        ? deployment().checkSeparateRealServer(
            hostIdOf(v.connection),
            serviceKeyText(serviceKeyOfRef(v.service)),
            v.owner,
          )
        : undefined,
    );
    return checkFailure(separate, news, property, (v: RealServerInputs) => {
      const need = hostNeedOf(realServerConfigOf(v));
      return need && v.owner ? deployment().checkHostNeed(v.address, v.owner, need) : undefined;
    });
  },
  engines: { ipvsadm: handedOver(ipvsadmEngine), keepalived: handedOver(keepalivedRs) },
  // (a real server's engine is its service's)
  engineOf: (v) => v.service.engine,
  idOf: realServerId,
  config: CONFIG,
  identity: IDENTITY,
});
