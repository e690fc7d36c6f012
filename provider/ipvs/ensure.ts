/**
 * The one place that brings an IPVS object to a state whatever another process did meanwhile
 * (made it, or removed it): add else edit, edit else add, delete unless gone, edit unless gone,
 * and a repair that takes "already so" as done. Over {@link IpvsClient}, whichever client it is.
 */
import type { Change } from "./change";
import { IpvsAlreadyExistsError, type IpvsClient, type IpvsError, IpvsNotFoundError } from "./client";

/**
 * How a change is ensured:
 * - `add-or-edit`: add; when it exists already, edit it.
 * - `edit-or-add`: edit; when it does not exist (deleted out of band), add it.
 * - `delete-if-present`: delete; when it does not exist, that is done.
 * - `edit-if-present`: edit; when it does not exist, that is done.
 * - `repair`: the change as it is, unrecorded (a rule another daemon owns): when the kernel
 *   already has it so ("already exists" for an add, "not found" otherwise), that is done.
 */
export type Ensure = "add-or-edit" | "edit-or-add" | "delete-if-present" | "edit-if-present" | "repair";

/** The default way of each kind of change. */
const BY_KIND: Record<Change["kind"], Ensure> = {
  add: "add-or-edit",
  edit: "edit-or-add",
  delete: "delete-if-present",
};

type Refusal = typeof IpvsAlreadyExistsError | typeof IpvsNotFoundError;

/** Per way: the refusal it expects, and the kind of change it then falls back to (none: done). */
const STEPS: Record<Ensure, { refusal: Refusal | readonly Refusal[]; fallback?: "add" | "edit"; unrecorded?: true }> = {
  "add-or-edit": { refusal: IpvsAlreadyExistsError, fallback: "edit" },
  "edit-or-add": { refusal: IpvsNotFoundError, fallback: "add" },
  "delete-if-present": { refusal: IpvsNotFoundError },
  "edit-if-present": { refusal: IpvsNotFoundError },
  repair: { refusal: [IpvsAlreadyExistsError, IpvsNotFoundError], unrecorded: true },
};

export interface EnsureOptions {
  /** How (default: by the change's kind, `add-or-edit`, `edit-or-add` or `delete-if-present`). */
  how?: Ensure;
  /**
   * Called with the refusal before the fallback runs (an add that found the object: may this
   * resource take it over?); it may throw to stop there.
   */
  beforeFallback?: (refusal: IpvsError) => Promise<void> | void;
}

/**
 * Applies `change` through `ipvs` (recorded in the ledger, except a `repair`), and on the refusal
 * its way expects, falls back to the other kind of change or takes it as done. Any other error,
 * and a refusal of the fallback (the object changed again meanwhile), is thrown as it is.
 * @returns true when the change applied as asked; false when the fallback ran or nothing was left to do
 */
export async function ensure(ipvs: IpvsClient, change: Change, opts: EnsureOptions = {}): Promise<boolean> {
  const step = STEPS[opts.how ?? BY_KIND[change.kind]];
  const refusals = ([] as Refusal[]).concat(step.refusal);
  try {
    await (step.unrecorded ? ipvs.applyUnrecorded(change) : ipvs.apply(change));
    return true;
  } catch (e) {
    if (!refusals.some((r) => e instanceof r)) throw e;
    await opts.beforeFallback?.(e as IpvsError);
    if (step.fallback) await ipvs.apply({ ...change, kind: step.fallback } as Change);
    return false;
  }
}
