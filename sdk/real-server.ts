import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs } from "./connection";
import { ownerOf, withSecretOutputs } from "./options";
import { providerFor } from "./shim";
import type { ForwardingMethod, TunnelChecksum, TunnelType } from "./types";
import type { VirtualService } from "./virtual-service";

/** Arguments of {@link RealServer}. */
export interface RealServerArgs {
  /** The virtual service this real server belongs to. Its director connection is used. Replaces. */
  service: VirtualService;
  /** The real server's address (ipvsadm `-r`). Replaces. */
  address: pulumi.Input<string>;
  /**
   * The real server's port. Default: the service's port. Only `nat` may differ from the service's
   * port (direct routing and tunnelling cannot remap ports). Replaces.
   */
  port?: pulumi.Input<number>;
  /**
   * Forwarding method: `dr` (direct routing, ipvsadm `-g`, the default), `nat` (masquerading, `-m`),
   * or `tun` (IP tunnelling, `-i`). Changed in place (`-e`).
   */
  forwarding?: pulumi.Input<ForwardingMethod>;
  /** Weight, 0 to 65535 (ipvsadm `-w`). 0 quiesces the server: no new connections. Default 1. Changed in place. */
  weight?: pulumi.Input<number>;
  /** Upper connection threshold (ipvsadm `-x`); 0 = none. Default 0. Changed in place. */
  upperThreshold?: pulumi.Input<number>;
  /** Lower connection threshold (ipvsadm `-y`); 0 = none. Default 0. Changed in place. */
  lowerThreshold?: pulumi.Input<number>;
  /**
   * Tunnel options for `tun` (ipvsadm `--tun-type`, `--tun-port`, `--tun-nocsum|csum|remcsum`).
   * `type` is `ipip` (default), `gue` (needs `port`) or `gre`; `checksum` (gue, gre) is `nocsum`
   * (default), `csum` or `remcsum`. Its host must receive that tunnel (RealServerHost's
   * `tunnels`). Changed in place.
   */
  tunnel?: pulumi.Input<{
    type?: pulumi.Input<TunnelType>;
    port?: pulumi.Input<number>;
    checksum?: pulumi.Input<TunnelChecksum>;
  }>;
  /**
   * Take over a real server that already exists, instead of failing (see VirtualService.adopt):
   * `true` converges it; `"exact"` takes it only when its forwarding, weight, thresholds and tunnel
   * are already as declared (else the create fails naming each difference, changing nothing).
   */
  adopt?: pulumi.Input<boolean | "exact">;
  /**
   * Graceful drain on removal, in seconds (default 0: removed at once). The real server is first set
   * to weight 0, so new connections go elsewhere at once; it is deleted when its active connections
   * reach 0 or this many seconds have passed. A UDP service's real servers are deleted at once
   * (UDP has no end of connection to wait for). Both engines; a destroy drains too. With engine
   * keepalived, a director that does not hold the service's VIP (a BACKUP) does not wait.
   *
   * Weight 0 stops the scheduler, not the connection table: a client that reuses a source port the
   * director still has an entry for (an LVS-DR director keeps FIN_WAIT entries for 2 minutes) goes
   * to the same real server again. Set `expire_nodest_conn: 1` in the Director's `ipvsSysctls` and
   * the kernel schedules such a connection afresh (examples/ha does).
   */
  drainTimeout?: pulumi.Input<number>;
  /**
   * Engine keepalived only: how keepalived checks this real server. A real server that fails it is
   * removed from the table (or set to weight 0 with `inhibitOnFailure`) and comes back when it passes.
   * - `{ type: "tcp", port?, interval?, timeout?, retries?, retryDelay? }`: TCP connect (`TCP_CHECK`).
   * - `{ type: "http", path?, status?, port?, ... }`: HTTP GET expecting `status` (default 200) (`HTTP_GET`).
   * - `{ type: "script", command, interval?, timeout? }`: a command, exit 0 = healthy (`MISC_CHECK`).
   *
   * `interval` (default 5 s) is the time between checks, `timeout` (default 3 s) the connect timeout,
   * `retries` (default 1) the failures in a row before it is taken out, `retryDelay` (1 s) between them.
   */
  healthCheck?: pulumi.Input<HealthCheckArgs>;
  /** Engine keepalived: on a failed check, set the weight to 0 instead of removing the real server. */
  inhibitOnFailure?: pulumi.Input<boolean>;
}

/** A keepalived health check of a real server (see {@link RealServerArgs.healthCheck}). */
export type HealthCheckArgs =
  | {
      type: "tcp";
      port?: number;
      interval?: number;
      timeout?: number;
      retries?: number;
      retryDelay?: number;
    }
  | {
      type: "http";
      path?: string;
      status?: number;
      port?: number;
      interval?: number;
      timeout?: number;
      retries?: number;
      retryDelay?: number;
    }
  | { type: "script"; command: string; interval?: number; timeout?: number };

/** The kernel key of a virtual service, as a RealServer refers to it. */
function serviceRef(s: VirtualService): pulumi.Output<Record<string, unknown>> {
  return pulumi
    .all([s.protocol, s.address, s.port, s.fwmark, s.family, s.engine])
    .apply(([protocol, address, port, fwmark, family, engine]): Record<string, unknown> => {
      const ref: Record<string, unknown> =
        fwmark !== undefined && fwmark !== null ? { fwmark, family: family ?? "ipv4" } : { protocol, address, port };
      if (engine === "keepalived") ref.engine = engine; // the ipvsadm engine is left out: older states lack it
      return ref;
    });
}

/**
 * A real server of an IPVS virtual service: `ipvsadm -a` on create, `-e` on update, `-d` on delete.
 *
 * Its id reads `host[:port]/tcp/10.0.0.100:80/10.0.0.11:80`.
 */
export class RealServer extends pulumi.dynamic.Resource {
  declare public readonly connection: pulumi.Output<ConnectionArgs>;
  declare public readonly service: pulumi.Output<Record<string, unknown>>;
  declare public readonly address: pulumi.Output<string>;
  declare public readonly port: pulumi.Output<number>;
  declare public readonly forwarding: pulumi.Output<ForwardingMethod>;
  declare public readonly weight: pulumi.Output<number>;
  declare public readonly upperThreshold: pulumi.Output<number>;
  declare public readonly lowerThreshold: pulumi.Output<number>;
  declare public readonly tunnel: pulumi.Output<{ type: string; port?: number; checksum?: string } | undefined>;

  constructor(name: string, args: RealServerArgs, opts?: pulumi.CustomResourceOptions) {
    const { service, ...rest } = args;
    const props = {
      ...rest,
      connection: pulumi.secret(service.connection),
      service: serviceRef(service),
      owner: ownerOf(name),
      observed: undefined,
    };
    super(
      providerFor("RealServer"),
      name,
      props,
      withSecretOutputs({ ...opts, dependsOn: [service, ...toArray(opts?.dependsOn)] }),
      "lvs",
      "RealServer",
    );
  }
}

function toArray<T>(v: pulumi.Input<pulumi.Input<T>[]> | pulumi.Input<T> | undefined): any[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

export type { ConnectionArgs };
