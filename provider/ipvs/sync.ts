/**
 * One service's real servers brought to a declared set (a VirtualService's inline real servers):
 * {@link planRealServers} plans the changes (pure: from the live table, the ledger and the
 * declaration), {@link syncRealServers} applies them, the adds and edits in one batch.
 */
import { say } from "../transport/progress";
import { type RealServerChange, realServerChange } from "./change";
import type { IpvsClient } from "./client";
import { removeRealServers } from "./drain";
import { ensure } from "./ensure";
import {
  findService,
  type RealServerConfig,
  realServerKeyText,
  type ServiceEntry,
  type ServiceKey,
  serviceKeyText,
} from "./types";

export interface RealServerPlan {
  /** Adds (missing from the kernel) and edits (different, or not recorded as the owner's in the ledger). */
  apply: RealServerChange[];
  /**
   * Live real servers recorded as the owner's, or declared before and recorded as no one else's,
   * and declared no more: drained, then deleted. (One the ledger now gives to another resource,
   * which adopted it, is left to it.)
   */
  remove: RealServerConfig[];
  /** Live real servers that this service does not declare and the ledger gives no owner (made by hand, say). */
  strays: RealServerConfig[];
  /** Declared real servers that the ledger records as another's, which `mayTake` refused. */
  taken: Array<{ rs: RealServerConfig; owner: string }>;
}

/** Whether the kernel's real server is as declared (every setting `ipvsadm -e` changes). */
export function sameRealServer(a: RealServerConfig, b: RealServerConfig): boolean {
  return (
    a.forwarding === b.forwarding &&
    a.weight === b.weight &&
    a.upperThreshold === b.upperThreshold &&
    a.lowerThreshold === b.lowerThreshold &&
    JSON.stringify(a.tunnel ?? null) === JSON.stringify(b.tunnel ?? null)
  );
}

/**
 * @param want the declared real servers
 * @param live the service in the kernel (undefined: not there)
 * @param owned the service in the ledger
 * @param owner the declaring resource (`project/stack/name`), recorded with each real server
 * @param before the keys (`address:port`) declared before this change
 * @param mayTake whether a real server the ledger records as `recorded`'s may pass to `owner`
 */
export function planRealServers(
  service: ServiceKey,
  want: readonly RealServerConfig[],
  live: Pick<ServiceEntry, "realServers"> | undefined,
  owned: Pick<ServiceEntry, "realServers"> | undefined,
  owner: string | undefined,
  before: readonly string[] = [],
  mayTake: (recorded: string) => boolean = () => true,
): RealServerPlan {
  const liveBy = new Map((live?.realServers ?? []).map((r) => [realServerKeyText(r.config), r.config]));
  const ownerBy = new Map((owned?.realServers ?? []).map((r) => [realServerKeyText(r.config), r.owner ?? ""]));
  const wanted = new Set<string>();
  const plan: RealServerPlan = { apply: [], remove: [], strays: [], taken: [] };
  for (const w of want) {
    const k = realServerKeyText(w);
    wanted.add(k);
    const l = liveBy.get(k);
    const recorded = ownerBy.get(k);
    if (l && recorded && recorded !== owner && !mayTake(recorded)) plan.taken.push({ rs: w, owner: recorded });
    else if (!l) plan.apply.push(realServerChange("add", service, w, owner));
    else if (!sameRealServer(l, w) || (owner !== undefined && ownerBy.get(k) !== owner))
      plan.apply.push(realServerChange("edit", service, w, owner));
  }
  const was = new Set(before);
  for (const [k, l] of liveBy) {
    if (wanted.has(k)) continue;
    const recorded = ownerBy.get(k);
    // declared before and not recorded as another's since, or recorded as the owner's
    const mine = (owner !== undefined && recorded === owner) || (was.has(k) && !recorded);
    if (mine) plan.remove.push(l);
    else if (recorded === undefined) plan.strays.push(l);
    // (else another resource's, by the ledger: left to it)
  }
  return plan;
}

/** How {@link syncRealServers} treats what it finds besides the declared real servers. */
export interface SyncOptions {
  /** The declaring resource (`project/stack/name`), recorded with each real server. */
  owner?: string;
  /** The keys (`address:port`) declared before this change. */
  before?: readonly string[];
  /** Whether a real server the ledger records as `recorded`'s may pass to `owner`. */
  mayTake?: (recorded: string) => boolean;
  /** Seconds the removed real servers are drained for before they are deleted. */
  drainSeconds: number;
  /** Whether the service claims all its real servers: strays are then deleted. */
  exclusive: boolean;
  /** Whether another resource of the deployment declares a stray: it is then left alone and not reported. */
  declaredElsewhere: (rs: RealServerConfig) => boolean;
  /**
   * The service was made by this very step (its add took effect), so it has no real servers yet:
   * every declared one is an add, and nothing need be read from the host first.
   */
  madeNow?: boolean;
}

/**
 * Brings the real servers of `service` to `want`: the adds and edits that are needed, in one
 * batch (each put right when it was made or removed meanwhile); removed ones drained and
 * deleted; strays deleted when the service is exclusive. Returns the strays left (keys, sorted).
 */
export async function syncRealServers(
  ipvs: IpvsClient,
  service: ServiceKey,
  want: readonly RealServerConfig[],
  o: SyncOptions,
): Promise<string[]> {
  // (made just now: no read. Otherwise a read of this service alone, unless a whole snapshot is
  // still shared (a refresh's); any change through the client drops it)
  const snap = o.madeNow ? undefined : await ipvs.snapshot({ services: [service] });
  const plan = planRealServers(
    service,
    want,
    snap && findService(snap.table, service),
    snap && findService(snap.owned, service),
    o.owner,
    o.before,
    o.mayTake,
  );
  if (plan.taken.length > 0) {
    const t = plan.taken[0]!;
    throw new Error(
      `real server ${realServerKeyText(t.rs)} of ${serviceKeyText(service)} on ${ipvs.host} belongs to "${t.owner}" (another stack, by the director's ledger)${plan.taken.length > 1 ? `, and ${plan.taken.length - 1} more` : ""}: remove it there first, or leave it out of realServers`,
    );
  }
  if (plan.apply.length > 1)
    say(`applying ${plan.apply.length} real servers of ${serviceKeyText(service)} on ${ipvs.host} in one batch`);
  await Promise.all(plan.apply.map((c) => ensure(ipvs, c)));
  await removeRealServers(ipvs, service, plan.remove, o.owner, o.drainSeconds);
  const strays = plan.strays.filter((r) => !o.declaredElsewhere(r));
  if (!o.exclusive) return strays.map(realServerKeyText).sort();
  await removeRealServers(ipvs, service, strays, undefined, 0);
  return [];
}
