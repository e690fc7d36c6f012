/**
 * What a real server needs to receive LVS-TUN packets, by tunnel type (ipvsadm's `--tun-type`): a
 * dispatch table. The director encapsulates each request; the real server's kernel must take the
 * outer header off and deliver the inner packet, addressed to the VIP, locally.
 *
 * - ipip: the `ipip` module's fallback device `tunl0` takes IP-in-IP from any sender.
 * - gre: the `ip_gre` module's fallback device `gre0` takes keyless GRE from any sender (with or
 *   without a checksum).
 * - gue: a `fou` receive port with GUE (`ip fou add port P gue`) takes the UDP header off and hands
 *   the inner IP-in-IP packet to `tunl0`.
 * - IPv6 VIPs (ipip only): the `ip6_tunnel` module's fallback device `ip6tnl0` takes IPv6-in-IPv6.
 *
 * Each device is brought up, and needs rp_filter 0 (the inner packet's source, the client, is not
 * routed through it).
 */
import type { TunnelType } from "../ipvs/types";
import { shellJoin, shellQuote } from "../transport/transport";
import type { HostObject } from "./probe";

/** A tunnel a real-server host receives: its type, and for gue the UDP port. */
export interface TunnelReceiver {
  type: TunnelType;
  port?: number;
}

interface Receiver {
  /** The modules that make its device (and for gue, the receive port). */
  modules: string[];
  /** The fallback device that takes the decapsulated packets. */
  device: string;
}

const RECEIVERS: Record<TunnelType, Receiver> = {
  ipip: { modules: ["ipip"], device: "tunl0" },
  gre: { modules: ["ip_gre"], device: "gre0" },
  gue: { modules: ["fou", "ipip"], device: "tunl0" },
};

/** The receiver of IPv6 VIPs (IPv6-in-IPv6, the only tunnel type IPv6 VIPs take here). */
const IPV6_RECEIVER: Receiver = { modules: ["ip6_tunnel"], device: "ip6tnl0" };

/** What the host needs for its tunnels and VIPs: modules, devices (up), and GUE receive ports. */
export interface TunnelPrep {
  modules: string[];
  /** IPv4 devices, in the order of the tunnels (the first takes the IPv4 VIPs). */
  devices: string[];
  /** The device of the IPv6 VIPs, if there are any. */
  ipv6Device?: string;
  guePorts: number[];
}

export function tunnelPrep(tunnels: readonly TunnelReceiver[], hasIpv6Vips: boolean): TunnelPrep {
  const used = [...tunnels.map((t) => RECEIVERS[t.type]), ...(hasIpv6Vips ? [IPV6_RECEIVER] : [])];
  const prep: TunnelPrep = {
    modules: [...new Set(used.flatMap((r) => r.modules))],
    devices: [...new Set(tunnels.map((t) => RECEIVERS[t.type].device))],
    guePorts: tunnels.flatMap((t) => (t.type === "gue" && t.port !== undefined ? [t.port] : [])),
  };
  if (hasIpv6Vips) prep.ipv6Device = IPV6_RECEIVER.device;
  return prep;
}

/** A GUE receive port (`ip fou add port P gue`), known by the line `ip fou show` prints for it. */
export function guePort(port: number): HostObject {
  const fou = ["port", String(port), "gue"];
  // as `ip fou show` prints it
  const line = fou.join(" ");
  return {
    kind: "fou",
    name: line,
    // `ip fou add` refuses a port that is there already
    add: `ip fou show 2>/dev/null | grep -qx ${shellQuote(line)} || ${shellJoin(["ip", "fou", "add", ...fou])}`,
    remove: `${shellJoin(["ip", "fou", "del", "port", String(port)])} 2>/dev/null || true`,
  };
}
