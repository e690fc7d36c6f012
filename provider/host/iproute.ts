/**
 * What the host's network state is, read from iproute2's JSON (`ip -j`, iproute2 4.13 or later):
 * the interfaces with their addresses, whether each is up, the default route's interface. One
 * command and one parser each.
 */
import type { InterfaceAddress } from "./addresses";

/** Prints every interface with its addresses. */
export const LIST_ADDRESSES = "ip -j addr show";
/** Prints every interface with its flags. */
export const LIST_LINKS = "ip -j link show";
/** Prints the IPv4 default route(s). */
export const LIST_DEFAULT_ROUTE = "ip -j -4 route show default";

/** The fields read here of one interface as `ip -j addr show` / `ip -j link show` print it. */
interface IpInterface {
  ifname: string;
  flags?: string[];
  addr_info?: Array<{ family?: string; local?: string; prefixlen?: number }>;
}

/**
 * The objects `ip -j` printed. Nothing printed, or no JSON (an `ip` without `-j` prints its
 * complaint on standard error), is none: as when `ip` fails (doctor tells that host apart: it
 * lists no interface at all, not even lo).
 */
function parseList<T>(text: string): T[] {
  try {
    const list = JSON.parse(text) as unknown;
    return Array.isArray(list) ? (list as T[]) : [];
  } catch {
    return [];
  }
}

/** The IPv4 and IPv6 addresses of every interface, from {@link LIST_ADDRESSES}. */
export function parseAddresses(text: string): InterfaceAddress[] {
  return parseList<IpInterface>(text).flatMap((i) =>
    (i.addr_info ?? []).flatMap((a) =>
      (a.family === "inet" || a.family === "inet6") && a.local !== undefined && a.prefixlen !== undefined
        ? [{ device: i.ifname, address: a.local.toLowerCase(), prefix: a.prefixlen }]
        : [],
    ),
  );
}

/** Every interface and whether it is up (administratively: the UP flag), from {@link LIST_LINKS}. */
export function parseLinks(text: string): Map<string, boolean> {
  return new Map(parseList<IpInterface>(text).map((i) => [i.ifname, (i.flags ?? []).includes("UP")]));
}

/** The interface of the first IPv4 default route, from {@link LIST_DEFAULT_ROUTE}. */
export function parseDefaultInterface(text: string): string | undefined {
  return parseList<{ dev?: string }>(text).find((r) => r.dev !== undefined)?.dev;
}
