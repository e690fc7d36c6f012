import * as pulumi from "@pulumi/pulumi";
import { providerFor } from "./shim";

/** Arguments of {@link Noop}. */
export interface NoopArgs {
  /** Any string; it is echoed as the `value` output. */
  value?: pulumi.Input<string>;
}

/**
 * A resource that touches no host. It exists to measure the cost of the Pulumi engine itself
 * (the benchmarks' floor) and to check that the installed provider package loads.
 */
export class Noop extends pulumi.dynamic.Resource {
  /** The `value` input, echoed. */
  declare public readonly value: pulumi.Output<string>;

  constructor(name: string, args: NoopArgs = {}, opts?: pulumi.CustomResourceOptions) {
    super(providerFor("Noop"), name, { value: args.value }, opts, "lvs", "Noop");
  }
}
