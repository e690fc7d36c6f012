/**
 * What a host resource would change on the host it was imported from: its plan's expected state
 * against the state the provider would observe (provider/resources/host-plan.ts, the drift check of
 * Director and RealServerHost), item by item, as `differs` findings. Pure.
 */
import type { HostFacts } from "../../provider/host/probe";
import { expectedState, type HostPlan, observedState } from "../../provider/resources/host-plan";
import type { Finding } from "./model";

/** Each setting, address, object, module or timeout of `plan` that the host does not have as the plan has it. */
export function planDifferences(host: string, what: string, plan: HostPlan, facts: HostFacts): Finding[] {
  const want = expectedState(plan, false);
  const has = observedState(plan, false, facts);
  const messages: string[] = [];
  for (const [name, value] of Object.entries(want.sysctls)) {
    const live = has.sysctls[name];
    if (live !== value) messages.push(`${name} is ${live ?? "not there"}: the ${what} would set ${value}`);
  }
  const missing = (list: string[], live: string[]) => list.filter((x) => !live.includes(x));
  for (const m of missing(want.modules, has.modules))
    messages.push(`module ${m} is not loaded: the ${what} would load it`);
  for (const a of missing(want.addresses, has.addresses)) messages.push(`${a} is not there: the ${what} would add it`);
  for (const l of missing(want.links, has.links)) messages.push(`${l} is down: the ${what} would bring it up`);
  if (want.timeouts && has.timeouts) {
    for (const k of ["tcp", "tcpfin", "udp"] as const)
      if (want.timeouts[k] !== has.timeouts[k])
        messages.push(`the IPVS ${k} timeout is ${has.timeouts[k]}: the ${what} would set ${want.timeouts[k]}`);
  }
  return messages.map((message) => ({ source: { host }, kind: "differs", message }));
}
