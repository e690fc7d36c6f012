import type * as pulumi from "@pulumi/pulumi";

/**
 * The dynamic provider object given to `pulumi.dynamic.Resource`.
 *
 * Pulumi serializes this object's functions into the state of every resource (`__provider`).
 * They capture nothing but the resource kind: the implementation is `require`d by package name
 * when the provider process runs them. So the state stays small, nothing secret or heavy is
 * serialized, and upgrading the `pulumi-lvs` package takes effect for existing resources too
 * (read and delete run the code stored in the old state, which is this shim).
 *
 * @internal
 */
export function providerFor(kind: string): pulumi.dynamic.ResourceProvider {
  // one object per kind: Pulumi serializes a provider object once and reuses the text for every
  // resource given the same object (a new object per resource was serialized again each time)
  let p = providers.get(kind);
  if (!p) {
    p = shimFor(kind);
    providers.set(kind, p);
  }
  return p;
}

const providers = new Map<string, pulumi.dynamic.ResourceProvider>();

/** The shim of one kind: each method `require`s the implementation when the provider process runs it. */
function shimFor(kind: string): pulumi.dynamic.ResourceProvider {
  return {
    check: (olds: any, news: any) => require("pulumi-lvs/provider").resourceProvider(kind).check(olds, news),
    diff: (id: string, olds: any, news: any) =>
      require("pulumi-lvs/provider").resourceProvider(kind).diff(id, olds, news),
    create: (inputs: any) => require("pulumi-lvs/provider").resourceProvider(kind).create(inputs),
    read: (id: string, props: any) => require("pulumi-lvs/provider").resourceProvider(kind).read(id, props),
    update: (id: string, olds: any, news: any) =>
      require("pulumi-lvs/provider").resourceProvider(kind).update(id, olds, news),
    delete: (id: string, props: any) => require("pulumi-lvs/provider").resourceProvider(kind).delete(id, props),
  };
}
