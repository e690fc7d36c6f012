/**
 * The kernel's own values of what a Director sets, so that the import declares only what a site
 * changed. Read from a fresh network namespace of the lab's kernel (Debian 6.1: `sysctl -a | grep
 * net.ipv4.vs` in a namespace nobody configured) and checked against the kernel's source
 * (net/netfilter/ipvs/ip_vs_ctl.c, `ip_vs_control_net_init_sysctl`; ip_vs_lblc.c, ip_vs_lblcr.c;
 * ip_vs_est.c for est_nice, 6.2+). The lab sets conn_reuse_mode=2 in every host on purpose
 * (test/lab/README.md): the kernel's default is 1.
 */
import type { IpvsTimeouts } from "../../provider/ipvs/client";

/** net.ipv4.vs.<name> as a fresh namespace has it (sysctl's text, blanks made single spaces). */
export const IPVS_SYSCTL_DEFAULTS: Readonly<Record<string, string>> = {
  am_droprate: "10",
  amemthresh: "1024",
  backup_only: "0",
  cache_bypass: "0",
  conn_reuse_mode: "1",
  conntrack: "0",
  debug_level: "0",
  drop_entry: "0",
  drop_packet: "0",
  est_nice: "0",
  expire_nodest_conn: "0",
  expire_quiescent_template: "0",
  ignore_tunneled: "0",
  // ip_vs_lblc / ip_vs_lblcr, once loaded: a day, in seconds
  lblc_expiration: "86400",
  lblcr_expiration: "86400",
  nat_icmp_send: "0",
  pmtu_disc: "1",
  run_estimation: "1",
  schedule_icmp: "0",
  secure_tcp: "0",
  sloppy_sctp: "0",
  sloppy_tcp: "0",
  snat_reroute: "1",
  sync_persist_mode: "0",
  sync_ports: "1",
  sync_refresh_period: "0",
  sync_retries: "0",
  sync_sock_size: "0",
  sync_threshold: "3 50",
  sync_version: "1",
};

/**
 * net.ipv4.vs.* parameters whose default the kernel computes from the machine: sync_qlen_max from
 * its memory (free buffer pages / 32), est_cpulist from its housekeeping CPUs. Never imported.
 */
export const MACHINE_DEPENDENT_IPVS_SYSCTLS: readonly string[] = ["sync_qlen_max", "est_cpulist"];

/** The connection timeouts of a fresh namespace (`ipvsadm -L --timeout`: 900 120 300). */
export const IPVS_TIMEOUT_DEFAULTS: Readonly<IpvsTimeouts> = { tcp: 900, tcpFin: 120, udp: 300 };
