/**
 * Kernel constants of the IPVS generic netlink family, as in `include/uapi/linux/ip_vs.h` of
 * Linux 6.1 (unchanged in this part since 5.7, which added IPVS_DEST_ATTR_TUN_FLAGS). Only this
 * folder uses kernel names; the rest of the provider speaks ipvsadm(8)'s vocabulary.
 */

export const IPVS_GENL_NAME = "IPVS";
export const IPVS_GENL_VERSION = 1;

/** Commands (enum IPVS_CMD_*). */
export const Cmd = {
  NEW_SERVICE: 1,
  SET_SERVICE: 2,
  DEL_SERVICE: 3,
  GET_SERVICE: 4,
  NEW_DEST: 5,
  SET_DEST: 6,
  DEL_DEST: 7,
  GET_DEST: 8,
  NEW_DAEMON: 9,
  DEL_DAEMON: 10,
  GET_DAEMON: 11,
  SET_CONFIG: 12,
  GET_CONFIG: 13,
  SET_INFO: 14,
  GET_INFO: 15,
  ZERO: 16,
  FLUSH: 17,
} as const;

/** First-level attributes (enum IPVS_CMD_ATTR_*). */
export const CmdAttr = {
  SERVICE: 1,
  DEST: 2,
  DAEMON: 3,
  TIMEOUT_TCP: 4,
  TIMEOUT_TCP_FIN: 5,
  TIMEOUT_UDP: 6,
} as const;

/** Service attributes (enum IPVS_SVC_ATTR_*). */
export const SvcAttr = {
  AF: 1, // u16
  PROTOCOL: 2, // u16
  ADDR: 3, // union nf_inet_addr (16 bytes)
  PORT: 4, // be16
  FWMARK: 5, // u32
  SCHED_NAME: 6, // string
  FLAGS: 7, // struct ip_vs_flags { u32 flags; u32 mask; }
  TIMEOUT: 8, // u32, seconds
  NETMASK: 9, // u32: IPv4 a be32 mask, IPv6 a prefix length
  STATS: 10, // nested
  PE_NAME: 11, // string
  STATS64: 12, // nested
} as const;

/** Destination (real server) attributes (enum IPVS_DEST_ATTR_*). */
export const DestAttr = {
  ADDR: 1, // union nf_inet_addr
  PORT: 2, // be16
  FWD_METHOD: 3, // u32
  WEIGHT: 4, // u32
  U_THRESH: 5, // u32
  L_THRESH: 6, // u32
  ACTIVE_CONNS: 7, // u32
  INACT_CONNS: 8, // u32
  PERSIST_CONNS: 9, // u32
  STATS: 10, // nested
  ADDR_FAMILY: 11, // u16
  STATS64: 12, // nested
  TUN_TYPE: 13, // u8
  TUN_PORT: 14, // be16
  TUN_FLAGS: 15, // u16
} as const;

/** Statistics attributes (enum IPVS_STATS_ATTR_*; u32 in STATS, u64 in STATS64). */
export const StatsAttr = {
  CONNS: 1,
  INPKTS: 2,
  OUTPKTS: 3,
  INBYTES: 4,
  OUTBYTES: 5,
  CPS: 6,
  INPPS: 7,
  OUTPPS: 8,
  INBPS: 9,
  OUTBPS: 10,
} as const;

/** Info attributes (enum IPVS_INFO_ATTR_*). */
export const InfoAttr = { VERSION: 1, CONN_TAB_SIZE: 2 } as const;

/** Service flags (IP_VS_SVC_F_*). */
export const SvcFlag = {
  PERSISTENT: 0x0001,
  /** Set by the kernel on every hashed service: never part of a configuration. */
  HASHED: 0x0002,
  ONEPACKET: 0x0004,
  SCHED1: 0x0008,
  SCHED2: 0x0010,
  SCHED3: 0x0020,
} as const;

/** Forwarding methods (IP_VS_CONN_F_* & IP_VS_CONN_F_FWD_MASK). */
export const ConnFwd = { MASQ: 0, LOCALNODE: 1, TUNNEL: 2, DROUTE: 3, BYPASS: 4, MASK: 0x0007 } as const;

/** Tunnel types (IP_VS_CONN_F_TUNNEL_TYPE_*). */
export const TunType = { IPIP: 0, GUE: 1, GRE: 2 } as const;

/** Tunnel encapsulation flags (IP_VS_TUNNEL_ENCAP_FLAG_*). */
export const TunFlag = { NOCSUM: 0, CSUM: 1 << 0, REMCSUM: 1 << 1 } as const;

/** Address families and IP protocols (linux/socket.h, netinet/in.h). */
export const AF_INET = 2;
export const AF_INET6 = 10;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_SCTP = 132;

/** The nested-attribute bit of nlattr.nla_type (NLA_F_NESTED). */
export const NLA_F_NESTED = 0x8000;
export const NLA_TYPE_MASK = 0x3fff;
