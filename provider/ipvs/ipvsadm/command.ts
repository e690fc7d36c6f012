/** ipvsadm(8)'s words for the connection timeouts, and the parser of its timeouts line. (A change's words: rules/words.ts, argsOf.) */
import type { IpvsTimeouts } from "../client";
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
