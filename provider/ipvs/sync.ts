/**
 * The changes that bring one service's real servers to a declared set (a VirtualService's inline
 * real servers). Pure: from the live table, the ledger and the declaration; the resource applies
 * them, all in one batch.
 */
import { type RealServerChange, realServerChange } from "./change";
import { type RealServerConfig, realServerKeyText, type ServiceEntry, type ServiceKey } from "./types";

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
