/**
 * The keepalived engine of VirtualService and RealServer: instead of ipvsadm commands, each
 * resource owns a file that keepalived reads (a `virtual_server` block, or one `real_server`
 * block included into it), and keepalived makes the IPVS rules and runs the health checks.
 *
 * Drift compares the files with what the resources render, the live IPVS table with what
 * keepalived should have made from them (a real server whose check says DOWN is expected absent,
 * or at weight 0 with inhibitOnFailure), and keepalived itself with what those rules need: running
 * and, under systemd, enabled (so that it comes back after a reboot). keepalived does not put back
 * rules deleted by hand on a reload, so `pulumi up` re-adds such rules itself (through the IPVS
 * client, unrecorded: they are keepalived's, not in pulumi-lvs's ledger) after rewriting the files.
 */

import type { PersistedFile } from "../host/persist";
import { type Change, realServerChange, serviceChange } from "../ipvs/change";
import type { IpvsClient } from "../ipvs/client";
import { drainedText, drainReporter, drains, waitDrained } from "../ipvs/drain";
import { ensure } from "../ipvs/ensure";
import {
  findRealServer,
  findService,
  type RealServerConfig,
  realServerKeyText,
  type ServiceKey,
  serviceKeyText,
  type VirtualServiceConfig,
} from "../ipvs/types";
import type { HealthCheck } from "../model/keepalived";
import { say } from "../transport/progress";
import type { Transport } from "../transport/transport";
import { apply, type DaemonState, daemonState, readKeepalivedHost } from "./daemon";
import {
  RS_NOTIFY,
  realServerDirOf,
  realServerFileOf,
  realServerStateFileOf,
  renderRealServer,
  renderVirtualServer,
  rsNotifyText,
  serviceFileOf,
} from "./render";

/** What read found for a keepalived-engine object; anything but {@link IN_SYNC} is drift. */
export interface EngineObserved {
  /** The object's file: as rendered, edited, or gone. */
  config: "ok" | "changed" | "missing";
  /**
   * The live IPVS table: as keepalived should have made it, or not. keepalived not running is no
   * excuse: the rules it should have made are expected all the same (a reboot that left keepalived
   * stopped leaves the table empty, and that is drift).
   */
  live: "ok" | "missing" | "different";
  /** keepalived itself: running and, under systemd, enabled (or it would not survive a reboot). */
  keepalived: DaemonState;
  /** A service's inline real servers (`address:port`) whose file or rule is not as it should be. */
  drifted?: string[];
}
export const IN_SYNC: EngineObserved = { config: "ok", live: "ok", keepalived: "running" };

/**
 * What state recorded (for diff): state written before keepalived itself was observed reads as
 * running, so that upgrading pulumi-lvs alone shows no drift.
 */
export function recordedObserved(o: Partial<EngineObserved> | undefined): EngineObserved | undefined {
  return o === undefined ? undefined : ({ keepalived: "running", ...o } as EngineObserved);
}

/** A file read back against what was rendered (compared trimmed, as the host resources do). */
export function fileState(have: string | undefined, want: string): EngineObserved["config"] {
  return have === undefined ? "missing" : have.trim() === want.trim() ? "ok" : "changed";
}

// ---- virtual services

export interface ServiceSpec {
  cfg: VirtualServiceConfig;
  sorryServer?: { address: string; port?: number };
  /** Inline real servers: one file each, written with the service's (one reload). */
  realServers?: RealServerSpec[];
  /** Inline real servers an update removes (drained first, for `drainSeconds`). */
  removed?: RealServerSpec[];
  drainSeconds?: number;
}

function serviceFile(s: ServiceSpec): PersistedFile {
  return { path: serviceFileOf(s.cfg.key), content: renderVirtualServer(s.cfg, s.sorryServer) };
}

/** The files of a service: its block, the notify script of real servers, and its inline real servers'. */
export function serviceFiles(s: ServiceSpec): PersistedFile[] {
  return [
    serviceFile(s),
    { path: RS_NOTIFY, content: rsNotifyText(), mode: "0755" },
    ...(s.realServers ?? []).map(realServerFile),
  ];
}

/** What each of {@link serviceFiles} is, in messages: the service, a real server, the notify script. */
export function serviceFileNames(s: ServiceSpec): Map<string, string> {
  return new Map([
    [serviceFileOf(s.cfg.key), `virtual_server ${serviceKeyText(s.cfg.key)}`],
    [RS_NOTIFY, "the real servers' notify script"],
    ...(s.realServers ?? []).map((r): [string, string] => [
      realServerFile(r).path,
      `real server ${realServerKeyText(r.cfg)}`,
    ]),
  ]);
}

/** Writes the service's file (and its inline real servers'), then removes the real servers it no longer lists. */
export async function applyService(t: Transport, ipvs: IpvsClient, s: ServiceSpec): Promise<void> {
  await apply(t, serviceFiles(s), [], {
    make: [realServerDirOf(s.cfg.key)],
  });
  await removeRealServers(t, ipvs, s.removed ?? [], s.drainSeconds ?? 0);
}

export async function observeService(
  t: Transport,
  ipvs: IpvsClient,
  s: ServiceSpec,
  fresh = false,
): Promise<EngineObserved> {
  const f = serviceFile(s);
  const glob = `${realServerDirOf(s.cfg.key)}/*.conf`;
  const [p, snap, entries] = await Promise.all([
    readKeepalivedHost(t, [f.path], [glob]),
    ipvs.snapshot({ fresh }),
    inspectRealServers(t, ipvs, s.realServers ?? [], fresh),
  ]);
  // keepalived leaves out a virtual_server without real servers
  const expected = (p.counts.get(glob) ?? 0) > 0;
  const live = expected && !findService(snap.table, s.cfg.key) ? "missing" : "ok";
  const own: EngineObserved = { config: fileState(p.files.get(f.path), f.content), live, keepalived: daemonState(p) };
  const drifted = entries.flatMap((e, i) =>
    e.observed.config === "ok" && e.observed.live === "ok" ? [] : [realServerKeyText(s.realServers![i]!.cfg)],
  );
  return {
    ...combineObserved(
      own,
      entries.map((e) => e.observed),
    ),
    ...(drifted.length > 0 ? { drifted } : {}),
  };
}

/** After the file is rewritten: a service keepalived should have but the kernel lost is put back. */
export async function repairService(t: Transport, ipvs: IpvsClient, s: ServiceSpec): Promise<void> {
  const look = async () => ({ observed: await observeService(t, ipvs, s, true) });
  const { observed } = await settled(await look(), look, `virtual service ${serviceKeyText(s.cfg.key)} on ${t.label}`);
  if (observed.live === "missing") await repair(ipvs, serviceChange("add", s.cfg));
  await repairRealServers(t, ipvs, s.realServers ?? []);
}

/**
 * What `look` finds once keepalived has had time to apply a reload or a start (it does so after
 * the signal returns): fresh reads every 0.5 s for up to 3 s, until the live table is as expected.
 */
async function settled<T extends { observed: EngineObserved }>(
  first: T,
  look: () => Promise<T>,
  what: string,
): Promise<T> {
  const deadline = Date.now() + 3000;
  let found = first;
  if (found.observed.live !== "ok")
    say(`waiting up to 3 s for keepalived to settle ${what} (the kernel does not show it as configured yet)`);
  while (found.observed.live !== "ok" && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    found = await look();
  }
  return found;
}

/** Removes the service's file, its inline real servers first (drained together, for `drainSeconds`). */
export async function deleteService(t: Transport, ipvs: IpvsClient, s: ServiceSpec): Promise<void> {
  await removeRealServers(t, ipvs, s.realServers ?? [], s.drainSeconds ?? 0);
  await apply(t, [], [serviceFileOf(s.cfg.key)], { removeIfEmpty: [realServerDirOf(s.cfg.key)] });
}

// ---- real servers

export interface RealServerSpec {
  service: ServiceKey;
  cfg: RealServerConfig;
  healthCheck?: HealthCheck;
  inhibitOnFailure?: boolean;
}

function realServerFile(r: RealServerSpec): PersistedFile {
  return { path: realServerFileOf(r.service, r.cfg), content: renderRealServer(r) };
}

export async function applyRealServer(t: Transport, r: RealServerSpec): Promise<void> {
  await apply(t, [realServerFile(r)]);
}

/**
 * What the live table should hold for this real server: its configuration, weight 0 when its check
 * failed and it is inhibited, or nothing when its check failed (the last verdict keepalived wrote;
 * none after a reboot: keepalived starts a real server as up).
 */
function expectedLive(r: RealServerSpec, verdict: string | undefined): RealServerConfig | null {
  if (r.healthCheck && verdict === "DOWN") return r.inhibitOnFailure ? { ...r.cfg, weight: 0 } : null;
  return r.cfg;
}

/** The files and the live table of real servers, and what the table should hold (see expectedLive): one read. */
async function inspectRealServers(
  t: Transport,
  ipvs: IpvsClient,
  rs: readonly RealServerSpec[],
  fresh: boolean,
): Promise<Array<{ observed: EngineObserved; want: RealServerConfig | null }>> {
  const files = rs.map(realServerFile);
  const states = rs.map((r) => realServerStateFileOf(r.service, r.cfg));
  const [p, snap] = await Promise.all([
    readKeepalivedHost(t, [...files.map((f) => f.path), ...states]),
    ipvs.snapshot({ fresh }),
  ]);
  return rs.map((r, i) => {
    const want = expectedLive(r, p.files.get(states[i]!)?.trim());
    const svc = findService(snap.table, r.service);
    const have = svc && findRealServer(svc, r.cfg);
    let live: EngineObserved["live"] = "ok";
    if (want === null && have) live = "different";
    else if (want && !have) live = "missing";
    else if (want && have && (have.weight !== want.weight || have.forwarding !== want.forwarding)) live = "different";
    const config = fileState(p.files.get(files[i]!.path), files[i]!.content);
    return { observed: { config, live, keepalived: daemonState(p) }, want };
  });
}

const CONFIG_ORDER: EngineObserved["config"][] = ["ok", "changed", "missing"];
const LIVE_ORDER: EngineObserved["live"][] = ["ok", "different", "missing"];
const worst = <T>(order: T[], xs: T[]): T => order[Math.max(0, ...xs.map((x) => order.indexOf(x)))]!;

/** Several observations as one: the worst file state and the worst table state. */
export function combineObserved(first: EngineObserved, more: readonly EngineObserved[]): EngineObserved {
  const all = [first, ...more];
  return {
    config: worst(
      CONFIG_ORDER,
      all.map((o) => o.config),
    ),
    live: worst(
      LIVE_ORDER,
      all.map((o) => o.live),
    ),
    keepalived: first.keepalived,
  };
}

export async function observeRealServer(t: Transport, ipvs: IpvsClient, r: RealServerSpec): Promise<EngineObserved> {
  return (await inspectRealServers(t, ipvs, [r], false))[0]!.observed;
}

/**
 * After the files are rewritten: puts the kernel where keepalived should have the real servers
 * (their configuration, weight 0 when inhibited by a failed check, or out when their check failed).
 */
export async function repairRealServers(t: Transport, ipvs: IpvsClient, rs: readonly RealServerSpec[]): Promise<void> {
  if (rs.length === 0) return;
  const look = async () => {
    const items = await inspectRealServers(t, ipvs, rs, true);
    const [first, ...more] = items.map((i) => i.observed);
    return { items, observed: combineObserved(first!, more) };
  };
  const { items } = await settled(
    await look(),
    look,
    `${drainedText(
      rs[0]!.service,
      rs.map((r) => r.cfg),
    )} on ${t.label}`,
  );
  await Promise.all(
    items.map(({ observed, want }, i) => {
      const r = rs[i]!;
      if (observed.live === "ok") return undefined;
      return repair(
        ipvs,
        want === null
          ? realServerChange("delete", r.service, r.cfg)
          : realServerChange(observed.live === "missing" ? "add" : "edit", r.service, want),
      );
    }),
  );
}

/**
 * Removes real servers of one service from keepalived's configuration, together. With a drain
 * timeout (TCP, SCTP and fwmark services), they are first set to weight 0 and keepalived reloaded,
 * so they take no new connections, and their files are removed once their active connections reach
 * 0 or the timeout passes.
 */
export async function removeRealServers(
  t: Transport,
  ipvs: IpvsClient,
  rs: readonly RealServerSpec[],
  drainSeconds: number,
): Promise<void> {
  if (rs.length === 0) return;
  const service = rs[0]!.service;
  if (drains(service, drainSeconds)) {
    await apply(
      t,
      rs.map((r) => realServerFile({ ...r, cfg: { ...r.cfg, weight: 0 } })),
    );
    if (await carriesTraffic(t, service)) {
      const keys = rs.map((r) => r.cfg);
      await waitDrained(
        ipvs,
        service,
        keys,
        drainSeconds,
        undefined,
        undefined,
        drainReporter(drainedText(service, keys), t.label),
      );
    }
  }
  await apply(
    t,
    [],
    rs.flatMap((r) => [realServerFile(r).path, realServerStateFileOf(r.service, r.cfg)]),
  );
}

/**
 * Whether this director carries the service's traffic: it holds the service's VIP (the MASTER of a
 * pair). A BACKUP's connection entries are copies from the sync daemon, which it never sees end:
 * waiting for them would always last the whole drain timeout. A fwmark service has no VIP to tell.
 */
async function carriesTraffic(t: Transport, service: ServiceKey): Promise<boolean> {
  if (!("address" in service)) return true;
  const p = await readKeepalivedHost(t, []);
  return p.addresses.some((a) => a.address === service.address);
}

/**
 * One repair, through the IPVS client but not into pulumi-lvs's ledger (the rule is keepalived's).
 * keepalived may have made the same change meanwhile: "already exists" and "not found" are done.
 */
async function repair(ipvs: IpvsClient, change: Change): Promise<void> {
  await ensure(ipvs, change, { how: "repair" });
}

/** One kind of object the keepalived engine keeps (a service or a real server), as the resources use it. */
export interface KeepalivedObject<S> {
  /** Writes its file and reloads keepalived. */
  apply(t: Transport, ipvs: IpvsClient, s: S): Promise<void>;
  /** Its file, the live table and keepalived, compared with what they should be. */
  observe(t: Transport, ipvs: IpvsClient, s: S): Promise<EngineObserved>;
  /** After {@link apply}: puts back in the kernel what keepalived does not (rules deleted by hand). */
  repair(t: Transport, ipvs: IpvsClient, s: S): Promise<void>;
  /** Removes its file (a real server drained first, for `drainSeconds`). */
  remove(t: Transport, ipvs: IpvsClient, s: S, drainSeconds: number): Promise<void>;
}

export const keepalivedService: KeepalivedObject<ServiceSpec> = {
  apply: applyService,
  observe: (t, ipvs, s) => observeService(t, ipvs, s),
  repair: repairService,
  remove: (t, ipvs, s) => deleteService(t, ipvs, s),
};

export const keepalivedRealServer: KeepalivedObject<RealServerSpec> = {
  apply: (t, _ipvs, r) => applyRealServer(t, r),
  observe: observeRealServer,
  repair: (t, ipvs, r) => repairRealServers(t, ipvs, [r]),
  remove: (t, ipvs, r, drainSeconds) => removeRealServers(t, ipvs, [r], drainSeconds),
};
