import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs } from "./connection";
import { ownerOf, withSecretOutputs } from "./options";
import { providerFor } from "./shim";
import type { ForwardingMethod, TunnelType } from "./types";

/** A tunnel a tun-mode {@link RealServerHost} receives. */
export interface TunnelReceiverArgs {
  /** `ipip`, `gre` or `gue` (ipvsadm `--tun-type`). */
  type: pulumi.Input<TunnelType>;
  /** For `gue`: the UDP port GUE is received on (the RealServers' `tunnel.port`). */
  port?: pulumi.Input<number>;
}

/** Arguments of {@link RealServerHost}. */
export interface RealServerHostArgs {
  /** The real server host. Changing its host or port replaces the resource. */
  connection: pulumi.Input<ConnectionArgs>;
  /**
   * `dr`: VIPs on `lo`, ARP settings. `tun`: for each of {@link tunnels}, its modules and its
   * decapsulating device up (ipip: tunl0; gre: gre0; gue: a fou receive port feeding tunl0), the
   * IPv4 VIPs on the first device and IPv6 VIPs on ip6tnl0, rp_filter=0 on all and on each device,
   * and the ARP settings. `nat`: the return path, so that the replies from the service
   * {@link ports} go back through the director at {@link gateway} (policy routing: a rule per port
   * and address, and a table of its own; the main table and default route stay as they are).
   * Changed in place.
   */
  mode: pulumi.Input<ForwardingMethod>;
  /**
   * `dr` and `tun` (required): the VIPs the real server accepts traffic for (IPv4 /32; IPv6 /128,
   * in tun mode over ip6tnl, which needs tunnel type ipip). None in `nat` mode. Changed in place.
   */
  vips?: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * `tun` only: the tunnel types this host receives, as its RealServers' `tunnel` sends them
   * (`{type: "ipip"}`, `{type: "gre"}`, `{type: "gue", port: 6080}`). Default `[{type: "ipip"}]`.
   * Changed in place.
   */
  tunnels?: pulumi.Input<pulumi.Input<TunnelReceiverArgs>[]>;
  /**
   * The host's addresses as a real server (the RealServers' `address`; required in `nat` mode,
   * where the replies from them are routed). With them, `pulumi preview` fails when a RealServer of
   * the stack at one of these addresses needs what this host is not prepared for (a tunnel type it
   * does not receive, a NAT port it does not route back), naming both resources. Changed in place.
   */
  addresses?: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * `nat` only (required): the director's address on this host's network, where the replies go.
   * IPv4. Changed in place.
   */
  gateway?: pulumi.Input<string>;
  /**
   * `nat` only (required): the real server's service ports (the RealServers' `port`), whose
   * replies go back through the director. Changed in place.
   */
  ports?: pulumi.Input<pulumi.Input<number>[]>;
  /** The interface facing the VIP network, for arp_ignore/arp_announce. Default: the IPv4 default route's. */
  interface?: pulumi.Input<string>;
  /**
   * dr and tun: the interfaces whose `arp_ignore` (1) and `arp_announce` (2) are set, so that the
   * host neither answers ARP for the VIPs nor announces them. Default: `all` and {@link interface}.
   * The kernel uses the larger of `all`'s value and the receiving interface's, so `["all"]` alone
   * is enough; the list must include `all`. `pulumi-lvs import` writes the interfaces a host
   * prepared by hand has them on (the LVS HOWTO's `["all", "lo"]`, say), so that taking it over
   * changes none of them.
   */
  arpInterfaces?: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * Survive a reboot: /etc/sysctl.d/60-pulumi-lvs-realserver.conf, (tun) /etc/modules-load.d/pulumi-lvs-realserver.conf,
   * and a oneshot systemd unit (pulumi-lvs-realserver.service) that applies the ARP settings before adding the VIPs. Default true.
   */
  persist?: pulumi.Input<boolean>;
  /**
   * `"exact"`: take the host's settings over only as they are. The first `pulumi up` reads every
   * setting this resource declares (sysctls, modules, addresses, tunnel devices) and fails, naming each one that
   * differs and changing nothing, unless the host already has them all as declared; then it
   * changes nothing live. What `pulumi-lvs import` writes. Without it, create sets the declared
   * values (recording the ones it overwrites, which delete puts back).
   */
  adopt?: pulumi.Input<"exact">;
}

/**
 * A real server's host setup for LVS-DR, LVS-TUN, or LVS-NAT's return path. On delete, every setting it changed is put back
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
      owner: ownerOf(name),
    };
    super(providerFor("RealServerHost"), name, props, withSecretOutputs(opts), "lvs", "RealServerHost");
  }
}
