/** Reading the kernel's IPVS state over the socket: the table, a service's counters, the timeouts. */
import { IpvsError } from "../client";
import {
  familyOfKey,
  type IpvsTable,
  realServerKeyText,
  type ServiceEntry,
  type ServiceKey,
  serviceKeyText,
} from "../types";
import { Cmd, CmdAttr } from "./constants";
import { requestError } from "./errors";
import type { IpvsSocket } from "./socket";
import {
  type Attr,
  decodeAttrs,
  encodeAttrs,
  type IpvsCounters,
  type IpvsTimeouts,
  parseCounters,
  parseRealServer,
  parseService,
  parseTimeouts,
  serviceKeyAttrs,
} from "./wire";

/**
 * One request (or dump) on the socket, its failure told as an IPVS or transport error.
 * @param sock the socket
 * @param host the host, for messages
 * @param cmd the generic netlink command
 * @param attrs its attributes
 * @param what what is asked, for messages
 * @param dump whether it is a dump (many replies)
 */
export async function call(
  sock: IpvsSocket,
  host: string,
  cmd: number,
  attrs: Attr[],
  what: string,
  dump = false,
): Promise<Buffer[]> {
  try {
    return await sock.request(cmd, encodeAttrs(attrs), { dump });
  } catch (e) {
    throw requestError(host, what, e);
  }
}

/** The payload of one first-level attribute of a reply. */
function nested(msg: Buffer, type: number): Buffer {
  const v = decodeAttrs(msg).get(type);
  if (!v) throw new IpvsError("local", "read a netlink reply", `the reply has no attribute ${type}`);
  return v;
}

/** The services' attributes, one dump. */
async function serviceDump(sock: IpvsSocket, host: string): Promise<Buffer[]> {
  const replies = await call(sock, host, Cmd.GET_SERVICE, [], "list virtual services", true);
  return replies.map((m) => nested(m, CmdAttr.SERVICE));
}

/** The real servers' attributes of one service, one dump. */
async function realServerDump(sock: IpvsSocket, host: string, key: ServiceKey): Promise<Buffer[]> {
  const replies = await call(
    sock,
    host,
    Cmd.GET_DEST,
    [[CmdAttr.SERVICE, encodeAttrs(serviceKeyAttrs(key))]],
    `list real servers of ${serviceKeyText(key)}`,
    true,
  );
  return replies.map((m) => nested(m, CmdAttr.DEST));
}

/**
 * The whole table: one dump of the services, then one dump of each service's real servers.
 * @param sock the socket
 * @param host the host, for messages
 */
export async function dumpTable(sock: IpvsSocket, host: string): Promise<IpvsTable> {
  const services: ServiceEntry[] = (await serviceDump(sock, host)).map((b) => ({
    config: parseService(b),
    realServers: [],
  }));
  // one after the other: the socket runs one request at a time anyway
  for (const s of services) {
    const family = familyOfKey(s.config.key);
    s.realServers = (await realServerDump(sock, host, s.config.key)).map((d) => parseRealServer(d, family));
  }
  return { services };
}

/**
 * The traffic counters of a service and of each of its real servers (undefined: no such service).
 * @param sock the socket
 * @param host the host, for messages
 * @param key the service
 */
export async function readCounters(
  sock: IpvsSocket,
  host: string,
  key: ServiceKey,
): Promise<{ service: IpvsCounters; realServers: Map<string, IpvsCounters> } | undefined> {
  const svc = (await serviceDump(sock, host)).find((b) => serviceKeyText(parseService(b).key) === serviceKeyText(key));
  if (!svc) return undefined;
  const realServers = new Map<string, IpvsCounters>();
  for (const d of await realServerDump(sock, host, key)) {
    realServers.set(realServerKeyText(parseRealServer(d, familyOfKey(key)).config), parseCounters(d, "real server"));
  }
  return { service: parseCounters(svc, "service"), realServers };
}

/**
 * The connection timeouts (undefined: the kernel gave none).
 * @param sock the socket
 * @param host the host, for messages
 */
export async function readTimeouts(sock: IpvsSocket, host: string): Promise<IpvsTimeouts | undefined> {
  const [reply] = await call(sock, host, Cmd.GET_CONFIG, [], "read the timeouts");
  return reply ? parseTimeouts(reply) : undefined;
}
