/** What the netlink client tells when the kernel (or the socket) refuses: ipvsadm's errors, by errno. */
import { TransportError } from "../../transport/transport";
import type { Change } from "../change";
import { IpvsAlreadyExistsError, IpvsError, IpvsNotFoundError } from "../client";
import { realServerKeyText, serviceKeyText } from "../types";
import { NetlinkError } from "./socket";

/** The remedy when the kernel has no IPVS family. */
export const INSTALL_MODULES =
  "load the ip_vs kernel module (modprobe ip_vs), or install the kernel modules package (linux-modules-extra on Ubuntu)";

/** A change, for messages. */
function whatOf(c: Change): string {
  return c.rs
    ? `${c.kind} real server ${realServerKeyText(c.rs)} of ${serviceKeyText(c.service)}`
    : `${c.kind} virtual service ${serviceKeyText(c.service)}`;
}

/**
 * The error of a failed read or setting (not a change).
 * @param host the host, for messages
 * @param what what was asked, for messages
 * @param e what the socket threw
 */
export function requestError(host: string, what: string, e: unknown): Error {
  if (e instanceof NetlinkError) return new IpvsError(host, `${what} (netlink)`, e.message, remedyFor(e.code));
  return new TransportError("timeout", host, `${what} (netlink): ${(e as Error).message ?? e}`);
}

/**
 * The error of a refused change, as the ipvsadm client tells it: already exists, not found, a
 * missing scheduler module, privileges.
 * @param host the host, for messages
 * @param c the change
 * @param e what the socket threw
 */
export function changeError(host: string, c: Change, e: unknown): Error {
  const command = `${whatOf(c)} (netlink)`;
  if (!(e instanceof NetlinkError)) {
    return new TransportError("timeout", host, `${command}: ${(e as Error).message ?? e}. It may or may not have run`);
  }
  const rs = c.rs;
  if (e.code === "EEXIST") {
    return new IpvsAlreadyExistsError(host, command, rs ? "real server" : "service", c.service, rs);
  }
  if (e.code === "ESRCH") return new IpvsNotFoundError(host, command, "service", c.service);
  if (e.code === "ENOENT" && rs) return new IpvsNotFoundError(host, command, "real server", c.service, rs);
  if (e.code === "ENOENT") {
    return new IpvsError(
      host,
      command,
      "scheduler or persistence engine not found (ENOENT)",
      "the kernel lacks the scheduler (or persistence engine) module: check `modprobe ip_vs_<scheduler>`",
    );
  }
  return new IpvsError(host, command, e.message, remedyFor(e.code));
}

function remedyFor(code: string): string | undefined {
  if (code === "EPERM" || code === "EACCES") {
    return "changing IPVS needs root (CAP_NET_ADMIN): run pulumi as root on the director, or connect over SSH";
  }
  if (code === "EINVAL") return "the kernel refused the arguments: check the kernel version supports these options";
  return undefined;
}
