import type { Change } from "../change";
import type { IpvsTimeouts } from "../client";
import {
  addRealServerArgs,
  addServiceArgs,
  deleteRealServerArgs,
  deleteServiceArgs,
  editRealServerArgs,
  editServiceArgs,
} from "../rules/words";
import type { RealServerConfig, VirtualServiceConfig } from "../types";

/** ipvsadm's words for a change (without "ipvsadm"). */
export function argsOf(c: Change): string[] {
  if (c.rs) {
    if (c.kind === "delete") return deleteRealServerArgs(c.service, c.rs);
    const r = c.config as RealServerConfig;
    return c.kind === "add" ? addRealServerArgs(c.service, r) : editRealServerArgs(c.service, r);
  }
  if (c.kind === "delete") return deleteServiceArgs(c.service);
  const s = c.config as VirtualServiceConfig;
  return c.kind === "add" ? addServiceArgs(s) : editServiceArgs(s);
}

/** ipvsadm's words that set the connection timeouts (a 0 leaves that one as it is): the apply and the boot alike. */
export function setTimeoutsArgs(t: IpvsTimeouts): string[] {
  return ["--set", String(t.tcp), String(t.tcpFin), String(t.udp)];
}

/** ipvsadm's words that print the connection timeouts (the line {@link parseTimeoutsListing} reads). */
export const LIST_TIMEOUTS_ARGS: readonly string[] = ["-L", "-n", "--timeout"];

/** Prints the connection timeouts when ip_vs is loaded (ipvsadm would load it: reading loads nothing). */
export const READ_TIMEOUTS = `[ ! -e /proc/net/ip_vs ] || ${["ipvsadm", ...LIST_TIMEOUTS_ARGS].join(" ")}`;

/** How the line of `ipvsadm -L -n --timeout` starts (ipvsadm -R prints it too). */
export const TIMEOUTS_LINE_START = "Timeout (tcp tcpfin udp):";

/** The timeouts in what `ipvsadm -L -n --timeout` printed; undefined if it printed no such line. */
export function parseTimeoutsListing(text: string): IpvsTimeouts | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(TIMEOUTS_LINE_START)) continue;
    const [tcp, tcpFin, udp] = line.slice(TIMEOUTS_LINE_START.length).trim().split(/\s+/).map(Number);
    if ([tcp, tcpFin, udp].every((n) => Number.isInteger(n))) return { tcp: tcp!, tcpFin: tcpFin!, udp: udp! };
  }
  return undefined;
}
