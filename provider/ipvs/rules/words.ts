/**
 * Builds ipvsadm(8) command lines. Pure functions: the same configuration always gives the same
 * words, in the order `ipvsadm -S` prints them, so that a built rule and a saved rule compare equal.
 */
import { formatHostPort, fullHostNetmask, unspecifiedAddress } from "../../net/address";
import type { Change } from "../change";
import {
  type ForwardingMethod,
  familyOfKey,
  isFwmarkKey,
  orderedFlags,
  type RealServerConfig,
  type RealServerKey,
  type ServiceKey,
  type VirtualServiceConfig,
} from "../types";

export const FORWARDING_SWITCH: Record<ForwardingMethod, string> = { nat: "-m", dr: "-g", tun: "-i" };

/** The words that name a service: `-t 10.0.0.1:80`, `-u [fd00::1]:53`, `--sctp-service …`, `-f 1 [-6]`. */
export function serviceArgs(k: ServiceKey): string[] {
  if (isFwmarkKey(k)) return k.family === "ipv6" ? ["-f", String(k.fwmark), "-6"] : ["-f", String(k.fwmark)];
  const sw = k.protocol === "tcp" ? "-t" : k.protocol === "udp" ? "-u" : "--sctp-service";
  return [sw, formatHostPort(k.address, k.port)];
}

/** The service's configuration words, as `ipvsadm -S` orders them. */
export function serviceConfigArgs(s: VirtualServiceConfig): string[] {
  const a = ["-s", s.scheduler];
  if (s.persistence) {
    a.push("-p", String(s.persistence.timeout));
    if (s.persistence.netmask !== fullHostNetmask(familyOfKey(s.key))) a.push("-M", s.persistence.netmask);
  }
  if (s.pe) a.push("--pe", s.pe);
  if (s.onePacket) a.push("-o");
  if (s.schedulerFlags.length > 0) a.push("-b", orderedFlags(s.schedulerFlags).join(","));
  return a;
}

export function addServiceArgs(s: VirtualServiceConfig): string[] {
  return ["-A", ...serviceArgs(s.key), ...serviceConfigArgs(s)];
}

export function editServiceArgs(s: VirtualServiceConfig): string[] {
  return ["-E", ...serviceArgs(s.key), ...serviceConfigArgs(s)];
}

export function deleteServiceArgs(k: ServiceKey): string[] {
  return ["-D", ...serviceArgs(k)];
}

/** `addr:port`, `[v6]:port`; port 0 (a fwmark service's real server without a port) as ipvsadm saves it. */
export function realServerAddress(r: RealServerKey): string {
  return formatHostPort(r.address, r.port);
}

/** The real server's configuration words, as `ipvsadm -S` orders them (thresholds are not saved by -S, so last). */
export function realServerConfigArgs(r: RealServerConfig): string[] {
  const a = [FORWARDING_SWITCH[r.forwarding], "-w", String(r.weight)];
  if (r.forwarding === "tun" && r.tunnel) {
    a.push("--tun-type", r.tunnel.type);
    if (r.tunnel.port !== undefined) a.push("--tun-port", String(r.tunnel.port));
    if (r.tunnel.checksum !== undefined) a.push(`--tun-${r.tunnel.checksum}`);
  }
  a.push("-x", String(r.upperThreshold), "-y", String(r.lowerThreshold));
  return a;
}

export function addRealServerArgs(service: ServiceKey, r: RealServerConfig): string[] {
  return ["-a", ...serviceArgs(service), "-r", realServerAddress(r), ...realServerConfigArgs(r)];
}

export function editRealServerArgs(service: ServiceKey, r: RealServerConfig): string[] {
  return ["-e", ...serviceArgs(service), "-r", realServerAddress(r), ...realServerConfigArgs(r)];
}

export function deleteRealServerArgs(service: ServiceKey, r: RealServerKey): string[] {
  return ["-d", ...serviceArgs(service), "-r", realServerAddress(r)];
}

/**
 * Words that tell whether a service exists and change nothing: the delete of a real server that no
 * service can have (the unspecified address, which the kernel refuses as a real server). ipvsadm
 * answers "Service not defined" when the service is missing, "No such destination" when it is there.
 */
export function probeServiceArgs(k: ServiceKey): string[] {
  return ["-d", ...serviceArgs(k), "-r", formatHostPort(unspecifiedAddress(familyOfKey(k)), 0)];
}

/** Words that list one service and its real servers (`ipvsadm -L -n -t …`; a missing service stops ipvsadm -R). */
export function listServiceArgs(k: ServiceKey): string[] {
  return ["-L", "-n", ...serviceArgs(k)];
}

/** A change's words by kind (add, edit), for a service and for a real server. */
const SERVICE_WORDS = { add: addServiceArgs, edit: editServiceArgs };
const REAL_SERVER_WORDS = { add: addRealServerArgs, edit: editRealServerArgs };

/** ipvsadm's words for a change (without "ipvsadm"): the command line, and a line of `ipvsadm -R`. */
export function argsOf(c: Change): string[] {
  if (c.kind === "delete") return c.rs ? deleteRealServerArgs(c.service, c.rs) : deleteServiceArgs(c.service);
  return c.rs
    ? REAL_SERVER_WORDS[c.kind](c.service, c.config as RealServerConfig)
    : SERVICE_WORDS[c.kind](c.config as VirtualServiceConfig);
}
