import { z } from "zod";
import { connection } from "./connection";
import { ipAddress } from "./net";

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
          prefix: z.number().int().min(1).max(128).optional(),
        }),
      )
      .default([]),
    persist: z.boolean({ error: "must be a boolean" }).default(true),
  })
  .superRefine((v, ctx) => {
    v.vips.forEach((vip, i) => {
      const max = vip.address.includes(":") ? 128 : 32;
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

export const realServerHostInputs = z
  .strictObject({
    connection,
    mode: z.enum(["dr", "tun"], { error: 'must be "dr" (direct routing) or "tun" (IP tunnelling)' }),
    vips: z
      .array(ipAddress, { error: "must be a list of IP addresses" })
      .min(1, { error: "must list at least one VIP" }),
    interface: interfaceName.optional(),
    persist: z.boolean({ error: "must be a boolean" }).default(true),
  })
  .superRefine((v, ctx) => {
    const seen = new Set<string>();
    v.vips.forEach((a, i) => {
      if (seen.has(a)) ctx.addIssue({ code: "custom", path: ["vips", i], message: `${a} is listed twice` });
      seen.add(a);
      if (v.mode === "tun" && a.includes(":")) {
        ctx.addIssue({
          code: "custom",
          path: ["vips", i],
          message: `${a}: IPv6 VIPs are supported in dr mode only (tun mode uses IPv4 ipip tunnels)`,
        });
      }
    });
  });
export type RealServerHostInputs = z.infer<typeof realServerHostInputs>;
