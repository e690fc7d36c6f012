/**
 * IP addresses, in one place, backed by ipaddr.js: validation, family, canonical text (as ipvsadm
 * prints it), prefix limits, `address[:port]` both ways, multicast and the bytes the kernel reads.
 * A leaf: it imports nothing of the provider, so that every layer (down to the transport) and the
 * SDK can use it.
 */
import ipaddr from "ipaddr.js";

/** Address families, as the provider names them (ipvsadm `-6` for `ipv6`). */
export const FAMILIES = ["ipv4", "ipv6"] as const;
/** An address family. */
export type Family = (typeof FAMILIES)[number];

/** An error about an address or `address:port` text; `part` says which piece is wrong. */
export class AddressError extends Error {
  constructor(
    message: string,
    /** The piece that is wrong: the address or the port (of an SSH target: the user or the host). */
    readonly part: "address" | "port" | "user" | "host",
    /** The text of that piece. */
    readonly text: string,
  ) {
    super(message);
    this.name = "AddressError";
  }
}

/** An octet of a dotted quad: 0 to 255, in decimal, without a leading zero. */
const OCTET = "(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
const IPV4_TEXT = new RegExp(`^(?:${OCTET}\\.){3}${OCTET}$`);

/**
 * A dotted-quad IPv4 address, strictly decimal (no octal, hex or short forms): what ipaddr.js's
 * isValidFourPartDecimal accepts, told by one regular expression (ipaddr.js tells it by a parse
 * that throws, and an inline table of 10,000 real servers reads its addresses several times).
 */
function isIPv4Text(text: string): boolean {
  return IPV4_TEXT.test(text);
}

/** The characters an IPv6 text may have (its zone id, which IPVS addresses never have, aside). */
const IPV6_CHARS = /^[0-9a-fA-F:.]+$/;

/**
 * The 8 groups of an IPv6 text, or undefined. An embedded IPv4 tail (`::ffff:10.0.0.1`) must be
 * dotted decimal and becomes two groups here (ipaddr.js would read `::10.0.0.1` as IPv4-mapped);
 * zone ids (`%eth0`) are refused: IPVS addresses have none.
 */
function ipv6Parts(text: string): number[] | undefined {
  if (!text.includes(":") || !IPV6_CHARS.test(text)) return undefined;
  let hex = text;
  const tail = text.lastIndexOf(":") + 1;
  if (text.includes(".", tail)) {
    const v4 = text.slice(tail);
    if (!isIPv4Text(v4)) return undefined;
    const o = ipaddr.IPv4.parse(v4).octets;
    hex = `${text.slice(0, tail)}${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  // (a dot left before the tail: no IPv6 address, such as an IPv4 one with a port)
  if (hex.includes(".") || !ipaddr.IPv6.isValid(hex)) return undefined;
  return ipaddr.IPv6.parse(hex).parts;
}

/** An IPv6 zone id (`%eth0`), as node:net accepts it. */
const ZONE_ID = /%[0-9a-zA-Z.:-]+$/;

/**
 * Whether a text is an IPv4 (dotted decimal) or IPv6 address. `zoneId`: accept an IPv6 zone id
 * (`fe80::1%eth0`), which an SSH host may have but an IPVS address never does.
 */
export function isAddress(text: string, options: { zoneId?: boolean } = {}): boolean {
  if (isIPv4Text(text)) return true;
  const address = options.zoneId ? text.replace(ZONE_ID, "") : text;
  return ipv6Parts(address) !== undefined;
}

/**
 * Canonical text of an IP address: IPv4 as given, IPv6 compressed and lower case (RFC 5952, as
 * ipvsadm prints it; an embedded IPv4 tail in hex groups). Throws {@link AddressError} on anything else.
 */
export function canonicalAddress(text: string): string {
  if (isIPv4Text(text)) return text;
  const parts = ipv6Parts(text);
  if (parts === undefined) throw new AddressError(`not an IP address: ${text}`, "address", text);
  return new ipaddr.IPv6(parts).toRFC5952String();
}

/**
 * The family of an address already validated (the model's schemas validate every address): a colon
 * makes it IPv6. Anything that is not IPv6 counts as IPv4.
 */
export function addressFamily(address: string): Family {
  return address.includes(":") ? "ipv6" : "ipv4";
}

/** Whether a validated address is IPv6. */
export function isIPv6(address: string): boolean {
  return addressFamily(address) === "ipv6";
}

/** Whether a validated address is IPv4 (the NAT return path is IPv4 only). */
export function isIPv4(address: string): boolean {
  return addressFamily(address) === "ipv4";
}

const MAX_PREFIX: Record<Family, number> = { ipv4: 32, ipv6: 128 };

/** The longest prefix of a family: 32 for IPv4, 128 for IPv6. */
export function maxPrefix(family: Family): number {
  return MAX_PREFIX[family];
}

/** The prefix length of a single address: a VIP's default (/32, IPv6 /128). */
export function hostPrefix(address: string): number {
  return maxPrefix(addressFamily(address));
}

/** The unspecified address of a family (`0.0.0.0`, `::`): no host has it. */
export function unspecifiedAddress(family: Family): string {
  return family === "ipv6" ? "::" : "0.0.0.0";
}

/** The persistence netmask of one client address: a dotted mask for IPv4, a prefix length for IPv6. */
export function fullHostNetmask(family: Family): string {
  return family === "ipv6" ? String(MAX_PREFIX.ipv6) : "255.255.255.255";
}

/**
 * What is wrong with an IPv4 netmask text, if anything: not four dotted numbers of 1 to 3 digits,
 * a number over 255, or ones that are not contiguous from the left (or none at all).
 */
export function ipv4MaskProblem(mask: string): "not dotted" | "not a mask" | "not contiguous" | undefined {
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(mask)) return "not dotted";
  const octets = mask.split(".").map(Number);
  if (octets.some((o) => o > 255)) return "not a mask";
  const bits = octets.reduce((acc, o) => (acc << 8) | o, 0) >>> 0;
  const inv = ~bits >>> 0;
  if ((inv & (inv + 1)) !== 0 || bits === 0) return "not contiguous";
  return undefined;
}

/** Whether an address is multicast (IPv4 224.0.0.0/4, IPv6 ff00::/8); false for a non-address. */
export function isMulticast(text: string): boolean {
  if (!isAddress(text)) return false;
  return ipaddr.parse(canonicalAddress(text)).range() === "multicast";
}

/** A host (an address or a DNS name) as it stands before `:port`: an IPv6 address in brackets. */
export function bracketHost(host: string): string {
  return isIPv6(host) ? `[${host}]` : host;
}

/** `address:port`, an IPv6 address in brackets: `10.0.0.1:80`, `[fd00::1]:80`. */
export function formatHostPort(address: string, port: number): string {
  return `${bracketHost(address)}:${port}`;
}

/** An address and, if the text had one, a port. */
export interface HostPort {
  /** Canonical address text. */
  address: string;
  /** The port, when the text names one. */
  port?: number;
}

const BRACKETED = /^\[([^\]]*)\]:(\d+)$/;
const WITH_PORT = /^([^:]*):(\d+)$/;

/**
 * Parses `address[:port]`: a bare address (IPv4 or IPv6), `10.0.0.1:80` or `[fd00::1]:80` (an IPv6
 * address with a port needs brackets: `fd00::1:80` is an address). The address comes back canonical;
 * a port is decimal, at most 65535. Throws {@link AddressError} naming the wrong piece.
 */
export function parseHostPort(text: string): HostPort {
  if (isAddress(text)) return { address: canonicalAddress(text) };
  const [, address = text, digits] = BRACKETED.exec(text) ?? WITH_PORT.exec(text) ?? [];
  if (digits === undefined || !isAddress(address))
    throw new AddressError(`"${address}" is not an IPv4 or IPv6 address`, "address", address);
  const port = Number(digits);
  if (port > 65535) throw new AddressError(`port ${digits} is not from 0 to 65535`, "port", digits);
  return { address: canonicalAddress(address), port };
}

/** An SSH target as a command line names it: `[user@]host[:port]`. */
export interface SshTarget {
  user?: string;
  /** A host name, or an address (canonical). */
  host: string;
  port?: number;
}

/**
 * Parses `[user@]host[:port]`, as ssh and scp users write it: the host a name or an address; an
 * IPv6 address with a port in brackets (`root@[fd00::2]:2222`), without one bare or bracketed.
 * Throws {@link AddressError} naming the wrong piece.
 */
export function parseSshTarget(text: string): SshTarget {
  const at = text.lastIndexOf("@");
  const user = at >= 0 ? text.slice(0, at) : undefined;
  const rest = at >= 0 ? text.slice(at + 1) : text;
  if (user === "") throw new AddressError(`"${text}": the user before @ is empty`, "user", text);
  const bare = /^\[([^\]]*)\]$/.exec(rest)?.[1] ?? rest;
  const [, host = bare, digits] = BRACKETED.exec(rest) ?? (isAddress(bare) ? [] : WITH_PORT.exec(rest)) ?? [];
  if (host === "" || /[\s/[\]]/.test(host)) throw new AddressError(`"${text}" names no host`, "host", text);
  const out: SshTarget = { host: isAddress(host) ? canonicalAddress(host) : host };
  if (user !== undefined) out.user = user;
  if (digits !== undefined) {
    const port = Number(digits);
    if (port < 1 || port > 65535) throw new AddressError(`port ${digits} is not from 1 to 65535`, "port", digits);
    out.port = port;
  }
  return out;
}

/** How OpenSSH names a host in known_hosts: `host` on port 22, `[host]:port` on any other (names too). */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** Whether a text is `address:port` (a port given), as {@link formatHostPort} writes it. */
export function hasPort(text: string): boolean {
  try {
    return parseHostPort(text).port !== undefined;
  } catch {
    return false;
  }
}

/** The bytes of an address in network order: 4 for IPv4, 16 for IPv6. */
export function addressBytes(address: string): number[] {
  if (isIPv4Text(address)) return ipaddr.IPv4.parse(address).toByteArray();
  const parts = ipv6Parts(address);
  if (parts === undefined) throw new AddressError(`not an IP address: ${address}`, "address", address);
  return new ipaddr.IPv6(parts).toByteArray();
}

/** The canonical text of an address from its bytes in network order (4 or 16 of them). */
export function addressFromBytes(bytes: ArrayLike<number>): string {
  const list = Array.from(bytes);
  if (list.length !== 4 && list.length !== 16)
    throw new AddressError(`an address has 4 or 16 bytes, not ${list.length}`, "address", String(list.length));
  return ipaddr.fromByteArray(list).toString();
}

/** Whether an address lies in a network written `address/prefix` (false across families or for a non-address). */
export function inSubnet(address: string, cidr: string): boolean {
  if (!isAddress(address)) return false;
  const [net, bits] = ipaddr.parseCIDR(cidr);
  const a = ipaddr.parse(canonicalAddress(address));
  return a.kind() === net.kind() && a.match(net, bits);
}
