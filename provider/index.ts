/**
 * The implementation side of pulumi-lvs: it runs in Pulumi's dynamic-provider process and is
 * loaded by the SDK's shims with `require("pulumi-lvs/provider")`. Nothing here is serialized
 * into state.
 */
import type * as pulumi from "@pulumi/pulumi";
import { director } from "./resources/director";
import { noop } from "./resources/noop";
import { realServer } from "./resources/real-server";
import { realServerHost } from "./resources/real-server-host";
import { virtualService } from "./resources/virtual-service";
import { vrrpInstance } from "./resources/vrrp-instance";

const providers: Record<string, pulumi.dynamic.ResourceProvider> = {
  Noop: noop,
  VirtualService: virtualService,
  RealServer: realServer,
  Director: director,
  RealServerHost: realServerHost,
  VrrpInstance: vrrpInstance,
};

/** The provider implementation of one resource kind. */
export function resourceProvider(kind: string): pulumi.dynamic.ResourceProvider {
  const p = providers[kind];
  if (!p) {
    throw new Error(
      `pulumi-lvs: unknown resource kind "${kind}". The state was written by a version of pulumi-lvs that had it; install that version or a newer one.`,
    );
  }
  return p;
}
