import { shellScript } from "../../scripts";
import { splitSections } from "../../scripts/sections";
import { privilegeRemedy, shellJoin, type Transport } from "../../transport/transport";
import type { Change } from "../change";
import {
  IpvsAlreadyExistsError,
  type IpvsClient,
  IpvsError,
  IpvsNotFoundError,
  type IpvsTimeouts,
  type Snapshot,
  SnapshotCache,
  type SnapshotOptions,
  scopedSnapshot,
} from "../client";
import {
  appendScript,
  type Compaction,
  LEDGER,
  LEDGER_REMEDY,
  type LedgerEdit,
  ledgerEditOf,
  ledgerPrologue,
  ledgerRecords,
  newTx,
  readJournal,
  tableOfRules,
} from "../ledger";
import { parseRules } from "../rules/parse";
import { serviceArgs } from "../rules/words";
import type { IpvsTable, ServiceKey } from "../types";
import { Batcher, type IpvsOp, ipvsOp } from "./batch";
import { LIST_TIMEOUTS_ARGS, parseTimeoutsListing, READ_TIMEOUTS, setTimeoutsArgs } from "./command";
import { rulesOfTunInfoListing } from "./listing";
import { mergeThresholds, parseThresholds } from "./thresholds";

const SECTION = "#pulumi-lvs:section";

/** One round trip: the rules and the thresholds (one ipvsadm), and the ledger. Loads nothing, changes nothing. */
export const snapshotCommand = (ledger: string) => shellScript("ipvs-snapshot.sh", [ledger]);

/** One round trip: the listings of some services, and the ledger. Loads nothing, changes nothing. */
export const serviceSnapshotCommand = (ledger: string, services: readonly ServiceKey[]) =>
  shellScript("ipvs-service-snapshot.sh", [ledger, ...services.map((k) => serviceArgs(k).join(" "))]);

/**
 * The ipvsadm(8) implementation of {@link IpvsClient}: builds command lines, runs them through a
 * transport (SSH or local), and parses what ipvsadm prints.
 */
export class IpvsadmClient implements IpvsClient {
  private readonly cache = new SnapshotCache((services) =>
    services ? this.readServices(services) : this.readSnapshot(),
  );

  private readonly batcher: Batcher;
  /** The journal read last had grown well past the rules it holds: the next round trip compacts it. */
  private compaction?: Compaction;

  /**
   * @param ledger where the host keeps the ledger (tests point it elsewhere)
   * @param opts.gatherMs how long a mutation waits for others to share its round trip (default
   *   25 ms; 0: only those requested at once)
   */
  constructor(
    private readonly t: Transport,
    private readonly ledger = LEDGER,
    opts: { gatherMs?: number } = {},
  ) {
    this.batcher = new Batcher(
      t,
      () => {
        this.cache.invalidate();
      },
      () => this.prologue(),
      ledger,
      opts.gatherMs,
    );
  }

  /** What each mutation round trip starts with: the ledger there, locked, and compacted when it is due. */
  private prologue(): string {
    const compaction = this.compaction;
    this.compaction = undefined;
    return ledgerPrologue(this.ledger, compaction);
  }

  get host(): string {
    return this.t.label;
  }

  snapshot(opts?: SnapshotOptions): Promise<Snapshot> {
    return this.cache.get(opts);
  }

  private async readSnapshot(): Promise<Snapshot> {
    const r = await this.t.run(snapshotCommand(this.ledger));
    if (r.code !== 0) throw this.readError(r);
    const sections = splitSections(r.stdout, SECTION);
    const text = (name: string) => (sections[name] ?? []).join("\n");
    const loaded = !("not-loaded" in sections);
    // one ipvsadm printed both: the rules, then the listing from its version line on
    const printed = sections[""] ?? [];
    const listing = printed.findIndex((l) => l.startsWith("IP Virtual Server version"));
    const rules = listing < 0 ? printed : printed.slice(0, listing);
    const table = loaded ? parseRules(rules.join("\n")) : { services: [] };
    if (loaded) mergeThresholds(table, parseThresholds(listing < 0 ? "" : printed.slice(listing).join("\n")));
    return { table, owned: this.ownedOf(text("ledger")), loaded };
  }

  /**
   * A snapshot of some services (ipvs-service-snapshot.sh): each service's listings read as the
   * rules ipvsadm -S would save (ipvsadm/listing.ts), the ledger's part for them. At 10,000 real
   * servers in 10 services, a tenth of what a whole snapshot makes ipvsadm print.
   */
  private async readServices(services: readonly ServiceKey[]): Promise<Snapshot> {
    const r = await this.t.run(serviceSnapshotCommand(this.ledger, services));
    if (r.code !== 0) throw this.readError(r);
    const sections = splitSections(r.stdout, SECTION);
    const loaded = !("not-loaded" in sections);
    const table: IpvsTable = { services: [] };
    for (const k of services) {
      const printed = sections[`service ${serviceArgs(k).join(" ")}`] ?? [];
      // one ipvsadm printed both listings, each from its column headings (a listing of one service
      // has no version line)
      const headings = printed.flatMap((l, i) => (l.startsWith("Prot ") ? [i] : []));
      if (headings.length < 2) continue;
      const second = headings[1]!;
      const one = parseRules(rulesOfTunInfoListing(printed.slice(0, second).join("\n")));
      mergeThresholds(one, parseThresholds(printed.slice(second).join("\n")));
      table.services.push(...one.services);
    }
    const owned = this.ownedOf((sections.ledger ?? []).join("\n"));
    return scopedSnapshot({ table, owned, loaded }, services);
  }

  /** The journal replayed once: the rules owned, and whether it has outgrown them. */
  private ownedOf(ledger: string): IpvsTable {
    const { rules, compaction } = readJournal(ledger);
    this.compaction = compaction;
    return tableOfRules(rules);
  }

  /** Why a snapshot could not be read, with what to do. */
  private readError(r: { code: number; stdout: string; stderr: string }): IpvsError {
    const missing = r.code === 127 || /not found/.test(r.stderr);
    return new IpvsError(
      this.host,
      "ipvsadm -S -n",
      (r.stderr || r.stdout).trim() || `exit ${r.code}`,
      missing
        ? "install ipvsadm on the director (Debian/Ubuntu: apt-get install ipvsadm; RHEL: dnf install ipvsadm)"
        : privilegeRemedy(r.stderr),
    );
  }

  async apply(change: Change): Promise<void> {
    await this.mutate(ipvsOp(change));
  }

  async applyUnrecorded(change: Change): Promise<void> {
    await this.mutate(ipvsOp(change, false));
  }

  async record(changes: readonly Change[]): Promise<void> {
    if (changes.length === 0) return;
    const records = changes.flatMap((c) => ledgerRecords(ledgerEditOf(c), newTx()));
    const r = await this.batcher.run({ script: appendScript(this.ledger, records), what: "the ledger update" });
    if (r.code !== 0)
      throw new IpvsError(this.host, `write ${this.ledger}`, r.output.trim() || `exit ${r.code}`, LEDGER_REMEDY);
  }

  async timeouts(): Promise<IpvsTimeouts | undefined> {
    const command = `ipvsadm ${shellJoin(LIST_TIMEOUTS_ARGS)}`;
    const r = await this.t.run(READ_TIMEOUTS);
    if (r.code !== 0)
      throw new IpvsError(this.host, command, r.stderr.trim() || `exit ${r.code}`, remedyFor(r.stderr, r.code));
    return parseTimeoutsListing(r.stdout);
  }

  async setTimeouts(t: IpvsTimeouts): Promise<void> {
    const command = `ipvsadm ${shellJoin(setTimeoutsArgs(t))}`;
    const r = await this.t.exclusive(() => this.t.run(command));
    if (r.code !== 0) {
      const err = (r.stderr || r.stdout).trim();
      throw new IpvsError(this.host, command, err || `exit ${r.code}`, remedyFor(err, r.code));
    }
  }

  /**
   * Runs the ledger update and then one ipvsadm command, under the host's mutation lock. The
   * ledger goes first so that a round trip cut short (the connection lost, the shell killed) leaves
   * it claiming at most what the kernel may have: a rerun finds its own half-made object there and
   * takes it back. When ipvsadm refuses, the change is cancelled in the ledger. A failed delete
   * still drops the ledger entry when the object is gone.
   *
   * Mutations requested while a round trip is under way (the engine creates many resources at
   * once) are batched: the next round trip runs them all, one after the other in the order they
   * came, and each gets its own exit status and message back.
   *
   * Unrecorded (no ledger edit in the op), it is the ipvsadm command alone.
   */
  private async mutate(op: IpvsOp): Promise<void> {
    const r = await this.batcher.run({ op });
    if (r.code === 0) return;
    const c = op.change;
    const { command } = op;
    const edit = c.kind === "delete" ? op.ledger?.edit : undefined;
    const subject = { key: c.service, rs: c.rs };
    const err = r.output.trim();
    if (/already exists/i.test(err)) {
      throw new IpvsAlreadyExistsError(
        this.host,
        command,
        subject.rs ? "real server" : "service",
        subject.key,
        subject.rs,
      );
    }
    if (/No such service|Service not defined/i.test(err)) {
      if (edit) await this.dropFromLedger(edit);
      throw new IpvsNotFoundError(this.host, command, "service", subject.key);
    }
    if (/No such destination/i.test(err)) {
      if (edit) await this.dropFromLedger(edit);
      throw new IpvsNotFoundError(this.host, command, "real server", subject.key, subject.rs);
    }
    throw new IpvsError(this.host, command, err || `exit ${r.code}`, remedyFor(err, r.code));
  }

  private async dropFromLedger(edit: LedgerEdit): Promise<void> {
    // the object is gone from the kernel: forget it
    await this.batcher.run({
      script: appendScript(this.ledger, ledgerRecords({ ...edit, lines: [] }, newTx())),
      what: "the ledger update",
    });
  }
}

function remedyFor(err: string, code: number): string | undefined {
  if (code === 127 || /ipvsadm: (command )?not found/.test(err)) {
    return "install ipvsadm on the director (Debian/Ubuntu: apt-get install ipvsadm; RHEL: dnf install ipvsadm)";
  }
  if (/Protocol not available|Can't initialize ipvs|modprobe/i.test(err)) {
    return "the ip_vs kernel module is not available: install the kernel modules package (linux-modules-extra on Ubuntu) or load ip_vs (modprobe ip_vs)";
  }
  if (/Scheduler or persistence engine not found|Scheduler not found/i.test(err)) {
    return "the kernel lacks the scheduler (or persistence engine) module: check `modprobe ip_vs_<scheduler>` on the director";
  }
  return privilegeRemedy(err);
}
