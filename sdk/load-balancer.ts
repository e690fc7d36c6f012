import * as pulumi from "@pulumi/pulumi";
import { formatHostPort, hasPort } from "../provider/net/address";
import type { ConnectionArgs } from "./connection";
import { Director, type DirectorArgs } from "./director";
import { RealServerHost, type RealServerHostArgs } from "./real-server-host";
import type { ForwardingMethod, Protocol, TunnelChecksum, TunnelType } from "./types";
import { type InlineRealServerArgs, type Scheduler, type SchedulerFlag, VirtualService } from "./virtual-service";

/** One backend of a {@link LoadBalancer}. */
export interface BackendArgs {
  /** The real server's address on the VIP's network (ipvsadm `-r`). */
  address: pulumi.Input<string>;
  /** Its port, for `nat` only (direct routing and tunnelling cannot remap ports). Default: the service's. */
  port?: pulumi.Input<number>;
  /** Weight, 0 to 65535. Default 1. */
  weight?: pulumi.Input<number>;
  /**
   * How to reach the backend host over SSH: its host is then prepared (a {@link RealServerHost}).
   * `dr` and `tun` (required): the VIP on lo, or on the tunnel's device; ARP and rp_filter
   * settings. `nat` (optional): the return path, so that its replies go back through the director
   * at `directorAddress` (policy routing for the service ports only; without a connection, route
   * the replies yourself).
   */
  connection?: pulumi.Input<ConnectionArgs>;
  /** The backend host's interface facing the VIP network. Default: its default route's. */
  interface?: pulumi.Input<string>;
}

/** Arguments of {@link LoadBalancer}. */
export interface LoadBalancerArgs {
  /** The director. */
  director: pulumi.Input<ConnectionArgs>;
  /** The director's interface on the VIP network, where the VIP is added. Default `eth0`. */
  directorInterface?: pulumi.Input<string>;
  /**
   * For `nat` backends with a connection: the director's address on their network, where their
   * replies go (IPv4).
   */
  directorAddress?: pulumi.Input<string>;
  /** The virtual IP. */
  vip: string;
  /** The ports to balance, one virtual service each. */
  ports: number[];
  /** `tcp` (default), `udp` or `sctp`. */
  protocol?: Protocol;
  /**
   * `dr` (default), `nat` or `tun`. `nat` turns on the director's ip_forward and turns off its ICMP
   * redirects (clients on the real servers' LAN would otherwise be told to bypass it).
   */
  forwarding?: ForwardingMethod;
  /**
   * For `tun`: how the director encapsulates (every real server's `tunnel`): `{type: "ipip"}`
   * (the default), `{type: "gre"}` or `{type: "gue", port: 6080}`, with an optional `checksum`.
   * Each backend's host is prepared to receive it.
   */
  tunnel?: { type: TunnelType; port?: number; checksum?: TunnelChecksum };
  /** Scheduler of every service. Default `wlc`. */
  scheduler?: pulumi.Input<Scheduler>;
  /** Scheduler flags of every service. */
  schedulerFlags?: pulumi.Input<pulumi.Input<SchedulerFlag>[]>;
  /** Persistence of every service (seconds, and a netmask). */
  persistence?: pulumi.Input<{ timeout?: pulumi.Input<number>; netmask?: pulumi.Input<string | number> }>;
  /** The backends. */
  backends: BackendArgs[];
  /** More director settings (sysctls, timeouts, modules, persist). */
  directorSettings?: Omit<DirectorArgs, "connection" | "vips">;
  /** Remove real servers that the stack does not declare (see VirtualService.exclusive). Default true. */
  exclusive?: pulumi.Input<boolean>;
  /**
   * Graceful drain of the backends an `up` removes, in seconds (see VirtualService.drainTimeout).
   * Default 0: removed at once.
   */
  drainTimeout?: pulumi.Input<number>;
}

/**
 * A whole LVS load balancer: the director's settings (VIP, ip_forward for NAT), one virtual service
 * per port with its real servers inline (so a thousand backends are a handful of resources), and
 * the backends' host setup (DR, TUN, the NAT return path). The low-level resources it creates are
 * children of this component and can be used on their own. A stack made with an earlier version,
 * which had one RealServer per backend and port, moves to the inline form on its next `up` without
 * removing any real server from the kernel.
 */
export class LoadBalancer extends pulumi.ComponentResource {
  readonly director: Director;
  readonly services: VirtualService[];
  readonly hosts: RealServerHost[];
  /** `host/tcp/vip:port` of each service. */
  readonly serviceIds: pulumi.Output<string[]>;
  /** `…/address:port` of each real server. */
  readonly realServerIds: pulumi.Output<string[]>;

  constructor(name: string, args: LoadBalancerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pulumi-lvs:index:LoadBalancer", name, {}, opts);
    checkArgs(name, args);
    const parent = { parent: this };
    this.director = new Director(`${name}-director`, directorArgs(args), parent);
    const hostOf = args.backends.map((b, i) =>
      b.connection
        ? new RealServerHost(`${name}-backend-${i + 1}-host`, hostArgs(args, b, b.connection), parent)
        : undefined,
    );
    this.hosts = hostOf.filter((h) => h !== undefined);
    const protocol = args.protocol ?? "tcp";
    this.services = args.ports.map(
      (port) =>
        new VirtualService(
          `${name}-${protocol}-${port}`,
          {
            connection: args.director,
            protocol,
            address: args.vip,
            port,
            scheduler: args.scheduler,
            schedulerFlags: args.schedulerFlags,
            persistence: args.persistence,
            exclusive: args.exclusive ?? true,
            drainTimeout: args.drainTimeout,
            realServers: backendsOf(args, port),
          },
          { ...parent, dependsOn: [this.director, ...this.hosts] },
        ),
    );
    this.serviceIds = pulumi.all(this.services.map((s) => s.id));
    const maps = pulumi.all(args.ports.map((p) => backendsOf(args, p)));
    this.realServerIds = pulumi
      .all([this.serviceIds, maps])
      .apply(([ids, all]) =>
        ids.flatMap((id, s) => Object.keys(all[s]!).map((k) => `${id}/${fullKey(k, args.ports[s]!)}`)),
      );
    this.registerOutputs({ serviceIds: this.serviceIds, realServerIds: this.realServerIds });
  }
}

/** The real servers of the service on `port`, inline: `address[:port]` → settings. */
function backendsOf(args: LoadBalancerArgs, port: number): pulumi.Output<Record<string, InlineRealServerArgs>> {
  const forwarding = args.forwarding ?? "dr";
  return pulumi
    .all(args.backends.map((b) => pulumi.all([b.address, forwarding === "nat" ? b.port : undefined, b.weight])))
    .apply((list) => {
      const out: Record<string, InlineRealServerArgs> = {};
      for (const [address, p, weight] of list) {
        let key = p === undefined || p === port ? address : formatHostPort(address, p);
        // a backend listed twice: its second key spells the port out, so that the service's check
        // fails at preview on "the same real server" (a map would merge them silently)
        if (key in out) key = fullKey(key, port);
        if (key in out) throw new Error(`LoadBalancer: backends lists ${key} twice; list each backend once`);
        out[key] = { forwarding, weight, ...(args.tunnel ? { tunnel: args.tunnel } : {}) };
      }
      return out;
    });
}

/** A key with its port: as the real server's id ends. */
const fullKey = (k: string, port: number) => (hasPort(k) ? k : formatHostPort(k, port));

/** Arguments that cannot work together fail at once, in the program, with what to set. */
function checkArgs(name: string, args: LoadBalancerArgs): void {
  const forwarding = args.forwarding ?? "dr";
  if (forwarding !== "nat" && args.backends.some((b) => b.connection === undefined))
    throw new Error(
      `LoadBalancer ${name}: every backend needs a connection for forwarding "${forwarding}" (its host gets the VIP and the ARP settings); set backends[i].connection`,
    );
  if (args.tunnel && forwarding !== "tun")
    throw new Error(`LoadBalancer ${name}: tunnel is only for forwarding "tun", not "${forwarding}"`);
  if (forwarding === "nat" && args.directorAddress === undefined && args.backends.some((b) => b.connection))
    throw new Error(
      `LoadBalancer ${name}: nat backends with a connection route their replies through the director: set directorAddress (the director's address on their network)`,
    );
}

/** The Director: the VIP; for NAT, forwarding on and ICMP redirects off. */
function directorArgs(args: LoadBalancerArgs): DirectorArgs {
  const iface = args.directorInterface ?? "eth0";
  const nat = {
    ipForward: true,
    sysctls: pulumi.all([iface, args.directorSettings?.sysctls]).apply(([i, more]) => ({
      "net.ipv4.conf.all.send_redirects": 0,
      [`net.ipv4.conf.${i}.send_redirects`]: 0,
      ...more,
    })),
  };
  return {
    ...args.directorSettings,
    connection: args.director,
    ...((args.forwarding ?? "dr") === "nat" ? nat : {}),
    vips: [{ address: args.vip, interface: iface }],
  };
}

/** A backend's RealServerHost: the VIP (and tunnel) for DR and TUN, the return path for NAT. */
function hostArgs(
  args: LoadBalancerArgs,
  b: BackendArgs,
  connection: pulumi.Input<ConnectionArgs>,
): RealServerHostArgs {
  const forwarding = args.forwarding ?? "dr";
  const common = { connection, interface: b.interface, addresses: [b.address] };
  if (forwarding === "nat")
    return {
      ...common,
      mode: "nat",
      gateway: args.directorAddress,
      ports: [...new Set(args.ports.map((p) => b.port ?? p))],
    };
  const tunnel = forwarding === "tun" ? (args.tunnel ?? { type: "ipip" as const }) : undefined;
  return {
    ...common,
    mode: forwarding,
    vips: [args.vip],
    ...(tunnel ? { tunnels: [{ type: tunnel.type, port: tunnel.port }] } : {}),
  };
}
