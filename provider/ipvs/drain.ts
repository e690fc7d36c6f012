/**
 * Graceful drain of a real server: weight 0 first, so that the scheduler sends it no new
 * connection, then a wait until its active connections reach 0 (or a timeout), before it is
 * deleted. Both engines use it; the keepalived engine sets the weight through its file.
 */
import { say } from "../transport/progress";
import { realServerChange } from "./change";
import type { IpvsClient } from "./client";
import { ensure } from "./ensure";
import {
  findRealServerEntry,
  findService,
  type RealServerConfig,
  type RealServerKey,
  realServerKeyText,
  type ServiceKey,
  serviceKeyText,
} from "./types";

/** Whether removing a real server of this service waits: UDP has no connection end to wait for. */
export function drains(service: ServiceKey, drainSeconds: number): boolean {
  return drainSeconds > 0 && !("protocol" in service && service.protocol === "udp");
}

/** Told once a second while a drain waits: the active connections left and the seconds left. */
export type DrainProgress = (active: number, secondsLeft: number) => void;

/**
 * What a drain says to the user: a line when it starts waiting, when the count of active
 * connections changes, and every 5 seconds otherwise.
 */
export function drainReporter(what: string, host: string): DrainProgress {
  let last: number | undefined;
  let quiet = 0;
  return (active, secondsLeft) => {
    if (active === last && ++quiet < 5) return;
    last = active;
    quiet = 0;
    say(
      `draining ${what} on ${host}: ${active} active connection${active === 1 ? "" : "s"}, waiting up to ${secondsLeft} s more`,
    );
  };
}

/**
 * Polls the live table (fresh reads, one a second) until the real servers (one, or a list drained
 * together) have no active connection, are gone, or `seconds` have passed. Returns the active
 * connections left.
 */
export async function waitDrained(
  ipvs: IpvsClient,
  service: ServiceKey,
  rs: RealServerKey | readonly RealServerKey[],
  seconds: number,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  now: () => number = Date.now,
  progress: DrainProgress = () => undefined,
): Promise<number> {
  const deadline = now() + seconds * 1000;
  for (;;) {
    const snap = await ipvs.snapshot({ fresh: true });
    const svc = findService(snap.table, service);
    const active = (Array.isArray(rs) ? rs : [rs]).reduce(
      (n: number, r: RealServerKey) => n + ((svc && findRealServerEntry(svc, r)?.stats?.activeConnections) ?? 0),
      0,
    );
    if (active === 0 || now() >= deadline) return active;
    progress(active, Math.ceil((deadline - now()) / 1000));
    await sleep(1000);
  }
}

/** What a drain of these real servers is called in its progress lines. */
export function drainedText(service: ServiceKey, rs: readonly RealServerKey[]): string {
  const which = rs.length === 1 ? `real server ${realServerKeyText(rs[0]!)}` : `${rs.length} real servers`;
  return `${which} of ${serviceKeyText(service)}`;
}

/**
 * Drains real servers that the ipvsadm engine owns, together: weight 0 for each (recorded in the
 * ledger with its owner; one batch), then {@link waitDrained}. Returns the ones that were still
 * there (the others were gone already).
 */
export async function drainRealServers(
  ipvs: IpvsClient,
  service: ServiceKey,
  rs: readonly RealServerConfig[],
  owner: string | undefined,
  seconds: number,
  progress: DrainProgress = drainReporter(drainedText(service, rs), ipvs.host),
): Promise<RealServerConfig[]> {
  const there = await Promise.all(
    rs.map((r) =>
      ensure(ipvs, realServerChange("edit", service, { ...r, weight: 0 }, owner), { how: "edit-if-present" }),
    ),
  );
  const left = rs.filter((_, i) => there[i]);
  if (left.length > 0) await waitDrained(ipvs, service, left, seconds, undefined, undefined, progress);
  return left;
}

/** Deletes real servers of a service (drained together first, for `drainSeconds`); gone ones are done. */
export async function removeRealServers(
  ipvs: IpvsClient,
  service: ServiceKey,
  rs: readonly RealServerConfig[],
  owner: string | undefined,
  drainSeconds: number,
): Promise<void> {
  const left =
    drains(service, drainSeconds) && rs.length > 0
      ? await drainRealServers(ipvs, service, rs, owner, drainSeconds)
      : rs;
  await Promise.all(left.map((r) => ensure(ipvs, realServerChange("delete", service, r))));
}
