/**
 * pulumi-lvs: Linux Virtual Server (IPVS) load balancers as Pulumi resources.
 *
 * @packageDocumentation
 */
export type { ConnectionArgs, ProxyConnectionArgs } from "./connection";
export { Noop, type NoopArgs } from "./noop";
export { RealServer, type RealServerArgs } from "./real-server";
export { type Scheduler, type SchedulerFlag, VirtualService, type VirtualServiceArgs } from "./virtual-service";
