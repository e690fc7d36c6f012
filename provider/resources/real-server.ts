/**
 * RealServer: one real server of a virtual service (`ipvsadm -a/-e/-d`).
 *
 * Identity: the director, the service key, and the real server's address and port. Changing any
 * of them replaces it. Forwarding method, weight, thresholds and tunnel options change in place
 * with `ipvsadm -e`: no connection is dropped.
 */
import type * as pulumi from "@pulumi/pulumi";
import { IpvsAlreadyExistsError, IpvsNotFoundError } from "../ipvs/client";
import { findRealServer, findService, realServerKeyText, serviceKeyText } from "../ipvs/types";
import { hostIdOf } from "../model/connection";
import { type RealServerInputs, realServerConfigOf, realServerInputs, serviceKeyOfRef } from "../model/real-server";
import { checkInputs, diffResource, ipvsClientFor } from "./common";

const IDENTITY = ["service", "address", "port"] as const;
const CONFIG = ["forwarding", "weight", "upperThreshold", "lowerThreshold", "tunnel", "adopt"] as const;

type Props = RealServerInputs & { __provider?: string };

function normalize(v: RealServerInputs): RealServerInputs {
  const cfg = realServerConfigOf(v);
  const out: RealServerInputs = { ...v, port: cfg.port };
  if (cfg.tunnel) out.tunnel = { ...cfg.tunnel };
  else delete out.tunnel;
  return out;
}

export function realServerId(v: RealServerInputs): string {
  const cfg = realServerConfigOf(v);
  return `${hostIdOf(v.connection)}/${serviceKeyText(serviceKeyOfRef(v.service))}/${realServerKeyText(cfg)}`;
}

export const realServer: pulumi.dynamic.ResourceProvider = {
  async check(_olds, news) {
    return checkInputs(realServerInputs, news, normalize);
  },

  async diff(_id, olds: Props, news: Props) {
    return diffResource(olds, news, CONFIG, IDENTITY);
  },

  async create(inputs: Props) {
    const v = inputs;
    const key = serviceKeyOfRef(v.service);
    const cfg = realServerConfigOf(v);
    const ipvs = ipvsClientFor(v.connection);
    try {
      await ipvs.addRealServer(key, cfg);
    } catch (e) {
      if (e instanceof IpvsNotFoundError) {
        throw new Error(
          `cannot add real server ${realServerKeyText(cfg)}: virtual service ${serviceKeyText(key)} does not exist on ${ipvs.host}. ` +
            "Declare it with a VirtualService resource and pass that resource as `service`, so that it is created first.",
        );
      }
      if (!(e instanceof IpvsAlreadyExistsError)) throw e;
      if (!v.adopt) {
        throw new Error(
          `real server ${realServerKeyText(cfg)} of ${serviceKeyText(key)} already exists on ${ipvs.host}, and this stack does not own it. ` +
            "To manage it from this stack, set adopt: true on the RealServer: pulumi-lvs then takes it over and converges it to the declared weight, forwarding and thresholds (dynamic providers cannot `pulumi import`).",
        );
      }
      await ipvs.editRealServer(key, cfg);
    }
    return { id: realServerId(v), outs: { ...v } };
  },

  async read(id, props: Props) {
    const ipvs = ipvsClientFor(props.connection);
    const key = serviceKeyOfRef(props.service);
    const want = realServerConfigOf(props);
    const snap = await ipvs.snapshot();
    const svc = findService(snap.table, key);
    const live = svc && findRealServer(svc, want);
    if (!live) return { id: "" };
    const out: Props = {
      ...props,
      forwarding: live.forwarding,
      weight: live.weight,
      upperThreshold: live.upperThreshold,
      lowerThreshold: live.lowerThreshold,
    };
    if (live.tunnel) out.tunnel = { ...live.tunnel };
    else delete out.tunnel;
    return { id, props: out };
  },

  async update(_id, _olds: Props, news: Props) {
    const key = serviceKeyOfRef(news.service);
    const cfg = realServerConfigOf(news);
    const ipvs = ipvsClientFor(news.connection);
    try {
      await ipvs.editRealServer(key, cfg);
    } catch (e) {
      if (!(e instanceof IpvsNotFoundError)) throw e;
      await ipvs.addRealServer(key, cfg); // deleted out of band: put it back
    }
    return { outs: { ...news } };
  },

  async delete(_id, props: Props) {
    const ipvs = ipvsClientFor(props.connection);
    await ipvs.deleteRealServer(serviceKeyOfRef(props.service), realServerConfigOf(props)).catch((e) => {
      if (!(e instanceof IpvsNotFoundError)) throw e;
    });
  },
};
