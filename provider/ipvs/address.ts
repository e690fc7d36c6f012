/**
 * IP addresses, with no dependency: canonical text, family, and the full-host persistence netmask.
 * The model's schemas, the rule parser and the netlink wire format all use these.
 */
import * as net from "node:net";

/** Canonical text of an IP address (IPv6 compressed and lower case, as ipvsadm prints it). */
export function canonicalAddress(address: string): string {
  if (net.isIPv4(address)) return address;
  if (net.isIPv6(address)) return new URL(`http://[${address}]/`).hostname.slice(1, -1);
  throw new Error(`not an IP address: ${address}`);
}

/** The family of an address (anything that is not IPv6 counts as IPv4). */
export function addressFamily(address: string): "ipv4" | "ipv6" {
  return net.isIPv6(address) ? "ipv6" : "ipv4";
}

/** The prefix length of a single address: a VIP's default (/32, IPv6 /128). */
export function hostPrefix(address: string): number {
  return addressFamily(address) === "ipv6" ? 128 : 32;
}

/** The persistence netmask of one client address: a dotted mask for IPv4, a prefix length for IPv6. */
export function fullHostNetmask(family: "ipv4" | "ipv6"): string {
  return family === "ipv6" ? "128" : "255.255.255.255";
}
