/**
 * Graceful drain of a real server: weight 0 first, so that the scheduler sends it no new
 * connection, then a wait until its active connections reach 0 (or a timeout), before it is
 * deleted. Both engines use it; the keepalived engine sets the weight through its file.
 */
import { say } from "../transport/progress";
import { type IpvsClient, IpvsNotFoundError } from "./client";
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
 * Polls the live table (fresh reads, one a second) until the real server has no active
 * connection, is gone, or `seconds` have passed. Returns the active connections left.
 */
export async function waitDrained(
  ipvs: IpvsClient,
  service: ServiceKey,
  rs: RealServerKey,
  seconds: number,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  now: () => number = Date.now,
  progress: DrainProgress = () => undefined,
): Promise<number> {
  const deadline = now() + seconds * 1000;
  for (;;) {
    const snap = await ipvs.snapshot({ fresh: true });
    const svc = findService(snap.table, service);
    const active = (svc && findRealServerEntry(svc, rs)?.stats?.activeConnections) ?? 0;
    if (active === 0 || now() >= deadline) return active;
    progress(active, Math.ceil((deadline - now()) / 1000));
    await sleep(1000);
  }
}

/**
 * Drains a real server that the ipvsadm engine owns: weight 0 (recorded in the ledger with its
 * owner), then {@link waitDrained}. Returns false when the real server was already gone.
 */
export async function drainRealServer(
  ipvs: IpvsClient,
  service: ServiceKey,
  rs: RealServerConfig,
  owner: string | undefined,
  seconds: number,
  progress: DrainProgress = drainReporter(
    `real server ${realServerKeyText(rs)} of ${serviceKeyText(service)}`,
    ipvs.host,
  ),
): Promise<boolean> {
  try {
    await ipvs.editRealServer(service, { ...rs, weight: 0 }, owner);
  } catch (e) {
    if (e instanceof IpvsNotFoundError) return false;
    throw e;
  }
  await waitDrained(ipvs, service, rs, seconds, undefined, undefined, progress);
  return true;
}
