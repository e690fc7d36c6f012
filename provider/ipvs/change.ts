import type { RealServerConfig, RealServerKey, ServiceKey, VirtualServiceConfig } from "./types";

/**
 * One IPVS mutation, the record both clients share: the ipvsadm client turns it into a command
 * line (rules/words.ts, argsOf), the netlink client into a request (netlink/client.ts), and the
 * ledger module into the edit of the ledger (ledger/index.ts, ledgerEditOf).
 */
export type Change = ServiceChange | RealServerChange;

export interface ServiceChange {
  kind: "add" | "edit" | "delete";
  service: ServiceKey;
  rs?: undefined;
  /** The service's configuration (add, edit). */
  config?: VirtualServiceConfig;
  /** Who owns the rule, recorded in the ledger (add, edit). */
  owner?: string;
}

export interface RealServerChange {
  kind: "add" | "edit" | "delete";
  service: ServiceKey;
  rs: RealServerKey;
  /** The real server's configuration (add, edit). */
  config?: RealServerConfig;
  owner?: string;
}

export function serviceChange(kind: "add" | "edit", s: VirtualServiceConfig, owner?: string): ServiceChange;
export function serviceChange(kind: "delete", k: ServiceKey): ServiceChange;
export function serviceChange(
  kind: Change["kind"],
  s: VirtualServiceConfig | ServiceKey,
  owner?: string,
): ServiceChange {
  return kind === "delete"
    ? { kind, service: s as ServiceKey }
    : { kind, service: (s as VirtualServiceConfig).key, config: s as VirtualServiceConfig, owner };
}

export function realServerChange(
  kind: "add" | "edit",
  service: ServiceKey,
  r: RealServerConfig,
  owner?: string,
): RealServerChange;
export function realServerChange(kind: "delete", service: ServiceKey, r: RealServerKey): RealServerChange;
export function realServerChange(
  kind: Change["kind"],
  service: ServiceKey,
  r: RealServerKey | RealServerConfig,
  owner?: string,
): RealServerChange {
  const rs = { address: r.address, port: r.port };
  return kind === "delete" ? { kind, service, rs } : { kind, service, rs, config: r as RealServerConfig, owner };
}
