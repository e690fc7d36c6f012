/**
 * pulumi-lvs: Linux Virtual Server (IPVS) load balancers as Pulumi resources.
 *
 * @packageDocumentation
 */
export type { ConnectionArgs, LocalConnectionArgs, ProxyConnectionArgs, SshConnectionArgs } from "./connection";
export { Director, type DirectorArgs, type IpvsSysctl } from "./director";
export { type BackendArgs, LoadBalancer, type LoadBalancerArgs } from "./load-balancer";
export { type HealthCheckArgs, RealServer, type RealServerArgs } from "./real-server";
export { RealServerHost, type RealServerHostArgs, type TunnelReceiverArgs } from "./real-server-host";
export type { ForwardingMethod, TunnelChecksum, TunnelType } from "./types";
export {
  type Engine,
  type Family,
  type Protocol,
  type Scheduler,
  type SchedulerFlag,
  VirtualService,
  type VirtualServiceArgs,
} from "./virtual-service";
export { VrrpInstance, type VrrpInstanceArgs } from "./vrrp-instance";
