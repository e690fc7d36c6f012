/**
 * What every resource class adds to its arguments and options: the owner it records, and secret
 * connections. (Kept apart from shim.ts, whose functions Pulumi serializes into the state.)
 */
import * as pulumi from "@pulumi/pulumi";

/**
 * @internal
 * The owner recorded in the director's ledger: `project/stack/name`. It lets a rerun take back what
 * an interrupted run of the same resource made, and tells two resources declaring the same object apart.
 */
export function ownerOf(name: string): string {
  return `${pulumi.getProject()}/${pulumi.getStack()}/${name}`;
}

/** @internal Connections are secret in state, whatever the user passed. */
export function withSecretOutputs(opts?: pulumi.CustomResourceOptions): pulumi.CustomResourceOptions {
  return { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "connection"] };
}
