import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs } from "./connection";
import { withSecretOutputs } from "./options";
import { providerFor } from "./shim";
import type { IpvsSysctl } from "./types";

export type { IpvsSysctl } from "./types";

/** Arguments of {@link Director}. */
export interface DirectorArgs {
  /** The director host. Changing its host or port replaces the resource. */
  connection: pulumi.Input<ConnectionArgs>;
  /** `net.ipv4.ip_forward`: true for LVS-NAT (replies are routed through the director). Unset: left alone. */
  ipForward?: pulumi.Input<boolean>;
  /** `net.ipv6.conf.all.forwarding`, for IPv6 LVS-NAT. Unset: left alone. */
  ipv6Forward?: pulumi.Input<boolean>;
  /** `net.ipv4.vs.*` parameters, e.g. `{ conntrack: 1, expire_nodest_conn: 1, conn_reuse_mode: 0 }`. */
  ipvsSysctls?: pulumi.Input<Partial<Record<IpvsSysctl, pulumi.Input<number | string>>>>;
  /** Any other sysctls, by dotted name, e.g. `{ "net.ipv4.conf.all.send_redirects": 0 }`. */
  sysctls?: pulumi.Input<Record<string, pulumi.Input<number | string>>>;
  /** IPVS connection timeouts in seconds (`ipvsadm --set tcp tcpfin udp`); unset ones are left alone. */
  timeouts?: pulumi.Input<{ tcp?: pulumi.Input<number>; tcpFin?: pulumi.Input<number>; udp?: pulumi.Input<number> }>;
  /** Kernel modules to load (`ip_vs` always is), e.g. scheduler modules `ip_vs_wrr`. Default `["ip_vs"]`. */
  modules?: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * VIPs to hold on an interface (/32 or /128 unless `prefix`), announced with a gratuitous ARP when
   * added. With keepalived managing VIPs (VRRP), leave this empty.
   */
  vips?: pulumi.Input<
    pulumi.Input<{ address: pulumi.Input<string>; interface: pulumi.Input<string>; prefix?: pulumi.Input<number> }>[]
  >;
  /**
   * Survive a reboot: write /etc/sysctl.d/60-pulumi-lvs-director.conf, /etc/modules-load.d/pulumi-lvs-director.conf
   * and two oneshot systemd units: pulumi-lvs-director.service (before any network is configured:
   * the modules, then the IPVS rules the stack owns, then the sysctls and timeouts) and
   * pulumi-lvs-director-network.service (after network-online.target: each VIP once its interface
   * exists, then a best-effort gratuitous ARP; and the owned rules again after Debian's ipvsadm
   * autoload, which flushes the table). Default true.
   */
  persist?: pulumi.Input<boolean>;
  /**
   * `"exact"`: take the host's settings over only as they are. The first `pulumi up` reads every
   * setting this resource declares (sysctls, modules, addresses, IPVS timeouts) and fails, naming each one that
   * differs and changing nothing, unless the host already has them all as declared; then it
   * changes nothing live. What `pulumi-lvs import` writes. Without it, create sets the declared
   * values (recording the ones it overwrites, which delete puts back).
   */
  adopt?: pulumi.Input<"exact">;
}

/**
 * The host-level settings of an LVS director. On delete, every setting it changed is put back to
 * the value it had before, and only those; files it wrote are removed. Kernel modules stay loaded.
 */
export class Director extends pulumi.dynamic.Resource {
  declare public readonly state: pulumi.Output<Record<string, unknown>>;
  /** For each VIP: "announced", or why not. */
  declare public readonly announced: pulumi.Output<string[]>;

  constructor(name: string, args: DirectorArgs, opts?: pulumi.CustomResourceOptions) {
    const props = {
      ...args,
      connection: pulumi.secret(args.connection),
      state: undefined,
      baseline: undefined,
      announced: undefined,
    };
    super(providerFor("Director"), name, props, withSecretOutputs(opts), "lvs", "Director");
  }
}
