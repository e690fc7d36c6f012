/**
 * What every resource's `check` does: validate and normalize the inputs, and claim the IPVS
 * object, so that two resources of one deployment declaring the same object fail at preview.
 * Also the memory of the deployment (one {@link Deployment}: what it claims and declares). Memory
 * only: nothing here touches a host.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { z } from "zod";
import type { RealServerConfig } from "../ipvs/types";
import { containsUnknown } from "../model/unknown";
import { validate } from "../model/validate";

/**
 * `check` of every resource: validates the inputs (without the `__provider` key Pulumi adds) and,
 * when they are complete and valid, returns them normalized, with defaults, and `__provider` back.
 * Inputs still unknown at preview are returned as they are.
 */
export function checkInputs<S extends z.ZodType>(
  schema: S,
  news: Record<string, unknown>,
  normalize: (v: z.infer<S>) => z.infer<S> = (v) => v,
): pulumi.dynamic.CheckResult {
  const { __provider, ...rest } = news;
  const { value, failures } = validate(schema, rest);
  if (failures.length > 0 || value === undefined || containsUnknown(rest)) return { inputs: news, failures };
  return { inputs: { ...(normalize(value) as Record<string, unknown>), __provider }, failures: [] };
}

/**
 * The end of every `check` of an IPVS object: when the inputs are valid and known, claims the object
 * for its owner, and fails on `property` if another resource of this deployment declared it first.
 */
export function checkClaim<V>(
  checked: pulumi.dynamic.CheckResult,
  news: Record<string, unknown>,
  object: (inputs: V) => { id: string; owner?: string; property: string; kind: string; text: string },
): pulumi.dynamic.CheckResult {
  if ((checked.failures?.length ?? 0) > 0 || containsUnknown(checked.inputs)) return checked;
  const o = object(checked.inputs as V);
  const other = current.claim(o.id, o.owner);
  if (!other) return checked;
  const reason = `${o.property}: ${o.kind} ${o.text} is already declared by resource "${resourceNameOf(other)}": declare each ${o.kind} once`;
  return { inputs: news, failures: [{ property: o.property, reason }] };
}

/**
 * The end of a `check` that compares resources of the deployment: when the inputs are valid and
 * known, `failure` may name a reason to fail on `property`.
 */
export function checkFailure<V>(
  checked: pulumi.dynamic.CheckResult,
  news: Record<string, unknown>,
  property: string,
  failure: (inputs: V) => string | undefined,
): pulumi.dynamic.CheckResult {
  if ((checked.failures?.length ?? 0) > 0 || containsUnknown(checked.inputs)) return checked;
  const reason = failure(checked.inputs as V);
  return reason ? { inputs: news, failures: [{ property, reason }] } : checked;
}

/** Whether two owners (`project/stack/name`) are resources of one stack. */
export function sameStack(a: string, b: string): boolean {
  return a.split("/").slice(0, 2).join("/") === b.split("/").slice(0, 2).join("/");
}

/** The resource name part of an owner (`project/stack/name` → `name`), for messages. */
export function resourceNameOf(owner: string): string {
  const parts = owner.split("/");
  return parts.length >= 3 ? parts.slice(2).join("/") : owner;
}

/**
 * Whether an object found already in the kernel may be taken over by a create: the resource asked
 * for it (`adopt`), or the ledger records this very resource as its owner (an earlier run was cut
 * short after making it). Otherwise it is someone else's, and create must fail.
 */
export function mayTakeOver(
  adopt: boolean | undefined,
  owner: string | undefined,
  recorded: string | undefined,
): boolean {
  return !!adopt || (owner !== undefined && recorded === owner);
}

// ---- what each real server needs of its host, and what its RealServerHost is prepared for

/** A need of a real server's host (`gre`, `gue port 6080`, `nat port 80`), and how to meet it. */
export interface HostNeed {
  text: string;
  remedy: string;
}

/** A tun real server's tunnel, as its host must receive it. */
export function tunnelNeed(t: { type: string; port?: number }): HostNeed {
  const spec = `{type: "${t.type}"${t.type === "gue" ? `, port: ${t.port}` : ""}}`;
  return {
    text: t.type === "gue" ? `gue port ${t.port}` : t.type,
    remedy: `add ${spec} to the RealServerHost's tunnels (mode "tun"), or send a tunnel it receives`,
  };
}

/** A nat real server's port, whose replies its host must route back through the director. */
export function natNeed(port: number): HostNeed {
  return { text: `nat port ${port}`, remedy: `add ${port} to the RealServerHost's ports (mode "nat")` };
}

/**
 * What a real server needs of its host, by forwarding method: a tun one its tunnel, a nat one the
 * return path for its port (dr: the VIP and ARP settings, not checked).
 */
const NEEDS: Partial<Record<RealServerConfig["forwarding"], (cfg: RealServerConfig) => HostNeed>> = {
  tun: (cfg) => tunnelNeed(cfg.tunnel ?? { type: "ipip" }),
  nat: (cfg) => natNeed(cfg.port),
};

/** What a real server (a RealServer, or an inline one) needs of its host, if anything checked. */
export function hostNeedOf(cfg: RealServerConfig): HostNeed | undefined {
  return NEEDS[cfg.forwarding]?.(cfg);
}

const prepared = (h: { mode: string; provides: HostNeed[] }) =>
  h.provides.length > 0 ? h.provides.map((n) => n.text).join(", ") : `mode ${h.mode}`;

/**
 * What one deployment's resources tell each other in this provider process, as they are checked,
 * read, created or updated: which resource claims each IPVS object, which real servers it
 * declares, the form each service's real servers take, and what real servers need of their hosts.
 * Memory only: recording anything here changes nothing anywhere. One object, reset as a whole.
 */
export class Deployment {
  /** By IPVS object id: the resource (owner, `project/stack/name`) that declared it first. */
  private readonly claims = new Map<string, string>();
  /**
   * The real servers declared by RealServer resources, by `host service`: an exclusive
   * VirtualService never prunes these as strays, even if the host's ledger lost them (a wiped
   * /var/lib, a reinstalled host).
   */
  private readonly declared = new Map<string, Set<string>>();
  /** By service (`host/tcp/vip:port`): the VirtualService that lists its real servers inline. */
  private readonly inlineAt = new Map<string, string>();
  /** By service: the first separate RealServer of it. */
  private readonly separateAt = new Map<string, string>();
  /** By real server (`host service rs`): the VirtualService that lists it inline. */
  private readonly inlineOwners = new Map<string, string>();
  /** By real-server address: the needs of the RealServers at it, by owner. */
  private readonly needsAt = new Map<string, Map<string, HostNeed>>();
  /** By real-server address: the RealServerHost that declares it. */
  private readonly hostsAt = new Map<string, { owner: string; mode: string; provides: HostNeed[] }>();

  /**
   * Records that `owner` declares the object `id`.
   * @returns the other resource that already declared it in this deployment, if any
   */
  claim(id: string, owner: string | undefined): string | undefined {
    if (owner === undefined) return undefined;
    const first = this.claims.get(id);
    if (first === undefined) this.claims.set(id, owner);
    return first !== undefined && first !== owner ? first : undefined;
  }

  /** Records that a RealServer of this deployment declares `realServer` of `service` on `host`. */
  declareRealServer(host: string, service: string, realServer: string): void {
    const k = `${host} ${service}`;
    let set = this.declared.get(k);
    if (!set) {
      set = new Set();
      this.declared.set(k, set);
    }
    set.add(realServer);
  }

  /** Whether a RealServer of this deployment declares `realServer` of `service` on `host`. */
  isDeclaredRealServer(host: string, service: string, realServer: string): boolean {
    return this.declared.get(`${host} ${service}`)?.has(realServer) ?? false;
  }

  /**
   * Records that the VirtualService `owner` lists the real servers of `service` inline (their keys,
   * `address:port`); fails when a separate RealServer of the deployment joins the same service.
   */
  checkInlineService(host: string, service: string, owner: string, realServers: readonly string[]): string | undefined {
    this.inlineAt.set(`${host}/${service}`, owner);
    for (const rs of realServers) this.inlineOwners.set(`${host} ${service} ${rs}`, owner);
    const other = this.separateAt.get(`${host}/${service}`);
    return other
      ? `lists the real servers of ${service} inline, and RealServer "${resourceNameOf(other)}" is a real server of it too: a service takes one form or the other. Move that real server into realServers (it is handed over without being removed), or leave realServers out`
      : undefined;
  }

  /** Records a separate RealServer of `service`; fails when a VirtualService lists that service's real servers inline. */
  checkSeparateRealServer(host: string, service: string, owner: string): string | undefined {
    if (!this.separateAt.has(`${host}/${service}`)) this.separateAt.set(`${host}/${service}`, owner);
    const inline = this.inlineAt.get(`${host}/${service}`);
    return inline
      ? `is a real server of ${service}, whose VirtualService "${resourceNameOf(inline)}" lists its real servers inline: a service takes one form or the other. Add it to that service's realServers instead`
      : undefined;
  }

  /** The VirtualService of this deployment that lists the real server inline, if any (a RealServer's delete leaves it to it). */
  inlineOwnerOf(host: string, service: string, realServer: string): string | undefined {
    return this.inlineOwners.get(`${host} ${service} ${realServer}`);
  }

  /**
   * Records that the RealServer `owner` at `address` needs `need` of its host; fails when the
   * RealServerHost of the deployment that declares this address does not provide it.
   */
  checkHostNeed(address: string, owner: string, need: HostNeed): string | undefined {
    let at = this.needsAt.get(address);
    if (!at) {
      at = new Map();
      this.needsAt.set(address, at);
    }
    at.set(owner, need);
    const host = this.hostsAt.get(address);
    if (!host || host.provides.some((n) => n.text === need.text)) return undefined;
    return `real server ${address} needs ${need.text} of its host, but its RealServerHost "${resourceNameOf(host.owner)}" is prepared for ${prepared(host)}: ${need.remedy}`;
  }

  /**
   * Records that the RealServerHost `owner` at `addresses` provides `provides`; fails when a
   * RealServer of the deployment at one of them needs what it does not provide.
   */
  checkHostProvides(
    addresses: readonly string[],
    owner: string,
    mode: string,
    provides: HostNeed[],
  ): string | undefined {
    const host = { owner, mode, provides };
    for (const a of addresses) this.hostsAt.set(a, host);
    for (const a of addresses) {
      for (const [rs, need] of this.needsAt.get(a) ?? []) {
        if (!provides.some((n) => n.text === need.text))
          return `RealServer "${resourceNameOf(rs)}" at ${a} needs ${need.text} of this host, which is prepared for ${prepared(host)}: ${need.remedy}`;
      }
    }
    return undefined;
  }
}

/** The deployment this provider process serves (one per process; unit tests reset it). */
let current = new Deployment();

/** The memory of the deployment this provider process serves. */
export function deployment(): Deployment {
  return current;
}

/** Forgets the whole deployment: claims, declared real servers, forms, needs (unit tests run many deployments in one process). @internal */
export function resetClaims(): void {
  current = new Deployment();
}
