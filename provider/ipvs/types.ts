/**
 * The IPVS vocabulary of ipvsadm(8): a virtual service (protocol + address + port, or a firewall
 * mark) has a scheduler and real servers; each real server has a forwarding method and a weight.
 *
 * Identity (what names an object in the kernel) is kept apart from configuration (what `-E`/`-e`
 * can change in place) and from statistics (what the kernel counts), as in cloudflare/ipvs.
 */
import { addressFamily, type Family, formatHostPort } from "../net/address";

export const PROTOCOLS = ["tcp", "udp", "sctp"] as const;
export type Protocol = (typeof PROTOCOLS)[number];

export { FAMILIES, type Family } from "../net/address";

/** Every scheduler of the Linux kernel (ip_vs_<name> modules). */
export const SCHEDULERS = [
  "rr",
  "wrr",
  "lc",
  "wlc",
  "lblc",
  "lblcr",
  "dh",
  "sh",
  "sed",
  "nq",
  "fo",
  "ovf",
  "mh",
  "twos",
] as const;
export type Scheduler = (typeof SCHEDULERS)[number];

/** Scheduler flags (`ipvsadm -b`), each valid for one scheduler only. */
export const SCHEDULER_FLAGS = ["sh-fallback", "sh-port", "mh-fallback", "mh-port"] as const;
export type SchedulerFlag = (typeof SCHEDULER_FLAGS)[number];
/** Scheduler flags in their one order (ipvsadm's, the kernel's and the state's): sorted, once each. */
export function orderedFlags(flags: readonly SchedulerFlag[]): SchedulerFlag[] {
  return [...new Set(flags)].sort();
}

export function schedulerOfFlag(flag: SchedulerFlag): Scheduler {
  return flag.startsWith("sh-") ? "sh" : "mh";
}

/** Forwarding methods: masquerading (`-m`), gatewaying / direct routing (`-g`), ipip tunnelling (`-i`). */
export const FORWARDING_METHODS = ["nat", "dr", "tun"] as const;
export type ForwardingMethod = (typeof FORWARDING_METHODS)[number];

export const TUNNEL_TYPES = ["ipip", "gue", "gre"] as const;
export type TunnelType = (typeof TUNNEL_TYPES)[number];
export const TUNNEL_CHECKSUMS = ["nocsum", "csum", "remcsum"] as const;
export type TunnelChecksum = (typeof TUNNEL_CHECKSUMS)[number];

/** What names a virtual service in the kernel. */
export type ServiceKey = { protocol: Protocol; address: string; port: number } | { fwmark: number; family: Family };

export function isFwmarkKey(k: ServiceKey): k is { fwmark: number; family: Family } {
  return "fwmark" in k;
}

/** Text of a service key in ipvsadm's notation: `tcp/10.0.0.100:80`, `tcp/[fd00::1]:80`, `fwmark/1/ipv6`. */
export function serviceKeyText(k: ServiceKey): string {
  if (isFwmarkKey(k)) return `fwmark/${k.fwmark}${k.family === "ipv6" ? "/ipv6" : ""}`;
  return `${k.protocol}/${formatHostPort(k.address, k.port)}`;
}

export function sameServiceKey(a: ServiceKey, b: ServiceKey): boolean {
  return serviceKeyText(a) === serviceKeyText(b);
}

export function familyOfKey(k: ServiceKey): Family {
  return isFwmarkKey(k) ? k.family : addressFamily(k.address);
}

/** A virtual service: its key and what `ipvsadm -E` can change in place. */
export interface VirtualServiceConfig {
  key: ServiceKey;
  scheduler: Scheduler;
  /** Scheduler flags, sorted. */
  schedulerFlags: SchedulerFlag[];
  /** Persistence (`-p timeout -M netmask`); absent when the service is not persistent. */
  persistence?: {
    /** Seconds. */
    timeout: number;
    /** IPv4: a dotted mask; IPv6: a prefix length, as text ("128"). */
    netmask: string;
  };
  /** Persistence engine (`--pe`); only "sip" exists. */
  pe?: "sip";
  /** One-packet scheduling (`-o`, UDP only). */
  onePacket: boolean;
}

/** What names a real server within its virtual service. */
export interface RealServerKey {
  address: string;
  /** 0 for a fwmark service's real server given without a port. */
  port: number;
}

/** A real server: its key and what `ipvsadm -e` can change in place. */
export interface RealServerConfig extends RealServerKey {
  forwarding: ForwardingMethod;
  weight: number;
  /** Upper connection threshold (`-x`); 0 = none. */
  upperThreshold: number;
  /** Lower connection threshold (`-y`); 0 = none. */
  lowerThreshold: number;
  /** Tunnel options, for forwarding "tun" (absent means ipip, the kernel default). */
  tunnel?: {
    type: TunnelType;
    /** UDP port of a gue tunnel. */
    port?: number;
    /** Checksum mode of gue/gre tunnels (the kernel default is nocsum). */
    checksum?: TunnelChecksum;
  };
}

/** What the kernel counts for a real server; never part of the desired state. */
export interface RealServerStats {
  activeConnections: number;
  inactiveConnections: number;
}

/** One virtual service as the kernel has it, with its real servers. */
export interface ServiceEntry {
  config: VirtualServiceConfig;
  realServers: Array<{ config: RealServerConfig; stats?: RealServerStats; owner?: string }>;
  /** In a ledger: the resource that owns it (`project/stack/name`), when recorded. */
  owner?: string;
}

/** The whole IPVS table of a host (its network namespace). */
export interface IpvsTable {
  services: ServiceEntry[];
}

export function realServerKeyText(k: RealServerKey): string {
  return formatHostPort(k.address, k.port);
}

export function findService(t: IpvsTable, key: ServiceKey): ServiceEntry | undefined {
  const want = serviceKeyText(key);
  return t.services.find((s) => serviceKeyText(s.config.key) === want);
}

export function findRealServer(s: ServiceEntry, key: RealServerKey): RealServerConfig | undefined {
  return findRealServerEntry(s, key)?.config;
}

/** A real server of a service with what is known of it (stats in a kernel table, owner in a ledger). */
export function findRealServerEntry(
  s: Pick<ServiceEntry, "realServers">,
  key: RealServerKey,
): ServiceEntry["realServers"][number] | undefined {
  return s.realServers.find((r) => r.config.address === key.address && r.config.port === key.port);
}
