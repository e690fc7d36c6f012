/**
 * The IPVS vocabulary the SDK shares with the provider, taken from the provider's own types (type
 * imports only: nothing of the provider loads with the SDK).
 */
import type * as ipvs from "../provider/ipvs/types";

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
