/** The IPVS client of each host: ipvsadm over the host's transport, or netlink for the local connection. */
import type { IpvsClient } from "../ipvs/client";
import { IpvsadmClient } from "../ipvs/ipvsadm/client";
import { NetlinkIpvsClient } from "../ipvs/netlink/client";
import { type Connection, isLocal } from "../model/connection";
import { transportFor } from "../transport/pool";
import type { Transport } from "../transport/transport";

const clients = new WeakMap<Transport, IpvsClient>();
let factory: ((c: Connection) => IpvsClient) | undefined;

/** Replaces how resources get their IPVS client (unit tests use an in-memory fake). @internal */
export function setIpvsClientFactory(f: ((c: Connection) => IpvsClient) | undefined): void {
  factory = f;
}

let local: NetlinkIpvsClient | undefined;

/** The netlink client of this host (the local connection's). */
export function localIpvsClient(): NetlinkIpvsClient {
  local ??= new NetlinkIpvsClient();
  return local;
}

/**
 * The IPVS client of the host a connection reaches (one per host per deployment): generic netlink
 * for the local connection, ipvsadm over SSH otherwise.
 */
export function ipvsClientFor(c: Connection): IpvsClient {
  if (factory) return factory(c);
  if (isLocal(c)) return localIpvsClient();
  const t = transportFor(c);
  let client = clients.get(t);
  if (!client) {
    client = new IpvsadmClient(t);
    clients.set(t, client);
  }
  return client;
}
