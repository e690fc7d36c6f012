import * as pulumi from "@pulumi/pulumi";
import { packInlineEntry, unpackInlineEntry } from "../provider/model/inline-pack";
import type { ConnectionArgs } from "./connection";
import { ownerOf, withSecretOutputs } from "./options";
import type { RealServerArgs } from "./real-server";
import { providerFor } from "./shim";

import type { Engine, Family, Protocol, Scheduler, SchedulerFlag } from "./types";

export type { Engine, Family, Protocol, Scheduler, SchedulerFlag } from "./types";

/** Arguments of {@link VirtualService}. */
export interface VirtualServiceArgs {
  /** The director (where the IPVS table lives). Changing its host or port replaces the service. */
  connection: pulumi.Input<ConnectionArgs>;
  /** `tcp`, `udp` or `sctp` (ipvsadm `-t`, `-u`, `--sctp-service`). Required unless {@link fwmark} is set. Replaces. */
  protocol?: pulumi.Input<Protocol>;
  /** The virtual IP address, IPv4 or IPv6. Required unless {@link fwmark} is set. Replaces. */
  address?: pulumi.Input<string>;
  /** The virtual port. Required unless {@link fwmark} is set. Replaces. */
  port?: pulumi.Input<number>;
  /** A firewall-mark service (ipvsadm `-f`): packets marked so by iptables/nftables. Replaces. */
  fwmark?: pulumi.Input<number>;
  /** Address family of a fwmark service (ipvsadm `-6`). Default `ipv4`. Replaces. */
  family?: pulumi.Input<Family>;
  /** Scheduler (ipvsadm `-s`). Default `wlc`, as ipvsadm. Changed in place (`-E`). */
  scheduler?: pulumi.Input<Scheduler>;
  /** Scheduler flags (ipvsadm `-b`), which must fit the scheduler. Changed in place. */
  schedulerFlags?: pulumi.Input<pulumi.Input<SchedulerFlag>[]>;
  /**
   * Persistence (ipvsadm `-p timeout -M netmask`): clients from one network go to one real server.
   * `timeout` in seconds (default 300); `netmask` a dotted mask for IPv4 (default 255.255.255.255)
   * or a prefix length for IPv6 (default 128). Changed in place.
   */
  persistence?: pulumi.Input<{ timeout?: pulumi.Input<number>; netmask?: pulumi.Input<string | number> }>;
  /** Persistence engine (ipvsadm `--pe`): `sip` (needs {@link persistence}). Changed in place. */
  pe?: pulumi.Input<"sip">;
  /** One-packet scheduling (ipvsadm `-o`), for UDP. Changed in place. */
  onePacket?: pulumi.Input<boolean>;
  /**
   * Claim every real server of this service: real servers that the stack does not declare (made
   * by hand, say) are drift, and `pulumi up` removes them. Default: true with {@link realServers},
   * else false: they are reported in `strayRealServers` and left alone.
   */
  exclusive?: pulumi.Input<boolean>;
  /**
   * Take over a service that already exists on the director (made by hand or by another tool)
   * instead of failing. Dynamic providers cannot `pulumi import`; this is the way to adopt.
   * - `true`: take it over and converge it to these arguments.
   * - `"exact"`: take it over only as it is: the scheduler, flags, persistence and (with
   *   {@link realServers}) every real server must already be as declared, with no other real
   *   server. Then the kernel is not touched (the service is only recorded in the director's
   *   ledger); otherwise the create fails naming each difference and changes nothing. What
   *   `pulumi-lvs import` writes; it matters only when the resource is created.
   *
   * With engine `keepalived` only `"exact"` applies, and it takes over the site's own
   * `virtual_server` block (in /etc/keepalived/keepalived.conf or a file it includes): when the
   * block means what these arguments render (real servers, checks, sorry server included), its
   * lines are commented out where they are, pulumi-lvs's files take their place, `keepalived -t`
   * checks the result and keepalived is reloaded, never restarted (the table stays as it is).
   */
  adopt?: pulumi.Input<boolean | "exact">;
  /**
   * Who makes the IPVS rules: `ipvsadm` (the default: pulumi-lvs runs ipvsadm, or netlink on a local
   * connection) or `keepalived`: pulumi-lvs writes a `virtual_server` block to
   * /etc/keepalived/conf.d/pulumi-lvs-vs-*.conf (its RealServers add `real_server` blocks) and
   * reloads keepalived (starting it, and under systemd enabling it, when needed), which makes the
   * rules and runs the real servers' health checks. keepalived stopped or not enabled is drift. Use
   * the same engine for every service of a director pair. keepalived leaves out a service that has no
   * real server. Changing it replaces the service.
   */
  engine?: pulumi.Input<Engine>;
  /**
   * Engine keepalived: the server that takes the traffic while no real server passes its check
   * (`sorry_server`). `port` defaults to the service's port.
   */
  sorryServer?: pulumi.Input<{ address: pulumi.Input<string>; port?: pulumi.Input<number> }>;
  /**
   * The service's real servers, inline: a map from `address[:port]` (`10.0.0.11`, `10.0.0.11:8080`,
   * `fd00::11`, `[fd00::11]:8080`; the port defaults to the service's) to the settings a
   * {@link RealServer} takes: `forwarding`, `weight`, `upperThreshold`, `lowerThreshold`, `tunnel`,
   * and with engine keepalived `healthCheck` and `inhibitOnFailure`. All in one resource: an `up`
   * applies only the entries that changed, in one round trip, and a refresh reads them all in one;
   * `preview --diff` shows each entry by its key. Use it for many real servers (a table of
   * thousands is a handful of resources), and a separate RealServer when one real server needs its
   * own dependencies or lifecycle. A service takes one form or the other: RealServers of a service
   * that lists real servers inline fail at preview. Changed in place. Moving real servers from
   * separate RealServers into this map hands them over without removing them from the kernel.
   * Each entry travels to the provider and sits in state as one compact JSON string (defaults
   * left out); the {@link VirtualService.realServers} output gives objects back.
   */
  realServers?: pulumi.Input<Record<string, pulumi.Input<InlineRealServerArgs>>>;
  /**
   * Graceful drain of the inline real servers an `up` removes, in seconds (default 0: removed at
   * once), as {@link RealServerArgs.drainTimeout}: weight 0 first, deleted when their active
   * connections reach 0 or this many seconds have passed. A destroy drains them all together.
   */
  drainTimeout?: pulumi.Input<number>;
}

/** One inline real server of a {@link VirtualService} (see {@link VirtualServiceArgs.realServers}). */
export type InlineRealServerArgs = Pick<
  RealServerArgs,
  "forwarding" | "weight" | "upperThreshold" | "lowerThreshold" | "tunnel" | "healthCheck" | "inhibitOnFailure"
>;

/**
 * An IPVS virtual service on a director: `ipvsadm -A` on create, `-E` on update, `-D` on delete.
 *
 * Its id reads `host[:port]/tcp/10.0.0.100:80` (or `…/fwmark/1`).
 */
export class VirtualService extends pulumi.dynamic.Resource {
  declare public readonly connection: pulumi.Output<ConnectionArgs>;
  declare public readonly protocol: pulumi.Output<Protocol | undefined>;
  declare public readonly address: pulumi.Output<string | undefined>;
  declare public readonly port: pulumi.Output<number | undefined>;
  declare public readonly fwmark: pulumi.Output<number | undefined>;
  declare public readonly family: pulumi.Output<Family | undefined>;
  declare public readonly scheduler: pulumi.Output<Scheduler>;
  declare public readonly schedulerFlags: pulumi.Output<SchedulerFlag[]>;
  declare public readonly persistence: pulumi.Output<{ timeout: number; netmask: string } | undefined>;
  declare public readonly pe: pulumi.Output<"sip" | undefined>;
  declare public readonly onePacket: pulumi.Output<boolean>;
  declare public readonly exclusive: pulumi.Output<boolean>;
  /**
   * The inline real servers by key, as the last read found them in the kernel (engine ipvsadm):
   * an entry missing from the kernel is missing here, one changed by hand shows its live settings.
   * With engine keepalived, drifted entries are named in `observed.drifted` instead. Objects with
   * every setting (the state holds each entry as a compact string).
   */
  declare public readonly realServers: pulumi.Output<Record<string, InlineRealServerArgs> | undefined>;
  /** Real servers of this service in the kernel that the stack does not own (`address:port`). */
  declare public readonly strayRealServers: pulumi.Output<string[]>;
  /** `ipvsadm` (also when unset) or `keepalived`. */
  declare public readonly engine: pulumi.Output<Engine | undefined>;
  /**
   * Engine keepalived: what the last read found, `{ config, live, drifted }`: the file as rendered
   * ("ok"), edited ("changed") or gone ("missing"); the live table as keepalived should have it, or
   * not; and, with inline real servers, the keys (`address:port`) of those whose file or rule is off.
   */
  declare public readonly observed: pulumi.Output<{ config: string; live: string; drifted?: string[] } | undefined>;

  constructor(name: string, args: VirtualServiceArgs, opts?: pulumi.CustomResourceOptions) {
    const props = {
      ...args,
      connection: pulumi.secret(args.connection),
      owner: ownerOf(name),
      observed: undefined,
      strayRealServers: undefined,
      realServers: packedEntries(args.realServers),
    };
    super(providerFor("VirtualService"), name, props, withSecretOutputs(opts), "lvs", "VirtualService");
    // (state holds the entries packed: the program sees objects)
    const packed = this.realServers as pulumi.Output<Record<string, unknown> | undefined>;
    (this as { realServers: VirtualService["realServers"] }).realServers = packed.apply((t) =>
      t === undefined ? undefined : mapValues(t, unpackInlineEntry),
    );
  }
}

type Entries = VirtualServiceArgs["realServers"];

const mapValues = <T, U>(t: Record<string, T>, f: (v: T) => U): Record<string, U> =>
  Object.fromEntries(Object.entries(t).map(([k, v]) => [k, f(v)]));

/**
 * The inline real servers as the provider takes them, each entry packed on its own: during a
 * preview, an entry that depends on an unknown value is unknown alone (a table that is itself an
 * Output is packed when it resolves, whole).
 */
function packedEntries(t: Entries): pulumi.Input<Record<string, pulumi.Input<string>>> | undefined {
  if (t === undefined) return undefined;
  if (pulumi.Output.isInstance(t) || t instanceof Promise) {
    return pulumi.output(t).apply((table) => mapValues(table as Record<string, unknown>, packInlineEntry));
  }
  return mapValues(t as Record<string, pulumi.Input<InlineRealServerArgs>>, (e) =>
    pulumi.output(e).apply(packInlineEntry),
  );
}
