/**
 * The kernel's virtual services as VirtualService inputs: one resource per service, named by its
 * kernel key, with its real servers inline (keyed `address`, or `address:port` when the port is not
 * the service's). Pure.
 */
import type { RealServerConfig, ServiceEntry, ServiceKey } from "../../provider/ipvs/types";
import { familyOfKey, isFwmarkKey, PROTOCOLS } from "../../provider/ipvs/types";
import { validate } from "../../provider/model/validate";
import { checkedVirtualService, type VirtualServiceInputs } from "../../provider/model/virtual-service";
import { addressBytes, formatHostPort, fullHostNetmask } from "../../provider/net/address";
import type { VirtualServiceArgs } from "./model";

/** A connection to validate inputs with: the schemas require one, the generator writes the real one. */
export const PLACEHOLDER_CONNECTION = { host: "import.invalid", insecureIgnoreHostKey: true };

/**
 * A service's resource name from its kernel key: `tcp-10.0.0.100-80`, `udp-fd00--100-53` (an IPv6
 * address's colons made dashes: a URN has `::` of its own), `fwmark-5`, `fwmark-5-ipv6`.
 */
export function serviceName(key: ServiceKey): string {
  if (isFwmarkKey(key)) return `fwmark-${key.fwmark}${key.family === "ipv6" ? "-ipv6" : ""}`;
  return `${key.protocol}-${key.address.replace(/:/g, "-")}-${key.port}`;
}

const byNumbers = (a: number[], b: number[]): number => {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
};

/** Addresses by family (IPv4 first), then numerically. */
export function compareAddresses(a: string, b: string): number {
  const rank = (x: string) => {
    const bytes = addressBytes(x);
    return [bytes.length, ...bytes];
  };
  return byNumbers(rank(a), rank(b));
}

/** The order of the import: protocol services (tcp, udp, sctp; IPv4 first, by address, then port), then fwmarks (IPv4 first, by mark). */
export function compareKeys(a: ServiceKey, b: ServiceKey): number {
  const rank = (k: ServiceKey) => [
    isFwmarkKey(k) ? PROTOCOLS.length : PROTOCOLS.indexOf(k.protocol),
    familyOfKey(k) === "ipv4" ? 0 : 1,
    ...(isFwmarkKey(k) ? [k.fwmark] : [...addressBytes(k.address), k.port]),
  ];
  return byNumbers(rank(a), rank(b));
}

/** Real servers by address, then port. */
export function compareRealServers(a: RealServerConfig, b: RealServerConfig): number {
  return compareAddresses(a.address, b.address) || a.port - b.port;
}

/** The port a real server has when its inline key names none: the service's (0 for a fwmark service). */
const defaultPort = (key: ServiceKey) => (isFwmarkKey(key) ? 0 : key.port);

/** A real server's key in `realServers`: its address, with its port when that is not the service's. */
export function realServerKey(service: ServiceKey, rs: RealServerConfig): string {
  return rs.port === defaultPort(service) ? rs.address : formatHostPort(rs.address, rs.port);
}

/** A real server's inline settings: forwarding and weight always, thresholds and tunnel when set. */
function inlineSettings(rs: RealServerConfig): Record<string, unknown> {
  return {
    forwarding: rs.forwarding,
    weight: rs.weight,
    ...(rs.upperThreshold > 0 ? { upperThreshold: rs.upperThreshold } : {}),
    ...(rs.lowerThreshold > 0 ? { lowerThreshold: rs.lowerThreshold } : {}),
    ...(rs.tunnel ? { tunnel: { ...rs.tunnel } } : {}),
  };
}

/** The inputs that declare one kernel service exactly as it is (engine ipvsadm, real servers inline). */
export function virtualServiceArgs(s: ServiceEntry): VirtualServiceArgs {
  const c = s.config;
  const family = familyOfKey(c.key);
  const args: VirtualServiceArgs = isFwmarkKey(c.key)
    ? { fwmark: c.key.fwmark, ...(family === "ipv6" ? { family } : {}) }
    : { protocol: c.key.protocol, address: c.key.address, port: c.key.port };
  args.scheduler = c.scheduler;
  if (c.schedulerFlags.length > 0) args.schedulerFlags = [...c.schedulerFlags];
  if (c.persistence) {
    const { timeout, netmask } = c.persistence;
    args.persistence = { timeout };
    if (netmask !== fullHostNetmask(family)) args.persistence.netmask = family === "ipv6" ? Number(netmask) : netmask;
  }
  if (c.pe) args.pe = c.pe;
  if (c.onePacket) args.onePacket = true;
  const servers = s.realServers.map((r) => r.config).sort(compareRealServers);
  args.realServers = Object.fromEntries(
    servers.map((rs) => [realServerKey(c.key, rs), inlineSettings(rs)]),
  ) as VirtualServiceArgs["realServers"];
  return args;
}

/** The inputs as the provider's check makes them (validated, defaults applied), or the schema's reasons. */
export function checkVirtualServiceArgs(args: VirtualServiceArgs): VirtualServiceInputs | string[] {
  const { value, failures } = validate(checkedVirtualService, { connection: PLACEHOLDER_CONNECTION, ...args });
  return value ?? failures.map((f) => f.reason);
}
