/**
 * The IPVS generic netlink wire format, as pure functions: netlink attributes, and the service and
 * destination (real server) attributes the kernel reads and dumps. Nothing here does I/O.
 * Multi-byte integers are in the host's byte order, except ports (and IPv4 netmasks), which the
 * kernel keeps in network order.
 */
import { endianness } from "node:os";
import { addressBytes, addressFromBytes, fullHostNetmask } from "../../net/address";
import type { IpvsTimeouts } from "../client";
import {
  type Family,
  type ForwardingMethod,
  familyOfKey,
  isFwmarkKey,
  orderedFlags,
  type Protocol,
  type RealServerConfig,
  type RealServerKey,
  type RealServerStats,
  SCHEDULERS,
  type Scheduler,
  type SchedulerFlag,
  type ServiceKey,
  type TunnelChecksum,
  type TunnelType,
  type VirtualServiceConfig,
} from "../types";
import {
  AF_INET,
  AF_INET6,
  CmdAttr,
  ConnFwd,
  DestAttr,
  IPPROTO_SCTP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  NLA_TYPE_MASK,
  StatsAttr,
  SvcAttr,
  SvcFlag,
  TunFlag,
  TunType,
} from "./constants";

const LE = endianness() === "LE";

/** A netlink attribute: its type (without the NLA_F_* bits) and its payload. */
export type Attr = [type: number, data: Buffer];

/** Encodes attributes: `struct nlattr` headers, each payload padded to 4 bytes. */
export function encodeAttrs(attrs: readonly Attr[]): Buffer {
  const parts: Buffer[] = [];
  for (const [type, data] of attrs) {
    const h = Buffer.alloc(4);
    put16(h, 0, 4 + data.length);
    put16(h, 2, type);
    parts.push(h, data, Buffer.alloc((4 - (data.length % 4)) % 4));
  }
  return Buffer.concat(parts);
}

/**
 * Decodes attributes (the last of a repeated type wins, as the kernel's nla_parse does).
 * @throws WireError on a truncated or malformed attribute
 */
export function decodeAttrs(buf: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  let off = 0;
  while (off + 4 <= buf.length) {
    const len = get16(buf, off);
    const type = get16(buf, off + 2) & NLA_TYPE_MASK;
    if (len < 4 || off + len > buf.length) throw new WireError(`attribute ${type} has a bad length ${len}`);
    out.set(type, buf.subarray(off + 4, off + len));
    off += (len + 3) & ~3;
  }
  return out;
}

export class WireError extends Error {
  constructor(message: string) {
    super(`IPVS netlink message: ${message}`);
    this.name = "WireError";
  }
}

// --- integers and strings -------------------------------------------------------------------

function put16(b: Buffer, off: number, v: number): void {
  if (LE) b.writeUInt16LE(v, off);
  else b.writeUInt16BE(v, off);
}
function get16(b: Buffer, off: number): number {
  return LE ? b.readUInt16LE(off) : b.readUInt16BE(off);
}
export const u8 = (v: number): Buffer => Buffer.from([v & 0xff]);
export function u16(v: number): Buffer {
  const b = Buffer.alloc(2);
  put16(b, 0, v);
  return b;
}
export function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  if (LE) b.writeUInt32LE(v >>> 0, 0);
  else b.writeUInt32BE(v >>> 0, 0);
  return b;
}
export function be16(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v, 0);
  return b;
}
/** A NUL-terminated string (NLA_NUL_STRING / NLA_STRING). */
export const str = (s: string): Buffer => Buffer.concat([Buffer.from(s, "utf8"), Buffer.alloc(1)]);

function need(a: Map<number, Buffer>, type: number, size: number, what: string): Buffer {
  const v = a.get(type);
  if (!v || v.length < size) throw new WireError(`missing or short ${what}`);
  return v;
}
const readU8 = (a: Map<number, Buffer>, t: number, what: string) => need(a, t, 1, what).readUInt8(0);
const readU16 = (a: Map<number, Buffer>, t: number, what: string) => get16(need(a, t, 2, what), 0);
function readU32(a: Map<number, Buffer>, t: number, what: string): number {
  const b = need(a, t, 4, what);
  return LE ? b.readUInt32LE(0) : b.readUInt32BE(0);
}
const readBe16 = (a: Map<number, Buffer>, t: number, what: string) => need(a, t, 2, what).readUInt16BE(0);
function readStr(a: Map<number, Buffer>, t: number, what: string): string {
  const b = need(a, t, 1, what);
  const end = b.indexOf(0);
  return b.subarray(0, end < 0 ? b.length : end).toString("utf8");
}

// --- addresses ------------------------------------------------------------------------------

const AF: Record<Family, number> = { ipv4: AF_INET, ipv6: AF_INET6 };
function familyOfAf(af: number): Family {
  if (af === AF_INET) return "ipv4";
  if (af === AF_INET6) return "ipv6";
  throw new WireError(`unknown address family ${af}`);
}

/** `union nf_inet_addr`: 16 bytes, an IPv4 address in the first 4. */
export function inetAddr(address: string): Buffer {
  const b = Buffer.alloc(16);
  b.set(addressBytes(address));
  return b;
}

export function parseInetAddr(b: Buffer, family: Family): string {
  if (family === "ipv4") {
    if (b.length < 4) throw new WireError("short IPv4 address");
    return addressFromBytes(b.subarray(0, 4));
  }
  if (b.length < 16) throw new WireError("short IPv6 address");
  return addressFromBytes(b.subarray(0, 16));
}

// --- services -------------------------------------------------------------------------------

const PROTO: Record<Protocol, number> = { tcp: IPPROTO_TCP, udp: IPPROTO_UDP, sctp: IPPROTO_SCTP };
const PROTO_NAME = new Map<number, Protocol>(Object.entries(PROTO).map(([k, v]) => [v, k as Protocol]));

/** The attributes that name a service (all that DEL_SERVICE and the DEST commands need). */
export function serviceKeyAttrs(k: ServiceKey): Attr[] {
  const family = familyOfKey(k);
  if (isFwmarkKey(k))
    return [
      [SvcAttr.AF, u16(AF[family])],
      [SvcAttr.FWMARK, u32(k.fwmark)],
    ];
  return [
    [SvcAttr.AF, u16(AF[family])],
    [SvcAttr.PROTOCOL, u16(PROTO[k.protocol])],
    [SvcAttr.ADDR, inetAddr(k.address)],
    [SvcAttr.PORT, be16(k.port)],
  ];
}

const FLAG_BITS: Record<SchedulerFlag, number> = {
  "sh-fallback": SvcFlag.SCHED1,
  "sh-port": SvcFlag.SCHED2,
  "mh-fallback": SvcFlag.SCHED1,
  "mh-port": SvcFlag.SCHED2,
};

/** The full attributes of a service, as NEW_SERVICE and SET_SERVICE need them (ipvsadm sends the same). */
export function serviceAttrs(s: VirtualServiceConfig): Attr[] {
  const v6 = familyOfKey(s.key) === "ipv6";
  let flags = 0;
  if (s.persistence) flags |= SvcFlag.PERSISTENT;
  if (s.onePacket) flags |= SvcFlag.ONEPACKET;
  for (const f of s.schedulerFlags) flags |= FLAG_BITS[f];
  const flagsAttr = Buffer.concat([u32(flags), u32(0xffffffff)]);
  const netmask = s.persistence?.netmask ?? fullHostNetmask(familyOfKey(s.key));
  const attrs: Attr[] = [
    ...serviceKeyAttrs(s.key),
    [SvcAttr.SCHED_NAME, str(s.scheduler)],
    [SvcAttr.FLAGS, flagsAttr],
    [SvcAttr.TIMEOUT, u32(s.persistence?.timeout ?? 0)],
    [SvcAttr.NETMASK, v6 ? u32(Number(netmask)) : inetAddr(netmask).subarray(0, 4)],
  ];
  if (s.pe) attrs.push([SvcAttr.PE_NAME, str(s.pe)]);
  return attrs;
}

/** Parses the attributes of a dumped service (the payload of IPVS_CMD_ATTR_SERVICE). */
export function parseService(buf: Buffer): VirtualServiceConfig {
  const a = decodeAttrs(buf);
  const family = familyOfAf(readU16(a, SvcAttr.AF, "address family"));
  let key: ServiceKey;
  const fwmark = a.has(SvcAttr.FWMARK) ? readU32(a, SvcAttr.FWMARK, "fwmark") : 0;
  if (fwmark !== 0) key = { fwmark, family };
  else {
    const p = readU16(a, SvcAttr.PROTOCOL, "protocol");
    const protocol = PROTO_NAME.get(p);
    if (!protocol) throw new WireError(`unknown protocol ${p}`);
    key = {
      protocol,
      address: parseInetAddr(need(a, SvcAttr.ADDR, 4, "address"), family),
      port: readBe16(a, SvcAttr.PORT, "port"),
    };
  }
  const scheduler = readStr(a, SvcAttr.SCHED_NAME, "scheduler") as Scheduler;
  if (!SCHEDULERS.includes(scheduler)) throw new WireError(`unknown scheduler "${scheduler}"`);
  const fl = need(a, SvcAttr.FLAGS, 4, "flags");
  const flags = (LE ? fl.readUInt32LE(0) : fl.readUInt32BE(0)) & ~SvcFlag.HASHED;
  const schedulerFlags: SchedulerFlag[] = [];
  if (scheduler === "sh" || scheduler === "mh") {
    if (flags & SvcFlag.SCHED1) schedulerFlags.push(`${scheduler}-fallback`);
    if (flags & SvcFlag.SCHED2) schedulerFlags.push(`${scheduler}-port`);
  }
  const s: VirtualServiceConfig = {
    key,
    scheduler,
    schedulerFlags: orderedFlags(schedulerFlags),
    onePacket: (flags & SvcFlag.ONEPACKET) !== 0,
  };
  if (flags & SvcFlag.PERSISTENT) {
    const nm = need(a, SvcAttr.NETMASK, 4, "netmask");
    s.persistence = {
      timeout: readU32(a, SvcAttr.TIMEOUT, "timeout"),
      netmask:
        family === "ipv6"
          ? String(LE ? nm.readUInt32LE(0) : nm.readUInt32BE(0))
          : `${nm[0]}.${nm[1]}.${nm[2]}.${nm[3]}`,
    };
  }
  if (a.has(SvcAttr.PE_NAME)) {
    const pe = readStr(a, SvcAttr.PE_NAME, "persistence engine");
    if (pe === "sip") s.pe = pe;
    else if (pe !== "") throw new WireError(`unknown persistence engine "${pe}"`);
  }
  return s;
}

// --- destinations (real servers) ------------------------------------------------------------

const FWD: Record<ForwardingMethod, number> = { nat: ConnFwd.MASQ, dr: ConnFwd.DROUTE, tun: ConnFwd.TUNNEL };
const TUN: Record<TunnelType, number> = { ipip: TunType.IPIP, gue: TunType.GUE, gre: TunType.GRE };
const TUN_NAME = new Map<number, TunnelType>(Object.entries(TUN).map(([k, v]) => [v, k as TunnelType]));
const CSUM: Record<TunnelChecksum, number> = { nocsum: TunFlag.NOCSUM, csum: TunFlag.CSUM, remcsum: TunFlag.REMCSUM };

/** The attributes that name a real server (all that DEL_DEST needs). */
export function realServerKeyAttrs(family: Family, r: RealServerKey): Attr[] {
  return [
    [DestAttr.ADDR_FAMILY, u16(AF[family])],
    [DestAttr.ADDR, inetAddr(r.address)],
    [DestAttr.PORT, be16(r.port)],
  ];
}

/** The full attributes of a real server, as NEW_DEST and SET_DEST need them. */
export function realServerAttrs(family: Family, r: RealServerConfig): Attr[] {
  const attrs: Attr[] = [
    ...realServerKeyAttrs(family, r),
    [DestAttr.FWD_METHOD, u32(FWD[r.forwarding])],
    [DestAttr.WEIGHT, u32(r.weight)],
    [DestAttr.U_THRESH, u32(r.upperThreshold)],
    [DestAttr.L_THRESH, u32(r.lowerThreshold)],
  ];
  if (r.forwarding === "tun") {
    const t = r.tunnel?.type ?? "ipip";
    attrs.push([DestAttr.TUN_TYPE, u8(TUN[t])]);
    if (t === "gue") attrs.push([DestAttr.TUN_PORT, be16(r.tunnel?.port ?? 0)]);
    if (t !== "ipip") attrs.push([DestAttr.TUN_FLAGS, u16(CSUM[r.tunnel?.checksum ?? "nocsum"])]);
  }
  return attrs;
}

/** Parses a dumped real server (the payload of IPVS_CMD_ATTR_DEST) of a service of `serviceFamily`. */
export function parseRealServer(
  buf: Buffer,
  serviceFamily: Family,
): { config: RealServerConfig; stats: RealServerStats } {
  const a = decodeAttrs(buf);
  const family = a.has(DestAttr.ADDR_FAMILY)
    ? familyOfAf(readU16(a, DestAttr.ADDR_FAMILY, "address family"))
    : serviceFamily;
  const fwd = readU32(a, DestAttr.FWD_METHOD, "forwarding method") & ConnFwd.MASK;
  // LOCALNODE: the kernel's own mark for a real server on the director itself (ipvsadm shows -g)
  const forwarding: ForwardingMethod = fwd === ConnFwd.MASQ ? "nat" : fwd === ConnFwd.TUNNEL ? "tun" : "dr";
  const config: RealServerConfig = {
    address: parseInetAddr(need(a, DestAttr.ADDR, 4, "address"), family),
    port: readBe16(a, DestAttr.PORT, "port"),
    forwarding,
    weight: readU32(a, DestAttr.WEIGHT, "weight") | 0,
    upperThreshold: readU32(a, DestAttr.U_THRESH, "upper threshold"),
    lowerThreshold: readU32(a, DestAttr.L_THRESH, "lower threshold"),
  };
  if (forwarding === "tun" && a.has(DestAttr.TUN_TYPE)) {
    const t = readU8(a, DestAttr.TUN_TYPE, "tunnel type");
    const type = TUN_NAME.get(t);
    if (!type) throw new WireError(`unknown tunnel type ${t}`);
    if (type !== "ipip") {
      config.tunnel = { type };
      if (type === "gue") config.tunnel.port = readBe16(a, DestAttr.TUN_PORT, "tunnel port");
      const f = a.has(DestAttr.TUN_FLAGS) ? readU16(a, DestAttr.TUN_FLAGS, "tunnel flags") : 0;
      config.tunnel.checksum = f & TunFlag.REMCSUM ? "remcsum" : f & TunFlag.CSUM ? "csum" : "nocsum";
    }
  }
  const stats: RealServerStats = {
    activeConnections: a.has(DestAttr.ACTIVE_CONNS) ? readU32(a, DestAttr.ACTIVE_CONNS, "active connections") : 0,
    inactiveConnections: a.has(DestAttr.INACT_CONNS) ? readU32(a, DestAttr.INACT_CONNS, "inactive connections") : 0,
  };
  return { config, stats };
}

// --- timeouts and statistics ----------------------------------------------------------------

export type { IpvsTimeouts };

/** Parses the reply of GET_CONFIG. */
export function parseTimeouts(buf: Buffer): IpvsTimeouts {
  const a = decodeAttrs(buf);
  return {
    tcp: readU32(a, CmdAttr.TIMEOUT_TCP, "tcp timeout"),
    tcpFin: readU32(a, CmdAttr.TIMEOUT_TCP_FIN, "tcpfin timeout"),
    udp: readU32(a, CmdAttr.TIMEOUT_UDP, "udp timeout"),
  };
}

/** The attributes of SET_CONFIG (a 0 leaves that timeout as it is, as `ipvsadm --set` does). */
export function timeoutsAttrs(t: IpvsTimeouts): Attr[] {
  return [
    [CmdAttr.TIMEOUT_TCP, u32(t.tcp)],
    [CmdAttr.TIMEOUT_TCP_FIN, u32(t.tcpFin)],
    [CmdAttr.TIMEOUT_UDP, u32(t.udp)],
  ];
}

/** Traffic counters of a service or real server (what `ipvsadm -L --stats --exact` shows). */
export interface IpvsCounters {
  connections: bigint;
  packetsIn: bigint;
  packetsOut: bigint;
  bytesIn: bigint;
  bytesOut: bigint;
}

/**
 * The counters in a dumped service or real server: the 64-bit set when the kernel sends it
 * (IPVS_*_ATTR_STATS64, Linux 4.1+), else the 32-bit one.
 */
export function parseCounters(buf: Buffer, kind: "service" | "real server"): IpvsCounters {
  const a = decodeAttrs(buf);
  const t64 = kind === "service" ? SvcAttr.STATS64 : DestAttr.STATS64;
  const t32 = kind === "service" ? SvcAttr.STATS : DestAttr.STATS;
  const wide = a.has(t64);
  const nested = a.get(wide ? t64 : t32);
  if (!nested) throw new WireError(`no statistics in the ${kind}`);
  const st = decodeAttrs(nested);
  const get = (t: number, what: string): bigint => {
    const b = need(st, t, wide ? 8 : 4, what);
    if (wide) return LE ? b.readBigUInt64LE(0) : b.readBigUInt64BE(0);
    return BigInt(LE ? b.readUInt32LE(0) : b.readUInt32BE(0));
  };
  // the 32-bit set carries the byte counters as u64 too
  const bytes = (t: number, what: string): bigint => {
    const b = need(st, t, 8, what);
    return LE ? b.readBigUInt64LE(0) : b.readBigUInt64BE(0);
  };
  return {
    connections: get(StatsAttr.CONNS, "connections"),
    packetsIn: get(StatsAttr.INPKTS, "packets in"),
    packetsOut: get(StatsAttr.OUTPKTS, "packets out"),
    bytesIn: bytes(StatsAttr.INBYTES, "bytes in"),
    bytesOut: bytes(StatsAttr.OUTBYTES, "bytes out"),
  };
}
