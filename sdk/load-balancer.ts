import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs } from "./connection";
import { Director, type DirectorArgs } from "./director";
import { RealServer } from "./real-server";
import { RealServerHost } from "./real-server-host";
import type { ForwardingMethod } from "./types";
import { type Scheduler, type SchedulerFlag, VirtualService } from "./virtual-service";

/** One backend of a {@link LoadBalancer}. */
export interface BackendArgs {
  /** The real server's address on the VIP's network (ipvsadm `-r`). */
  address: pulumi.Input<string>;
  /** Its port, for `nat` only (direct routing and tunnelling cannot remap ports). Default: the service's. */
  port?: pulumi.Input<number>;
  /** Weight, 0 to 65535. Default 1. */
  weight?: pulumi.Input<number>;
  /**
   * How to reach the backend host over SSH, for `dr` and `tun`: its host is then prepared
   * (a {@link RealServerHost}: VIP on lo or tunl0, ARP and rp_filter settings). Not used for `nat`.
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
  /** The virtual IP. */
  vip: string;
  /** The ports to balance, one virtual service each. */
  ports: number[];
  /** `tcp` (default), `udp` or `sctp`. */
  protocol?: "tcp" | "udp" | "sctp";
  /** `dr` (default), `nat` or `tun`. `nat` turns on the director's ip_forward. */
  forwarding?: ForwardingMethod;
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
}

/**
 * A whole LVS load balancer: the director's settings (VIP, ip_forward for NAT), one virtual service
 * per port, its real servers, and the backends' host setup for DR or TUN. The low-level resources
 * it creates are children of this component and can be used on their own.
 */
export class LoadBalancer extends pulumi.ComponentResource {
  readonly director: Director;
  readonly services: VirtualService[];
  readonly realServers: RealServer[];
  readonly hosts: RealServerHost[];
  /** `host/tcp/vip:port` of each service. */
  readonly serviceIds: pulumi.Output<string[]>;
  /** `…/address:port` of each real server. */
  readonly realServerIds: pulumi.Output<string[]>;

  constructor(name: string, args: LoadBalancerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pulumi-lvs:index:LoadBalancer", name, {}, opts);
    const forwarding = args.forwarding ?? "dr";
    const parent = { parent: this };
    if (forwarding !== "nat" && args.backends.some((b) => b.connection === undefined)) {
      throw new Error(
        `LoadBalancer ${name}: every backend needs a connection for forwarding "${forwarding}" (its host gets the VIP and the ARP settings); set backends[i].connection`,
      );
    }
    this.director = new Director(
      `${name}-director`,
      {
        ...args.directorSettings,
        connection: args.director,
        ...(forwarding === "nat" ? { ipForward: true } : {}),
        vips: [{ address: args.vip, interface: args.directorInterface ?? "eth0" }],
      },
      parent,
    );
    this.hosts =
      forwarding === "nat"
        ? []
        : args.backends.map(
            (b, i) =>
              new RealServerHost(
                `${name}-backend-${i + 1}-host`,
                { connection: b.connection!, mode: forwarding, vips: [args.vip], interface: b.interface },
                parent,
              ),
          );
    this.services = args.ports.map(
      (port) =>
        new VirtualService(
          `${name}-${args.protocol ?? "tcp"}-${port}`,
          {
            connection: args.director,
            protocol: args.protocol ?? "tcp",
            address: args.vip,
            port,
            scheduler: args.scheduler,
            schedulerFlags: args.schedulerFlags,
            persistence: args.persistence,
            exclusive: args.exclusive ?? true,
          },
          { ...parent, dependsOn: [this.director] },
        ),
    );
    this.realServers = this.services.flatMap((service, s) =>
      args.backends.map(
        (b, i) =>
          new RealServer(
            `${name}-${args.protocol ?? "tcp"}-${args.ports[s]}-backend-${i + 1}`,
            {
              service,
              address: b.address,
              port: forwarding === "nat" ? b.port : undefined,
              weight: b.weight,
              forwarding,
            },
            { ...parent, dependsOn: this.hosts[i] ? [this.hosts[i]] : [] },
          ),
      ),
    );
    this.serviceIds = pulumi.all(this.services.map((s) => s.id));
    this.realServerIds = pulumi.all(this.realServers.map((r) => r.id));
    this.registerOutputs({ serviceIds: this.serviceIds, realServerIds: this.realServerIds });
  }
}
