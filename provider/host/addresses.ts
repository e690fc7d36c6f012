/** Interface addresses, through iproute2's `ip`. */
import { isIPv6 } from "../net/address";
import { hostScript, shellScriptWith } from "../scripts";
import { shellJoin } from "../transport/transport";

export interface InterfaceAddress {
  /** Canonical address text. */
  address: string;
  prefix: number;
  device: string;
  /**
   * Never a source address (IPv6: `preferred_lft 0`, deprecated): a director's VIP, so that the
   * packets the director itself sends (LVS-TUN's outer headers) do not come from the VIP, which a
   * real server holds too and would drop (ip6_tunnel refuses a remote address that is local).
   */
  notSource?: boolean;
}

export function addressText(a: InterfaceAddress): string {
  return `${a.address}/${a.prefix}`;
}

export function hasAddress(list: InterfaceAddress[], a: InterfaceAddress): boolean {
  return list.some((x) => x.device === a.device && x.address === a.address && x.prefix === a.prefix);
}

/** Adds an address (idempotent). IPv6 addresses skip duplicate address detection (nodad). */
export function addAddressCommand(a: InterfaceAddress): string {
  const v6 = isIPv6(a.address);
  const flags = v6 ? ["nodad", ...(a.notSource ? ["preferred_lft", "0"] : [])] : [];
  return shellJoin(["ip", ...(v6 ? ["-6"] : []), "addr", "replace", addressText(a), "dev", a.device, ...flags]);
}

/** Removes an address; one that is not there is no failure. */
export function deleteAddressCommand(a: InterfaceAddress): string {
  return `${shellJoin(["ip", "addr", "del", addressText(a), "dev", a.device])} 2>/dev/null || true`;
}

/**
 * Announces an IPv4 address with a gratuitous ARP (unsolicited, as arping -U sends), so that
 * neighbours update their caches at once, through `announce` ({@link announceFunction}: the script
 * defines it first). Best effort: it never fails (a failed announcement must not stop a script run
 * with `set -e`), and prints `announced` or the reason why not.
 */
export function announceCommand(a: InterfaceAddress): string {
  if (isIPv6(a.address)) {
    return `echo 'not announced: IPv6 addresses are announced by the kernel (unsolicited neighbour advertisement) only with DAD; this VIP uses nodad'`;
  }
  return shellJoin(["announce", a.device, a.address]);
}

/** Shell that defines `announce IFACE ADDRESS` (provider/scripts/announce.sh), for {@link announceCommand}. */
export function announceFunction(): string {
  return hostScript("announce.sh");
}

/** How long, in all, a boot script waits for the interfaces of its addresses to appear. */
export const DEVICE_WAIT_SECONDS = 60;

/**
 * Shell that defines `have_dev IFACE`, which waits until the interface exists, for at most
 * {@link DEVICE_WAIT_SECONDS} over all its calls (`ip addr` fails on a missing interface, and an
 * interface may appear late: a slow driver, a bridge or VLAN its network manager creates).
 */
export function waitForDeviceFunction(): string {
  return shellScriptWith("wait-for-device.sh", { DEVICE_WAIT_SECONDS: String(DEVICE_WAIT_SECONDS) });
}
