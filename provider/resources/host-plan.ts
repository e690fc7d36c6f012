/**
 * The engine behind the host resources (Director, RealServerHost): a plan of kernel settings,
 * addresses and files; applied in one round trip; the values it replaces recorded so that delete
 * restores exactly those, and only those.
 */
import {
  addAddressCommand,
  addressText,
  announceCommand,
  announceFunction,
  deleteAddressCommand,
  hasAddress,
  type InterfaceAddress,
} from "../host/addresses";
import { LIST_LINKS } from "../host/iproute";
import { modprobeOrExit } from "../host/modules";
import { DAEMON_RELOAD, type PersistedFile, removeFilesScript, writeFilesScript } from "../host/persist";
import {
  type HostFacts,
  type HostObject,
  hasObject,
  type ListingKind,
  objectKey,
  parseProbe,
  probeScript,
} from "../host/probe";
import { type Sysctl, sysctlNamed, sysctlsIfPresentLines, writeSysctlsScript } from "../host/sysctl";
import type { IpvsTimeouts } from "../ipvs/client";
import { setTimeoutsArgs } from "../ipvs/ipvsadm/command";
import { sectionStart, splitSections } from "../scripts/sections";
import { CommandError, privilegeRemedy, runScript, shellJoin, type Transport } from "../transport/transport";

export interface HostPlan {
  modules: string[];
  /** Written in this order (e.g. ARP settings before any VIP is added). */
  sysctls: Array<[Sysctl, string]>;
  addresses: InterfaceAddress[];
  /** Kernel objects beside the addresses (devices up, GUE receive ports, rules), added after the sysctls, before the addresses. */
  objects?: HostObject[];
  /** Addresses to announce with a gratuitous ARP once added. */
  announce: InterfaceAddress[];
  /** IPVS timeouts (ipvsadm --set); 0 leaves one unchanged. */
  timeouts?: IpvsTimeouts;
  /** Files written when the resource persists its settings. */
  files: PersistedFile[];
  /** Every file the resource may own (removed when not persisted, and on delete). */
  ownedFiles: string[];
  /** Where the host keeps this resource's {@link Journal} (removed on delete). */
  journal: string;
}

/**
 * What the plan adds and delete takes away, addresses and objects alike: a key (in the baseline,
 * the journal and the state), whether the host has it, and the commands.
 */
interface Item {
  key: string;
  /** A device brought up: in the state's `links`, not its `addresses`. */
  link?: string;
  present(facts: HostFacts): boolean;
  add: string;
  remove: string;
}

function itemsOf(plan: Pick<HostPlan, "addresses" | "objects">): Item[] {
  return [
    ...(plan.objects ?? []).map((o) => ({
      key: objectKey(o),
      ...(o.kind === "link" ? { link: o.name } : {}),
      present: (f: HostFacts) => hasObject(f, o),
      add: o.add,
      remove: o.remove,
    })),
    ...plan.addresses.map((a) => ({
      key: addressKey(a),
      present: (f: HostFacts) => hasAddress(f.addresses, a),
      add: addAddressCommand(a),
      remove: deleteAddressCommand(a),
    })),
  ];
}

/** The listings a plan's objects are read from. */
function listingsOf(plan: Pick<HostPlan, "objects">): ListingKind[] {
  return [...new Set((plan.objects ?? []).flatMap((o) => (o.kind === "link" ? [] : [o.kind])))];
}

/**
 * The baseline as the host itself keeps it, written before any change is made: the values recorded
 * so far, and every address pulumi-lvs has planned. An apply cut half-way (a power cut, a lost SSH
 * connection) leaves changes that the stack's state never recorded; the rerun reads this, so that a
 * VIP it added or a sysctl it set counts as its own (to remove, or to put back), not as the host's.
 */
interface Journal extends Baseline {
  planned: string[];
}

/** Where the host keeps the journal of a resource kind (one Director, one RealServerHost a host). */
export function journalPath(kind: "director" | "realserver"): string {
  return `/var/lib/pulumi-lvs/${kind}.baseline`;
}

function parseJournal(text: string | undefined): Journal | undefined {
  if (!text) return undefined;
  try {
    const j = JSON.parse(text) as Partial<Journal>;
    if (typeof j.sysctls === "object" && j.sysctls && Array.isArray(j.addresses) && Array.isArray(j.planned))
      return j as Journal;
  } catch {
    // a journal cut short: only the state's record is left to go by
  }
  return undefined;
}

/** What the host had before pulumi-lvs changed it: restored on delete. */
export interface Baseline {
  /** Previous value of each sysctl pulumi-lvs set (null: the parameter did not exist). */
  sysctls: Record<string, string | null>;
  /**
   * Keys of the planned addresses (`addr/prefix dev`) and objects (`kind: line`) that already
   * existed (not ours to remove).
   */
  addresses: string[];
}

export function addressKey(a: InterfaceAddress): string {
  return `${addressText(a)} dev ${a.device}`;
}

export async function readHostFacts(
  t: Transport,
  plan: Pick<HostPlan, "sysctls" | "files" | "ownedFiles" | "objects">,
  timeouts = false,
): Promise<HostFacts> {
  const r = await t.run(
    probeScript({
      sysctls: plan.sysctls.map(([s]) => s),
      files: plan.ownedFiles,
      timeouts,
      listings: listingsOf(plan),
    }),
  );
  if (r.code !== 0) throw new CommandError(t.label, "read host settings", r);
  return factsOf(t.label, r.stdout);
}

/**
 * The probe's facts. A host whose `ip` printed no interface at all (not even lo) cannot be read:
 * its iproute2 predates JSON output (`ip -j`, 4.13), and planning on no addresses would be wrong.
 */
function factsOf(host: string, stdout: string): HostFacts {
  const facts = parseProbe(stdout);
  if (facts.links.size === 0)
    throw new Error(
      `on ${host}: \`${LIST_LINKS}\` listed no interface, so the host's addresses cannot be read. What to do: install iproute2 4.13 or later (pulumi-lvs reads ip's JSON output); \`pulumi-lvs doctor\` checks it`,
    );
  return facts;
}

/**
 * Loads the plan's modules (their sysctls exist only then), then records the current values of
 * what the plan will change, keeping values recorded earlier (the first recorded value wins): in
 * the stack's state, or in the host's journal of an apply that did not finish.
 */
export async function captureBaseline(
  t: Transport,
  plan: HostPlan,
  earlier?: { baseline: Baseline; plannedAddresses: string[] },
): Promise<Journal> {
  const r = await t.run(
    `${modprobeOrExit(plan.modules)}\n${probeScript({ sysctls: plan.sysctls.map(([s]) => s), files: [plan.journal], listings: listingsOf(plan) })}`,
  );
  if (r.code !== 0) throw new CommandError(t.label, "load modules and read host settings", r, moduleRemedy(r.stderr));
  const facts = factsOf(t.label, r.stdout);
  const journal = parseJournal(facts.files.get(plan.journal));
  const sysctls: Record<string, string | null> = { ...journal?.sysctls, ...earlier?.baseline.sysctls };
  for (const [s] of plan.sysctls) if (!(s.name in sysctls)) sysctls[s.name] = facts.sysctls.get(s.name) ?? null;
  const addresses = new Set([...(journal?.addresses ?? []), ...(earlier?.baseline.addresses ?? [])]);
  const planned = new Set([...(journal?.planned ?? []), ...(earlier?.plannedAddresses ?? [])]);
  const items = itemsOf(plan);
  for (const i of items) {
    // present now, and not because pulumi-lvs added it earlier: it was the host's own
    const ours = planned.has(i.key) && !addresses.has(i.key);
    if (!ours && i.present(facts)) addresses.add(i.key);
  }
  for (const i of items) planned.add(i.key);
  return { sysctls, addresses: [...addresses].sort(), planned: [...planned].sort() };
}

/** The mark of the apply's sections: what it printed of its announcements is in `announce`. */
export const APPLY_MARK = "#pulumi-lvs:apply";

/**
 * Applies the plan in one round trip, the host's journal of the baseline written first.
 * @returns one line per announced address (announced, or why not).
 */
export async function applyPlan(t: Transport, plan: HostPlan, persist: boolean, journal: Journal): Promise<string[]> {
  const script = [
    "set -e",
    writeFilesScript([{ path: plan.journal, content: JSON.stringify(journal) }]),
    modprobeOrExit(plan.modules),
    plan.timeouts ? setTimeoutsCommand(plan.timeouts) : ":",
    writeSysctlsScript(plan.sysctls),
    ...itemsOf(plan).map((i) => i.add),
    sectionStart(APPLY_MARK, "announce"),
    ...(plan.announce.length > 0 ? [announceFunction()] : []),
    ...plan.announce.map(announceCommand),
    persist
      ? `${removeFilesScript(unplannedFiles(plan))}\n${writeFilesScript(plan.files)}`
      : removeFilesScript(plan.ownedFiles),
  ].join("\n");
  const r = await t.exclusive(() => runScript(t, script));
  if (r.code !== 0)
    throw new CommandError(t.label, "apply host settings", r, moduleRemedy(r.stderr) ?? privilegeRemedy(r.stderr));
  return (splitSections(r.stdout, APPLY_MARK).announce ?? []).map((l) => l.trim()).filter(Boolean);
}

/** Owned files the plan does not write (a unit for VIPs no longer declared): removed when persisting. */
function unplannedFiles(plan: HostPlan): string[] {
  const planned = new Set(plan.files.flatMap((f) => (f.enableLink ? [f.path, f.enableLink] : [f.path])));
  return plan.ownedFiles.filter((p) => !planned.has(p));
}

/**
 * Puts back what the baseline recorded for `sysctls` and removes `addresses` that were not there
 * before; removes `files`. Used by delete (everything) and by update (what is no longer planned).
 */
export async function revert(
  t: Transport,
  baseline: Baseline,
  what: { sysctls: string[]; items: Item[]; files: string[] },
): Promise<void> {
  const restore: Array<[Sysctl, string]> = [];
  for (const name of what.sysctls) {
    const v = baseline.sysctls[name];
    if (v !== null && v !== undefined) restore.push([sysctlNamed(name), v]);
  }
  const script = [
    ...what.items.filter((i) => !baseline.addresses.includes(i.key)).map((i) => i.remove),
    // a parameter that disappeared (its module unloaded, its interface gone) has nothing to restore
    ...sysctlsIfPresentLines(restore),
    removeFilesScript(what.files),
    DAEMON_RELOAD,
  ].join("\n");
  const r = await t.exclusive(() => runScript(t, script));
  if (r.code !== 0) throw new CommandError(t.label, "restore host settings", r);
}

function moduleRemedy(stderr: string): string | undefined {
  if (/cannot load kernel modules|modprobe/i.test(stderr)) {
    return "the kernel modules are not available on that host: install its kernel's modules package (e.g. linux-modules-extra-$(uname -r) on Ubuntu) or check `modprobe ip_vs` there";
  }
  return undefined;
}

/** The command that sets the IPVS timeouts, in the apply and in the Director's boot script alike. */
export function setTimeoutsCommand(t: IpvsTimeouts): string {
  return shellJoin(["ipvsadm", ...setTimeoutsArgs(t)]);
}

/** What a host resource observes of what it manages; compared with {@link expectedState} to find drift. */
export interface HostState {
  sysctls: Record<string, string | null>;
  modules: string[];
  addresses: string[];
  links: string[];
  persisted: boolean;
  /** Spelled as Pulumi's state has always had it (`tcpfin`): see {@link stateTimeouts}. */
  timeouts?: StateTimeouts;
}

/** The timeouts as the state records them: `tcpfin`, as the stacks' stored state spells it. */
interface StateTimeouts {
  tcp: number;
  tcpfin: number;
  udp: number;
}

/** The state's spelling of the timeouts, the one place it is written. */
function stateTimeouts(t: IpvsTimeouts): StateTimeouts {
  return { tcp: t.tcp, tcpfin: t.tcpFin, udp: t.udp };
}

export function expectedState(plan: HostPlan, persist: boolean): HostState {
  const items = itemsOf(plan);
  const s: HostState = {
    sysctls: Object.fromEntries(plan.sysctls.map(([k, v]) => [k.name, v])),
    modules: [...plan.modules].sort(),
    addresses: items
      .filter((i) => !i.link)
      .map((i) => i.key)
      .sort(),
    links: items.flatMap((i) => (i.link ? [i.link] : [])).sort(),
    persisted: persist,
  };
  if (plan.timeouts) s.timeouts = stateTimeouts(plan.timeouts);
  return s;
}

export function observedState(plan: HostPlan, persist: boolean, facts: HostFacts): HostState {
  const items = itemsOf(plan).filter((i) => i.present(facts));
  const filesOk = plan.files.every((f) => (facts.files.get(f.path) ?? "").trim() === f.content.trim());
  const anyFile = plan.ownedFiles.some((p) => facts.files.has(p));
  const s: HostState = {
    sysctls: Object.fromEntries(plan.sysctls.map(([k]) => [k.name, facts.sysctls.get(k.name) ?? null])),
    modules: plan.modules.filter((m) => facts.modules.has(m)).sort(),
    addresses: items
      .filter((i) => !i.link)
      .map((i) => i.key)
      .sort(),
    links: items.flatMap((i) => (i.link ? [i.link] : [])).sort(),
    persisted: persist ? filesOk : anyFile,
  };
  if (plan.timeouts) {
    const live = facts.timeouts ?? { tcp: 0, tcpFin: 0, udp: 0 };
    s.timeouts = stateTimeouts({
      tcp: plan.timeouts.tcp ? live.tcp : 0,
      tcpFin: plan.timeouts.tcpFin ? live.tcpFin : 0,
      udp: plan.timeouts.udp ? live.udp : 0,
    });
  }
  return s;
}

/**
 * What the host has that differs from the plan, each setting by name with both values: empty when
 * applying the plan would change nothing live (what `adopt: "exact"` requires). The files a
 * resource persists are not compared (they are pulumi-lvs's own).
 */
export function hostDifferences(plan: HostPlan, facts: HostFacts): string[] {
  const want = expectedState(plan, false);
  const have = observedState(plan, false, facts);
  const value = (v: string | null | undefined) => (v === null || v === undefined ? "no such parameter" : v);
  const out: string[] = [];
  for (const [name, w] of Object.entries(want.sysctls))
    if (have.sysctls[name] !== w)
      out.push(`sysctl ${name}: the host has ${value(have.sysctls[name])}, the program declares ${w}`);
  out.push(...want.modules.filter((m) => !have.modules.includes(m)).map((m) => `module ${m}: not loaded`));
  for (const i of itemsOf(plan).filter((x) => !x.present(facts)))
    out.push(
      i.link ? `device ${i.link}: not up` : `${i.key.includes(": ") ? i.key : `address ${i.key}`}: not on the host`,
    );
  if (want.timeouts && have.timeouts)
    for (const k of ["tcp", "tcpfin", "udp"] as const)
      if (want.timeouts[k] !== have.timeouts[k])
        out.push(`IPVS timeout ${k}: the host has ${have.timeouts[k]} s, the program declares ${want.timeouts[k]} s`);
  return out;
}

/**
 * The plan a take-over as it is (`adopt: "exact"`) applies: it fails, naming each difference,
 * unless the host already has every setting of `plan`; then it leaves out of `applied` (the plan
 * as the host's script applies it, default `plan`) the addresses and
 * objects the host has (an `ip addr replace` would reset an address's lifetimes) and the
 * announcements, so that applying it writes only values the host already has. The baseline then
 * records those addresses as the host's own: delete leaves them, as it found them.
 */
export function takeOverPlan(
  host: string,
  subject: string,
  plan: HostPlan,
  facts: HostFacts,
  applied: HostPlan = plan,
): HostPlan {
  const diffs = hostDifferences(plan, facts);
  if (diffs.length > 0)
    throw new Error(
      `on ${host}: adopt: "exact": ${subject} are not as the program declares them, so they were not taken over and nothing was changed:\n` +
        `${diffs.map((d) => `  - ${d}`).join("\n")}\n` +
        "What to do: make the program declare what the host has (or run pulumi-lvs import again), or remove adopt to take them over and set them as declared",
    );
  return {
    ...applied,
    addresses: applied.addresses.filter((a) => !hasAddress(facts.addresses, a)),
    ...(applied.objects ? { objects: applied.objects.filter((o) => !hasObject(facts, o)) } : {}),
    announce: [],
  };
}

const NO_BASELINE: Baseline = { sysctls: {}, addresses: [] };

/**
 * Creates a host resource's settings: records the baseline of `plan`, then applies `applied` (the
 * plan itself, or what a take-over leaves of it: {@link takeOverPlan}).
 */
export async function createHost(
  t: Transport,
  plan: HostPlan,
  persist: boolean,
  applied: HostPlan = plan,
): Promise<{ baseline: Baseline; announced: string[] }> {
  const journal = await captureBaseline(t, plan);
  const announced = await applyPlan(t, applied, persist, journal);
  return { baseline: { sysctls: journal.sysctls, addresses: journal.addresses }, announced };
}

/**
 * Moves a host from `oldPlan` to `plan`: records the baseline of what is newly managed, applies the
 * new plan, and puts back what the old plan set and the new one no longer does.
 */
export async function updateHost(
  t: Transport,
  oldPlan: HostPlan,
  plan: HostPlan,
  earlier: Baseline | undefined,
  persist: boolean,
): Promise<{ baseline: Baseline; announced: string[] }> {
  const journal = await captureBaseline(t, plan, {
    baseline: earlier ?? NO_BASELINE,
    plannedAddresses: itemsOf(oldPlan).map((i) => i.key),
  });
  const announced = await applyPlan(t, plan, persist, journal);
  const baseline: Baseline = { sysctls: journal.sysctls, addresses: journal.addresses };
  const keep = new Set(plan.sysctls.map(([s]) => s.name));
  const dropped = oldPlan.sysctls.map(([s]) => s.name).filter((n) => !keep.has(n));
  const keepAddr = new Set(itemsOf(plan).map((i) => i.key));
  const droppedItems = itemsOf(oldPlan).filter((i) => !keepAddr.has(i.key));
  if (dropped.length > 0 || droppedItems.length > 0) {
    await revert(t, baseline, { sysctls: dropped, items: droppedItems, files: [] });
  }
  for (const n of dropped) delete baseline.sysctls[n];
  baseline.addresses = baseline.addresses.filter((a) => keepAddr.has(a));
  return { baseline, announced };
}

/** Deletes a host resource's settings: everything the plan set goes back to the baseline. */
export function deleteHost(t: Transport, plan: HostPlan, baseline: Baseline | undefined): Promise<void> {
  return revert(t, baseline ?? NO_BASELINE, {
    sysctls: plan.sysctls.map(([s]) => s.name),
    items: itemsOf(plan),
    files: [...plan.ownedFiles, plan.journal],
  });
}
