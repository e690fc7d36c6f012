/**
 * The IPVS vocabulary the SDK shares with the provider, taken from the provider's own lists (type
 * imports only: of the provider, the SDK loads nothing but its address module, provider/net).
 */
import type * as ipvs from "../provider/ipvs/types";
import type * as host from "../provider/model/host";
import type * as keepalived from "../provider/model/keepalived";

/** Protocols of a virtual service: `tcp`, `udp`, `sctp` (ipvsadm `-t`, `-u`, `--sctp-service`). */
export type Protocol = ipvs.Protocol;
/** Address families: `ipv4`, `ipv6` (ipvsadm `-6`). */
export type Family = ipvs.Family;
/** How a virtual service's rules are kept: `ipvsadm` (the provider writes them) or `keepalived`. */
export type Engine = keepalived.Engine;
/** net.ipv4.vs.* parameters, by their kernel names (Documentation/networking/ipvs-sysctl.rst). */
export type IpvsSysctl = host.IpvsSysctl;

/** Kernel schedulers (ipvsadm `-s`). */
export type Scheduler = ipvs.Scheduler;
/** Scheduler flags (ipvsadm `-b`): `sh-*` for the sh scheduler, `mh-*` for mh. */
export type SchedulerFlag = ipvs.SchedulerFlag;
/** Forwarding methods (ipvsadm `-m`, `-g`, `-i`): `nat`, `dr`, `tun`. */
export type ForwardingMethod = ipvs.ForwardingMethod;
/** Tunnel types of `tun` real servers (ipvsadm `--tun-type`). */
export type TunnelType = ipvs.TunnelType;
/** Tunnel checksum modes (ipvsadm `--tun-nocsum`, `--tun-csum`, `--tun-remcsum`). */
export type TunnelChecksum = ipvs.TunnelChecksum;
