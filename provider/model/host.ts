import { z } from "zod";
import { FORWARDING_METHODS, TUNNEL_TYPES } from "../ipvs/types";
import { hostPrefix, isIPv4, isIPv6, maxPrefix } from "../net/address";
import { connection, hostAdopt, owner } from "./connection";
import { ipAddress, port } from "./net";

/** A network interface name (as the kernel allows them). */
export const interfaceName = z
  .string({ error: "must be an interface name such as eth0" })
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,14}$/, {
    error: "must be an interface name (1-15 letters, digits, _ . : -), such as eth0",
  });

const moduleName = z.string().regex(/^[a-z0-9_]{1,64}$/, { error: "must be a kernel module name such as ip_vs_wrr" });

/** net.ipv4.vs.* parameters (Documentation/networking/ipvs-sysctl.rst). */
export const IPVS_SYSCTLS = [
  "am_droprate",
  "amemthresh",
  "backup_only",
  "cache_bypass",
  "conn_reuse_mode",
  "conntrack",
  "drop_entry",
  "drop_packet",
  "expire_nodest_conn",
  "expire_quiescent_template",
  "ignore_tunneled",
  "nat_icmp_send",
  "pmtu_disc",
  "schedule_icmp",
  "secure_tcp",
  "sloppy_sctp",
  "sloppy_tcp",
  "snat_reroute",
  "sync_persist_mode",
  "sync_ports",
  "sync_qlen_max",
  "sync_refresh_period",
  "sync_retries",
  "sync_sock_size",
  "sync_threshold",
  "sync_version",
  "run_estimation",
] as const;
/** A net.ipv4.vs.* parameter. */
export type IpvsSysctl = (typeof IPVS_SYSCTLS)[number];

const SYSCTL_VALUE = "must be a number (or numbers separated by spaces)";
const sysctlValue = z.union(
  [
    z.number({ error: SYSCTL_VALUE }).int({ error: SYSCTL_VALUE }),
    z.string().regex(/^[0-9 -]{1,64}$/, { error: SYSCTL_VALUE }),
  ],
  { error: SYSCTL_VALUE },
);

const timeout = z
  .number({ error: "must be a number of seconds" })
  .int({ error: "must be a whole number of seconds" })
  .min(1, { error: "must be at least 1 second" })
  .max(2_147_483, { error: "must be at most 2147483 seconds" });

export const directorInputs = z
  .strictObject({
    connection,
    ipForward: z.boolean({ error: "must be a boolean" }).optional(),
    ipv6Forward: z.boolean({ error: "must be a boolean" }).optional(),
    ipvsSysctls: z
      .partialRecord(
        z.enum(IPVS_SYSCTLS, {
          error: (i) => `"${String(i.input)}" is not a net.ipv4.vs parameter; known: ${IPVS_SYSCTLS.join(", ")}`,
        }),
        sysctlValue,
      )
      .optional(),
    sysctls: z
      .record(
        z.string().regex(/^(net|kernel|vm|fs)\.[A-Za-z0-9_.-]+$/, {
          error: "must be a dotted sysctl name such as net.ipv4.conf.all.send_redirects",
        }),
        sysctlValue,
      )
      .optional(),
    timeouts: z
      .strictObject({ tcp: timeout.optional(), tcpFin: timeout.optional(), udp: timeout.optional() })
      .optional(),
    modules: z.array(moduleName).default(["ip_vs"]),
    vips: z
      .array(
        z.strictObject({
          address: ipAddress,
          interface: interfaceName,
          prefix: z.number().int().min(1).max(maxPrefix("ipv6")).optional(),
        }),
      )
      .default([]),
    persist: z.boolean({ error: "must be a boolean" }).default(true),
    adopt: hostAdopt,
  })
  .superRefine((v, ctx) => {
    v.vips.forEach((vip, i) => {
      const max = hostPrefix(vip.address);
      if (vip.prefix !== undefined && vip.prefix > max)
        ctx.addIssue({
          code: "custom",
          path: ["vips", i, "prefix"],
          message: `must be at most ${max} for ${vip.address}`,
        });
    });
    const seen = new Set<string>();
    v.vips.forEach((vip, i) => {
      if (seen.has(vip.address))
        ctx.addIssue({ code: "custom", path: ["vips", i, "address"], message: `${vip.address} is listed twice` });
      seen.add(vip.address);
    });
  });
export type DirectorInputs = z.infer<typeof directorInputs>;

/** A tunnel a tun-mode real-server host receives (the RealServers' `tunnel`, without the checksum). */
const tunnelReceiver = z.strictObject({
  type: z.enum(TUNNEL_TYPES, { error: `must be one of ${TUNNEL_TYPES.join(", ")}` }),
  port: port.optional(),
});

export const realServerHostInputs = z
  .strictObject({
    connection,
    mode: z.enum(FORWARDING_METHODS, {
      error: 'must be "dr" (direct routing), "tun" (IP tunnelling) or "nat" (masquerading)',
    }),
    vips: z.array(ipAddress, { error: "must be a list of IP addresses" }).default([]),
    interface: interfaceName.optional(),
    /** nat: the director's address on this host's network, where the replies go. */
    gateway: ipAddress.optional(),
    /** nat: the real-server ports whose replies go back through the director. */
    ports: z.array(port, { error: "must be a list of ports" }).optional(),
    /** tun: the tunnel types the host receives (default ipip). */
    tunnels: z.array(tunnelReceiver, { error: 'must be a list of tunnels such as {type: "gre"}' }).optional(),
    /** dr, tun: where arp_ignore=1 / arp_announce=2 are set (default: all and the interface). */
    arpInterfaces: z
      .array(interfaceName, { error: 'must be a list of interface names, such as ["all"]' })
      .min(1, { error: 'must list at least one interface, such as "all"' })
      .optional(),
    /** The host's real-server addresses (the RealServers' `address`), for the preview check of tunnels. */
    addresses: z.array(ipAddress, { error: "must be a list of IP addresses" }).optional(),
    persist: z.boolean({ error: "must be a boolean" }).default(true),
    adopt: hostAdopt,
    owner: owner.optional(),
  })
  .superRefine((v, ctx) => {
    const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: "custom", path, message });
    const seen = new Set<string>();
    v.vips.forEach((a, i) => {
      if (seen.has(a)) issue(["vips", i], `${a} is listed twice`);
      seen.add(a);
    });
    if (v.mode === "nat") return checkNat(v, issue);
    if (v.vips.length === 0) issue(["vips"], "must list at least one VIP");
    if (v.arpInterfaces !== undefined && !v.arpInterfaces.includes("all"))
      issue(
        ["arpInterfaces"],
        'must include "all": the kernel takes the larger of all\'s value and the receiving interface\'s, so without "all" an interface not listed still answers ARP for the VIPs',
      );
    for (const k of ["gateway", "ports"] as const)
      if (v[k] !== undefined) issue([k], 'is only for mode "nat" (the return path through the director)');
    if (v.mode !== "tun") {
      if (v.tunnels !== undefined) issue(["tunnels"], 'is only for mode "tun"');
      return;
    }
    const tunnels = v.tunnels ?? [{ type: "ipip" }];
    const types = new Set<string>();
    tunnels.forEach((t, i) => {
      if (t.type === "gue" && t.port === undefined)
        issue(["tunnels", i, "port"], "is required for a gue tunnel (the UDP port GUE is received on)");
      if (t.type !== "gue" && t.port !== undefined) issue(["tunnels", i, "port"], `is only for gue, not ${t.type}`);
      const k = `${t.type}:${t.port ?? ""}`;
      if (types.has(k)) issue(["tunnels", i], `${t.type}${t.port ? ` port ${t.port}` : ""} is listed twice`);
      types.add(k);
    });
    if (!tunnels.some((t) => t.type === "ipip")) {
      v.vips.forEach((a, i) => {
        if (isIPv6(a))
          issue(
            ["vips", i],
            `${a}: IPv6 VIPs in tun mode are received over ip6tnl (IPv6-in-IPv6), which is tunnel type ipip: add {type: "ipip"} to tunnels`,
          );
      });
    }
  });
export type RealServerHostInputs = z.infer<typeof realServerHostInputs>;

type Issue = (path: (string | number)[], message: string) => void;

/** nat mode: the director's address, the ports and the host's addresses, IPv4 (the return path's rules). */
function checkNat(
  v: {
    vips: string[];
    gateway?: string;
    ports?: number[];
    addresses?: string[];
    tunnels?: unknown;
    arpInterfaces?: unknown;
  },
  issue: Issue,
): void {
  if (v.vips.length > 0) issue(["vips"], "are not for mode nat: the director holds the VIP, the real server gets none");
  if (v.tunnels !== undefined) issue(["tunnels"], 'is only for mode "tun"');
  if (v.arpInterfaces !== undefined)
    issue(["arpInterfaces"], 'is only for modes "dr" and "tun" (a NAT real server holds no VIP to hide from ARP)');
  if (v.gateway === undefined)
    issue(["gateway"], "is required for mode nat: the director's address on this host's network, where replies go");
  else if (!isIPv4(v.gateway)) issue(["gateway"], "must be IPv4 (the NAT return path is IPv4 only)");
  if (!v.ports?.length)
    issue(
      ["ports"],
      "must list the real server's service ports for mode nat (their replies go back through the director)",
    );
  if (!v.addresses?.length)
    issue(["addresses"], "must list the host's real-server addresses for mode nat (the replies from them are routed)");
  v.addresses?.forEach((a, i) => {
    if (!isIPv4(a)) issue(["addresses", i], `${a}: the NAT return path is IPv4 only`);
  });
  if (new Set(v.ports).size !== (v.ports ?? []).length) issue(["ports"], "lists a port twice");
}
