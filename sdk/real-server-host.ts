import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs } from "./connection";
import { withSecretOutputs } from "./options";
import { providerFor } from "./shim";

/** Arguments of {@link RealServerHost}. */
export interface RealServerHostArgs {
  /** The real server host. Changing its host or port replaces the resource. */
  connection: pulumi.Input<ConnectionArgs>;
  /**
   * `dr`: VIPs on `lo`, ARP settings. `tun`: the ipip module, tunl0 up with the VIPs on it,
   * rp_filter=0 on all and tunl0, and the ARP settings.
   */
  mode: pulumi.Input<"dr" | "tun">;
  /** The VIPs the real server accepts traffic for (IPv4 /32; IPv6 /128 in dr mode). */
  vips: pulumi.Input<pulumi.Input<string>[]>;
  /** The interface facing the VIP network, for arp_ignore/arp_announce. Default: the IPv4 default route's. */
  interface?: pulumi.Input<string>;
  /**
   * Survive a reboot: /etc/sysctl.d/60-pulumi-lvs-realserver.conf, (tun) /etc/modules-load.d/pulumi-lvs-realserver.conf,
   * and a oneshot systemd unit (pulumi-lvs-realserver.service) that applies the ARP settings before adding the VIPs. Default true.
   */
  persist?: pulumi.Input<boolean>;
}

/**
 * A real server's host setup for LVS-DR or LVS-TUN. On delete, every setting it changed is put back
 * to the value it had before, and only those; the VIPs it added and the files it wrote are removed.
 */
export class RealServerHost extends pulumi.dynamic.Resource {
  declare public readonly effectiveInterface: pulumi.Output<string>;
  declare public readonly state: pulumi.Output<Record<string, unknown>>;

  constructor(name: string, args: RealServerHostArgs, opts?: pulumi.CustomResourceOptions) {
    const props = {
      ...args,
      connection: pulumi.secret(args.connection),
      state: undefined,
      baseline: undefined,
      effectiveInterface: undefined,
    };
    super(providerFor("RealServerHost"), name, props, withSecretOutputs(opts), "lvs", "RealServerHost");
  }
}
