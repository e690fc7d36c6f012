import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs } from "./connection";
import { ownerOf } from "./options";
import { providerFor } from "./shim";

/** Arguments of {@link VrrpInstance}. */
export interface VrrpInstanceArgs {
  /** The director. keepalived must be installed on it. Changing the host replaces the resource. */
  connection: pulumi.Input<ConnectionArgs>;
  /** The keepalived `vrrp_instance` name, the same on every director of the pair. Replaces. */
  name: pulumi.Input<string>;
  /** The interface VRRP runs on (and the VIPs' default interface), e.g. `eth0`. */
  interface: pulumi.Input<string>;
  /** The virtual router id (1 to 255), the same on every director of the pair and unique on the segment. */
  virtualRouterId: pulumi.Input<number>;
  /** 1 to 254: the director with the highest priority holds the VIPs. */
  priority: pulumi.Input<number>;
  /** Seconds between VRRP advertisements (default 1). A backup takes over after about 3 missed ones. */
  advertInterval?: pulumi.Input<number>;
  /** The VIPs the MASTER holds (/32 or /128 unless `prefix`); `interface` defaults to the instance's. */
  vips: pulumi.Input<
    pulumi.Input<{ address: pulumi.Input<string>; prefix?: pulumi.Input<number>; interface?: pulumi.Input<string> }>[]
  >;
  /**
   * VRRP simple password (1 to 8 characters), the same on every director of the pair. Stored as a
   * secret in the state; it is in keepalived's file on the director (mode 0644, root-owned).
   */
  authPass?: pulumi.Input<string>;
  /** Whether a director of higher priority takes the VIPs back when it returns (default true). */
  preempt?: pulumi.Input<boolean>;
  /** Seconds to wait before preempting (`preempt_delay`). */
  preemptDelay?: pulumi.Input<number>;
  /** Send advertisements to these peers by unicast instead of multicast (where multicast is filtered). */
  unicastPeers?: pulumi.Input<pulumi.Input<string>[]>;
  /** The source address of unicast advertisements (`unicast_src_ip`); default: the interface's. */
  unicastSourceAddress?: pulumi.Input<string>;
  /**
   * The IPVS connection sync daemon, following this instance's role (`lvs_sync_daemon`): master on
   * the MASTER, backup on the others, so established connections survive a failover. `syncId`
   * (0 to 255) must match on the pair; `group` (multicast) and `port` default to 224.0.0.81:8848.
   */
  sync?: pulumi.Input<{
    interface: pulumi.Input<string>;
    syncId: pulumi.Input<number>;
    group?: pulumi.Input<string>;
    port?: pulumi.Input<number>;
  }>;
  /**
   * keepalived's `state`: the role the instance starts in when keepalived starts. Default
   * `"BACKUP"`: the priority decides which director becomes MASTER. A reload keeps the role the
   * instance has, whatever this says.
   */
  initialState?: pulumi.Input<"MASTER" | "BACKUP">;
  /**
   * `"exact"`: take over the site's own `vrrp_instance` block of this name (in
   * /etc/keepalived/keepalived.conf or a file it includes) instead of writing a new instance. It
   * must already be as declared (password included); then its lines are commented out where they
   * are, pulumi-lvs's file takes their place, `keepalived -t` checks the result and keepalived is
   * reloaded (same process: the instance keeps its role and VIPs). Otherwise the create fails
   * naming each difference and changes nothing. What `pulumi-lvs import` writes; it matters only
   * when the resource is created.
   */
  adopt?: pulumi.Input<"exact">;
}

/**
 * A keepalived VRRP instance on one director: two or more of them (one per director, same name,
 * router id, VIPs and password, different priorities) make a director pair sharing the VIPs.
 *
 * pulumi-lvs writes /etc/keepalived/conf.d/pulumi-lvs-vrrp-<name>.conf (and writes
 * /etc/keepalived/keepalived.conf only if there is none) and reloads keepalived (never restarts
 * it; starts it, and under systemd enables it, when needed). When the last pulumi-lvs file goes,
 * keepalived is put back as pulumi-lvs found it. Drift: the file edited or gone, keepalived stopped
 * or (under systemd) not enabled, or a VIP missing on the MASTER.
 */
export class VrrpInstance extends pulumi.dynamic.Resource {
  declare public readonly connection: pulumi.Output<ConnectionArgs>;
  declare public readonly name: pulumi.Output<string>;
  declare public readonly priority: pulumi.Output<number>;
  /** The role keepalived last reported: MASTER, BACKUP, FAULT, "unknown", or "stopped". */
  declare public readonly role: pulumi.Output<string>;
  /** What the last read found: `{ config: "ok" | "changed" | "missing", running, missingVips }`. */
  declare public readonly observed: pulumi.Output<{ config: string; running: boolean; missingVips: string[] }>;

  constructor(name: string, args: VrrpInstanceArgs, opts?: pulumi.CustomResourceOptions) {
    const props = {
      ...args,
      connection: pulumi.secret(args.connection),
      authPass: args.authPass === undefined ? undefined : pulumi.secret(args.authPass),
      owner: ownerOf(name),
      role: undefined,
      observed: undefined,
    };
    super(
      providerFor("VrrpInstance"),
      name,
      props,
      {
        ...opts,
        additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "connection", "authPass"],
      },
      "lvs",
      "VrrpInstance",
    );
  }
}
