import { sectionStart, splitSections } from "../../scripts/sections";
import { runScript, shellJoin, type Transport, TransportError } from "../../transport/transport";
import type { Change } from "../change";
import { IpvsError } from "../client";
import {
  abortRecord,
  appendScript,
  type LedgerEdit,
  ledgerEditOf,
  ledgerRecords,
  newTx,
  withLedgerFirst,
} from "../ledger";
import { argsOf, listServiceArgs, probeServiceArgs } from "../rules/words";
import { type ServiceKey, serviceKeyText } from "../types";
import { LIST_TIMEOUTS_ARGS, TIMEOUTS_LINE_START } from "./command";
import { objectText, parseListing } from "./listing";

export interface OpResult {
  code: number;
  /** stdout and stderr of the script, together. */
  output: string;
}

/**
 * One IPVS change as it is queued, everything derived from it once: ipvsadm's words (the command
 * line, the one-pass rule and the plain-word check all read them) and, when it is recorded, the
 * edit of the ledger and the id its records carry.
 */
export interface IpvsOp {
  change: Change;
  args: readonly string[];
  /** The command line, as it runs and as messages name it (`ipvsadm -a -t …`). */
  command: string;
  /** Absent: unrecorded (the ipvsadm command alone). */
  ledger?: { edit: LedgerEdit; tx: string };
}

/** The queued form of `change`, recorded in the ledger unless `record` is false. */
export function ipvsOp(change: Change, record = true): IpvsOp {
  const args = argsOf(change);
  const op: IpvsOp = { change, args, command: `ipvsadm ${shellJoin(args)}` };
  if (record) op.ledger = { edit: ledgerEditOf(change), tx: newTx() };
  return op;
}

/** One queued mutation: an IPVS change, or a shell script of its own (a ledger update). */
export type Mutation = { op: IpvsOp } | { script: string; what: string };

interface Item {
  m: Mutation;
  resolve: (r: OpResult) => void;
  reject: (e: unknown) => void;
}

/** A recorded IPVS op: the one-pass path can take it. */
const fastOf = (b: Item): RecordedOp | undefined => ("op" in b.m && b.m.op.ledger ? (b.m.op as RecordedOp) : undefined);

/** What a queued mutation is called in messages. */
const whatOf = (b: Item): string => ("op" in b.m ? b.m.op.command : b.m.what);

const OP = "#pulumi-lvs:op";
const FAST = "#pulumi-lvs:fast";
/** Mutations per round trip at most, one by one. */
const MAX_BATCH = 250;
/**
 * Mutations per round trip at most, in one pass (the ledger records and one `ipvsadm -R`, whatever
 * their number: an inline table of thousands of real servers is one round trip).
 */
const MAX_ONE_PASS = 10_000;

/**
 * How long a batch gathers mutations before its round trip: until none has come for
 * GATHER_QUIET_MS, GATHER_MAX_MS after the first at most. The engine sends the creates of one wave
 * over a few milliseconds (10 VirtualServices: the first alone, the nine others 16 ms later), and
 * each mutation that misses the batch costs the host a round trip of its own.
 */
const GATHER_QUIET_MS = 25;
const GATHER_MAX_MS = 250;

/**
 * Runs mutation scripts on a host in batches: one round trip, under the host's mutation lock, runs
 * every script queued since the previous one started (the first of them waits a little for more,
 * see GATHER_QUIET_MS). A transport failure fails every script of the batch (their outcome is unknown).
 *
 * Two ways to run a batch:
 * - **One pass** (two or more recorded IPVS mutations on distinct objects): the shell's printf
 *   appends every ledger record, then one `ipvsadm -R` reads the services the mutations touch, and
 *   only those ({@link touchedServices}), and applies every rule. Three processes per round trip,
 *   the shell, the ledger's flock (the prologue's) and ipvsadm, whatever the number of mutations.
 *   When ipvsadm -R says nothing, every rule was applied. When it complains (it goes on after a
 *   failed line), those services read again tell which mutations took effect; the others are
 *   cancelled in the ledger and run again one by one, which gives each its own exit status and
 *   message.
 * - **One by one**: each script between markers that carry its exit status and output.
 */
export class Batcher {
  private queue: Item[] = [];
  private scheduled = false;
  /** When the first and the last mutation of the batch being gathered were queued (ms). */
  private firstQueued = 0;
  private lastQueued = 0;

  /**
   * @param changed called before and after each round trip (the host's state changes)
   * @param prologue shell run once at the start of each round trip (asked anew for each); if it
   *   fails, no script runs and each gets its exit status and output
   * @param ledger the ledger file, which recorded ops write first
   * @param gatherMs how long a quiet queue is waited on before its round trip (GATHER_QUIET_MS; 0:
   *   only the mutations queued at once share one)
   */
  constructor(
    private readonly t: Transport,
    private readonly changed: () => void,
    private readonly prologue: () => string,
    private readonly ledger: string,
    private readonly gatherMs = GATHER_QUIET_MS,
  ) {}

  /** Queues a mutation; resolves with its own exit status and output. */
  run(m: Mutation): Promise<OpResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ m, resolve, reject });
      this.lastQueued = Date.now();
      if (!this.scheduled) {
        this.scheduled = true;
        this.firstQueued = this.lastQueued;
        this.gather();
      }
    });
  }

  /** Lets the mutations the engine sends together join this batch, then runs it. */
  private gather(): void {
    const wait = Math.min(this.lastQueued + this.gatherMs, this.firstQueued + GATHER_MAX_MS) - Date.now();
    if (wait > 0) setTimeout(() => this.gather(), wait);
    else setImmediate(() => void this.flush());
  }

  private async flush(): Promise<void> {
    // the connection open first (the first round trip of a deployment opens it, which takes a
    // while): what is queued meanwhile joins this batch
    const unreachable = await (this.t.ready?.() ?? Promise.resolve()).then(
      () => undefined,
      (e: unknown) => ({ e }),
    );
    await this.t.exclusive(async () => {
      this.scheduled = false;
      // IPVS mutations at the head of the queue go in one pass, up to MAX_ONE_PASS of them
      const slow = this.queue.findIndex((b) => !fastOf(b));
      const leading = slow === -1 ? this.queue.length : slow;
      const batch = this.queue.splice(0, leading >= 2 ? Math.min(leading, MAX_ONE_PASS) : MAX_BATCH);
      if (this.queue.length > 0) setImmediate(() => void this.flush());
      if (batch.length === 0) return;
      if (unreachable) {
        for (const b of batch) b.reject(forOne(unreachable.e, whatOf(b), this.t.label));
        return;
      }
      this.changed();
      try {
        const ops = batch.map(fastOf);
        if (batch.length >= 2 && onePassFits(ops)) await this.onePass(batch, ops);
        else await this.oneByOne(batch, (b) => this.scriptOf(b));
      } finally {
        this.changed();
      }
    });
  }

  /** A mutation as a script of its own: a recorded op writes the ledger first, and cancels it there when refused. */
  private scriptOf(b: Item): string {
    if (!("op" in b.m)) return b.m.script;
    const { op } = b.m;
    return op.ledger ? withLedgerFirst(this.ledger, op.ledger.edit, op.ledger.tx, op.command) : op.command;
  }

  /** Each script on its own, MAX_BATCH per round trip (each starts processes of its own: a round trip of thousands would not end in time). */
  private async oneByOne(batch: Item[], scriptOf: (b: Item) => string): Promise<void> {
    for (let i = 0; i < batch.length; i += MAX_BATCH) await this.oneByOneTrip(batch.slice(i, i + MAX_BATCH), scriptOf);
  }

  private async oneByOneTrip(batch: Item[], scriptOf: (b: Item) => string): Promise<void> {
    try {
      const body = batchScript(batch.map(scriptOf));
      const r = await runScript(this.t, this.withPrologue(body));
      const text = r.stdout + r.stderr;
      const results = parseBatch(text, batch.length);
      // nothing ran at all (sudo refused, no shell): each script failed the same way
      const none = !text.includes(OP);
      batch.forEach((b, i) => {
        const one = results[i];
        if (one) b.resolve(one);
        else if (none) b.resolve({ code: r.code || 1, output: text });
        else b.reject(this.stopped(batch.length, i, r.code, r.stderr || r.stdout));
      });
    } catch (e) {
      for (const b of batch) b.reject(forOne(e, whatOf(b), this.t.label));
    }
  }

  private async onePass(batch: Item[], ops: RecordedOp[]): Promise<void> {
    const ledger = this.ledger;
    const touched = touchedServices(ops);
    let out: OnePassOutput;
    try {
      const r = await runScript(this.t, this.withPrologue(onePassScript(ledger, ops, touched)));
      out = parseOnePass(touched, r.stdout, r.stderr);
    } catch (e) {
      for (const b of batch) b.reject(forOne(e, whatOf(b), this.t.label));
      return;
    }
    // each one that runs again is cancelled in the ledger first (when it was recorded at all)
    const again = (items: Item[], recorded: boolean) =>
      this.oneByOne(items, (b) =>
        recorded
          ? `${appendScript(ledger, [abortRecord(fastOf(b)!.ledger.tx)])} && { ${this.scriptOf(b)}\n}`
          : this.scriptOf(b),
      );
    if (!out.recorded || !out.before.reached) {
      // stopped before any rule was applied: one by one tells why
      await again(batch, out.recorded);
      return;
    }
    let outcomes: Outcome[] = ops.map(() => "applied");
    if (!out.clean) {
      // ipvsadm -R complained about some rules: the services they touch, read again, tell which took effect
      try {
        const r = await this.t.run(readScript(touched));
        const after = parseTouched(touched, r.stdout, r.stderr);
        if (!after.reached) throw new IpvsError(this.t.label, READ_WHAT, r.stderr.trim() || `exit ${r.code}`);
        outcomes = tookEffect(
          ops.map((o) => o.change),
          out.before,
          after,
        );
      } catch (e) {
        for (const b of batch) b.reject(forOne(e, whatOf(b), this.t.label));
        return;
      }
    }
    const failed: Item[] = [];
    batch.forEach((b, i) => {
      const outcome = outcomes[i];
      if (outcome === "applied") b.resolve({ code: 0, output: "" });
      else if (outcome === "refused") failed.push(b);
      else b.reject(this.unknownOutcome(whatOf(b), out.complaints));
    });
    if (failed.length > 0) await again(failed, true);
  }

  /** A mutation of a batch that ipvsadm -R complained about, whose service could not be probed. */
  private unknownOutcome(what: string, complaints: readonly string[]): IpvsError {
    return new IpvsError(
      this.t.label,
      what,
      `it ran in a batch that ipvsadm -R complained about (${complaints.join("; ").slice(0, 300)}), and whether its virtual service existed before could not be read`,
      "run pulumi up again: it reads the host anew",
    );
  }

  private withPrologue(body: string): string {
    const prologue = this.prologue();
    return prologue ? `${prologue} || exit $?\n${body}` : body;
  }

  private stopped(n: number, i: number, code: number, text: string): IpvsError {
    return new IpvsError(
      this.t.label,
      "(batch)",
      `the batch of ${n} commands stopped before command ${i + 1} (exit ${code}): ${text.trim().slice(-500)}`,
      "run pulumi up again; if it persists, run the command by hand on the host to see why",
    );
  }
}

/** A failure of the whole round trip, told for one of its commands. */
function forOne(e: unknown, what: string, host: string): unknown {
  if (!(e instanceof TransportError)) return e;
  if (e.kind === "connection-lost")
    return new TransportError(
      e.kind,
      host,
      `on ${host}: the connection was lost while running ${what}. It may or may not have run: run pulumi up again once the host is reachable.`,
    );
  if (e.kind === "timeout")
    return new TransportError(
      e.kind,
      host,
      `on ${host}: ${what} did not finish in time (${e.message}). It may or may not have run: check the host, then run pulumi up again.`,
    );
  return e;
}

/**
 * One shell script running `scripts` in order: script `i`'s output in section `i`, then a section
 * `rc i <status>` that carries its exit status.
 */
export function batchScript(scripts: string[]): string {
  return scripts.map((s, i) => `${sectionStart(OP, String(i))}\n{ ${s}\n} 2>&1\necho "${OP} rc ${i} $?"`).join("\n");
}

/** Splits what batchScript printed into each script's result. Missing results: the batch stopped early. */
export function parseBatch(text: string, n: number): Array<OpResult | undefined> {
  const sections = splitSections(text, OP);
  const codes = new Map<string, number>();
  for (const name of Object.keys(sections)) {
    const rc = /^rc (\d+) (\d+)$/.exec(name);
    if (rc) codes.set(rc[1]!, Number(rc[2]));
  }
  return Array.from({ length: n }, (_, i) => {
    const output = sections[String(i)];
    const code = codes.get(String(i));
    return output && code !== undefined ? { code, output: output.join("\n") } : undefined;
  });
}

/** The object an op changes, as text: `tcp/10.0.0.1:80` or `tcp/10.0.0.1:80 10.0.0.11:80`. */
function objectOf(op: Change): string {
  return objectText(op.service, op.rs);
}

/** An op recorded in the ledger (the one-pass path takes only those). */
export type RecordedOp = IpvsOp & { ledger: NonNullable<IpvsOp["ledger"]> };

/** Words ipvsadm -R reads as they are (it splits lines on blanks; no quoting needed or possible). */
const PLAIN_WORD = /^[A-Za-z0-9_.,:[\]/%+-]+$/;

/**
 * Whether a batch can run in one pass: every script is an IPVS mutation, no two touch the same
 * object, no service mutation shares its service with another mutation (their order would matter),
 * and every word and ledger line is plain.
 */
export function onePassFits(ops: Array<RecordedOp | undefined>): ops is RecordedOp[] {
  const objects = new Set<string>();
  const services = new Set<string>();
  const serviceLevel = new Set<string>();
  for (const o of ops) {
    if (!o) return false;
    if (!o.args.every((w) => PLAIN_WORD.test(w))) return false;
    const { edit } = o.ledger;
    if (edit.prefixes.some((p) => /[\\\n]/.test(p)) || edit.lines.some((l) => l.includes("\n"))) return false;
    const op = o.change;
    const obj = objectOf(op);
    const svc = serviceKeyText(op.service);
    if (objects.has(obj)) return false;
    if (serviceLevel.has(svc) || (!op.rs && services.has(svc))) return false;
    objects.add(obj);
    services.add(svc);
    if (!op.rs) serviceLevel.add(svc);
  }
  return true;
}

/**
 * What a one-pass batch reads of the table, before its rules and, when ipvsadm -R complained, again
 * after them: the services its mutations touch, nothing else.
 */
export interface TouchedServices {
  /**
   * The services of service mutations (add, edit, delete), in order: probed, which tells whether
   * each exists (a service to add is not there yet, and listing a missing service stops ipvsadm -R).
   */
  probed: ServiceKey[];
  /** The services whose real servers the mutations change: listed with their real servers. */
  listed: ServiceKey[];
}

/** The services a batch's mutations touch (no two mutations of a one-pass batch touch one service both ways). */
export function touchedServices(ops: readonly IpvsOp[]): TouchedServices {
  const probed: ServiceKey[] = [];
  const listed = new Map<string, ServiceKey>();
  for (const { change } of ops) {
    if (change.rs) listed.set(serviceKeyText(change.service), change.service);
    else probed.push(change.service);
  }
  return { probed, listed: [...listed.values()] };
}

/**
 * What ipvsadm answers to a probe (rules/words.ts, probeServiceArgs), captured from ipvsadm 1.31:
 * the delete of a real server that cannot exist finds the service, or does not.
 */
const PROBE_ANSWERS: Record<string, boolean> = { "No such destination": true, "Service not defined": false };

/** The line that starts ipvsadm's own standard error (what the shell printed before is not its). */
const ERRORS = `${FAST} errors`;

/** What messages call the read of the touched services. */
const READ_WHAT = "ipvsadm -R (the services of the batch)";

/**
 * The lines of ipvsadm -R that read the touched services: the probes (each answers on standard
 * error, one line, in order), the listings, then `-L -n --timeout`, whose line is the sign that
 * ipvsadm read them all (a listed service that is missing stops it there, before any rule).
 */
function readLines(t: TouchedServices): string[] {
  return [...t.probed.map(probeServiceArgs), ...t.listed.map(listServiceArgs), LIST_TIMEOUTS_ARGS].map((w) =>
    w.join(" "),
  );
}

/** The shell that runs one ipvsadm -R on `lines`, its standard error marked where ipvsadm's starts. */
function ipvsadmRestore(lines: readonly string[]): string[] {
  return [`echo '${ERRORS}' >&2`, `ipvsadm -R <<'PULUMI_LVS_RULES'`, ...lines, "PULUMI_LVS_RULES"];
}

/** The script that reads the touched services (after a batch that ipvsadm -R complained about). */
export function readScript(t: TouchedServices): string {
  return ipvsadmRestore(readLines(t)).join("\n");
}

/**
 * The one-pass script: the shell's printf appends every ledger record (each op's, with its tx),
 * then one ipvsadm -R reads the touched services ({@link readLines}) and applies the rules. It
 * prints `#pulumi-lvs:fast recorded`, then ipvsadm's output, then `#pulumi-lvs:fast rc <status>`;
 * ipvsadm's standard error (the probes' answers, then its complaints) follows a line
 * `#pulumi-lvs:fast errors` there.
 *
 * The ledger is written first, as for single mutations: a round trip cut short leaves the ledger
 * claiming at most what the kernel may have.
 */
export function onePassScript(ledger: string, ops: RecordedOp[], touched = touchedServices(ops)): string {
  const records = ops.flatMap((o) => ledgerRecords(o.ledger.edit, o.ledger.tx));
  return [
    `${appendScript(ledger, records)} || exit $?`,
    `echo '${FAST} recorded'`,
    ...ipvsadmRestore([...readLines(touched), ...ops.map((o) => o.args.join(" "))]),
    `echo "${FAST} rc $?"`,
  ].join("\n");
}

/** Objects of the table as a read saw them: {@link objectText} → their state as listed; a probed service that exists is {@link PRESENT}. */
export type Seen = ReadonlyMap<string, string>;

/** The state of a probed service that exists (a probe tells nothing more). */
const PRESENT = "(present)";

/** What ipvsadm -R printed for the reads of the touched services. */
export interface TouchedState {
  /** ipvsadm got past the reads: every listed service was there, and what it saw is whole. */
  reached: boolean;
  /** The touched services and their real servers that exist. */
  seen: Seen;
  /** Probed services whose probe answered neither way ({@link objectText}): whether they exist is unknown. */
  unknown: ReadonlySet<string>;
  /** What ipvsadm said on standard error besides the probes' answers: its complaints about the rules. */
  complaints: string[];
}

/**
 * Reads what ipvsadm -R printed for {@link readLines} (and, in a one pass, the rules after them).
 * @param stdout its standard output (from the listings on; what follows the timeouts' line is not read)
 * @param stderr the script's standard error: ipvsadm's follows the line {@link ERRORS}
 */
export function parseTouched(t: TouchedServices, stdout: string, stderr: string): TouchedState {
  const printed = stdout.split("\n");
  const marker = printed.findIndex((l) => l.startsWith(TIMEOUTS_LINE_START));
  const reached = marker >= 0;
  const seen = new Map(reached ? parseListing(printed.slice(0, marker).join("\n")) : []);
  const lines = stderr.split("\n");
  const start = lines.indexOf(ERRORS);
  const errors = (start < 0 ? [] : lines.slice(start + 1)).map((l) => l.trim()).filter((l) => l !== "");
  const unknown = new Set<string>();
  t.probed.forEach((k, i) => {
    const answer = PROBE_ANSWERS[errors[i] ?? ""];
    if (answer === undefined) unknown.add(objectText(k));
    else if (answer) seen.set(objectText(k), PRESENT);
  });
  return { reached, seen, unknown, complaints: errors.slice(t.probed.length) };
}

export interface OnePassOutput {
  /** The ledger records were appended. */
  recorded: boolean;
  /** The touched services before the rules; `reached`: ipvsadm -R got to the rules. */
  before: TouchedState;
  /** ipvsadm -R complained about no rule and exited 0: every rule took effect. */
  clean: boolean;
  /** What it complained about. */
  complaints: string[];
}

/** Reads what {@link onePassScript} printed. */
export function parseOnePass(t: TouchedServices, stdout: string, stderr: string): OnePassOutput {
  const sections = splitSections(stdout, FAST);
  const rcName = Object.keys(sections).find((k) => k.startsWith("rc "));
  const rc = rcName === undefined ? undefined : Number(rcName.slice(3));
  const before = parseTouched(t, (sections.recorded ?? []).join("\n"), stderr);
  return {
    recorded: "recorded" in sections,
    before,
    clean: before.reached && rc === 0 && before.complaints.length === 0,
    complaints: before.complaints,
  };
}

/**
 * What became of each mutation of a batch that ipvsadm -R complained about: `applied`, `refused`
 * (it runs again on its own, which gives it its own message), or `unknown` (its service's probe
 * answered neither way).
 */
export type Outcome = "applied" | "refused" | "unknown";

/**
 * Which mutations took effect, from the touched services before and after the batch. Unsure (an
 * edit that left the object as it was: maybe refused, maybe a no-op, or changing only what the
 * listing does not show; any edit of a service, which is only probed) counts as refused: it runs
 * again on its own, which is harmless for an edit.
 */
export function tookEffect(ops: Change[], before: TouchedState, after: TouchedState): Outcome[] {
  return ops.map((op) => {
    const service = objectText(op.service);
    if (before.unknown.has(service) || after.unknown.has(service)) return "unknown";
    const obj = objectOf(op);
    const was = before.seen.get(obj);
    const is = after.seen.get(obj);
    const applied =
      op.kind === "add"
        ? was === undefined && is !== undefined && (!op.rs || before.seen.has(service))
        : op.kind === "delete"
          ? was !== undefined && is === undefined
          : was !== undefined && is !== undefined && was !== PRESENT && was !== is;
    return applied ? "applied" : "refused";
  });
}
