/**
 * What a host resource would change on the host it was imported from, as `differs` findings: the
 * differences that make its `adopt: "exact"` take-over fail (provider/resources/host-plan.ts
 * `hostDifferences`, the very check the first `pulumi up` runs). Pure.
 */
import type { HostFacts } from "../../provider/host/probe";
import { type HostPlan, hostDifferences } from "../../provider/resources/host-plan";
import type { Finding } from "./model";

/** Each setting, address, object, module or timeout of `plan` that the host does not have as the plan has it. */
export function planDifferences(host: string, what: string, plan: HostPlan, facts: HostFacts): Finding[] {
  return hostDifferences(plan, facts).map((d) => ({
    source: { host },
    kind: "differs",
    message: `${d} (the ${what}'s take-over would fail on it)`,
  }));
}
