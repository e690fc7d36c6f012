import {
  privilegeRemedy,
  runScript,
  shellJoin,
  shellQuote,
  type Transport,
  TransportError,
} from "../../transport/transport";
import { IpvsAlreadyExistsError, type IpvsClient, IpvsError, IpvsNotFoundError, type Snapshot } from "../client";
import type { RealServerConfig, RealServerKey, ServiceKey, VirtualServiceConfig } from "../types";
import {
  addRealServerArgs,
  addServiceArgs,
  deleteRealServerArgs,
  deleteServiceArgs,
  editRealServerArgs,
  editServiceArgs,
  realServerAddress,
  serviceArgs,
} from "./command";
import { ledgerLine, mergeThresholds, parseLedger, parseRules, parseThresholds } from "./parse";

/** Where a host keeps the ledger of what pulumi-lvs owns (ipvsadm rules format). */
export const LEDGER = "/var/lib/pulumi-lvs/ipvs.rules";

const SECTION = "#pulumi-lvs:section";

/** One round trip: the rules, the thresholds, and the ledger. Loads nothing, changes nothing. */
export const snapshotCommand = (ledger: string) =>
  [
    `if [ -e /proc/net/ip_vs ]; then`,
    `  command -v ipvsadm >/dev/null 2>&1 || { echo "ipvsadm: command not found" >&2; exit 127; }`,
    `  ipvsadm -S -n || exit $?`,
    `  echo '${SECTION} thresholds'`,
    `  ipvsadm -L -n --thresholds || exit $?`,
    `else echo '${SECTION} not-loaded'; fi`,
    `echo '${SECTION} ledger'`,
    `cat ${shellQuote(ledger)} 2>/dev/null || true`,
  ].join("\n");

/** How long a snapshot is reused when nothing was changed through this client (a refresh reads many resources). */
const SNAPSHOT_TTL_MS = 10_000;

/**
 * The ipvsadm(8) implementation of {@link IpvsClient}: builds command lines, runs them through a
 * transport (SSH or local), and parses what ipvsadm prints.
 */
export class IpvsadmClient implements IpvsClient {
  private cached?: { at: number; value: Promise<Snapshot> };

  /** @param ledger where the host keeps the ledger (tests point it elsewhere) */
  private readonly batcher: Batcher;

  constructor(
    private readonly t: Transport,
    private readonly ledger = LEDGER,
  ) {
    this.batcher = new Batcher(
      t,
      () => {
        this.cached = undefined;
      },
      ledgerExists(ledger),
    );
  }

  get host(): string {
    return this.t.label;
  }

  snapshot(): Promise<Snapshot> {
    const now = Date.now();
    if (this.cached && now - this.cached.at < SNAPSHOT_TTL_MS) return this.cached.value;
    const value = this.readSnapshot();
    this.cached = { at: now, value };
    value.catch(() => {
      if (this.cached?.value === value) this.cached = undefined;
    });
    return value;
  }

  private async readSnapshot(): Promise<Snapshot> {
    const r = await this.t.run(snapshotCommand(this.ledger));
    if (r.code !== 0) {
      const missing = r.code === 127 || /not found/.test(r.stderr);
      throw new IpvsError(
        this.host,
        "ipvsadm -S -n",
        (r.stderr || r.stdout).trim() || `exit ${r.code}`,
        missing
          ? "install ipvsadm on the director (Debian/Ubuntu: apt-get install ipvsadm; RHEL: dnf install ipvsadm)"
          : privilegeRemedy(r.stderr),
      );
    }
    const sections = splitSections(r.stdout);
    const loaded = !("not-loaded" in sections);
    const table = loaded ? parseRules(sections[""] ?? "") : { services: [] };
    if (loaded) mergeThresholds(table, parseThresholds(sections.thresholds ?? ""));
    const owned = parseLedger(sections.ledger ?? "");
    return { table, owned, loaded };
  }

  async addService(s: VirtualServiceConfig, owner?: string): Promise<void> {
    await this.mutate(
      addServiceArgs(s),
      { key: s.key, what: "service" },
      ledgerPut(this.ledger, svcPrefix(s.key), addServiceArgs(s), owner),
    );
  }

  async editService(s: VirtualServiceConfig, owner?: string): Promise<void> {
    await this.mutate(
      editServiceArgs(s),
      { key: s.key, what: "service" },
      ledgerPut(this.ledger, svcPrefix(s.key), addServiceArgs(s), owner),
    );
  }

  async deleteService(k: ServiceKey): Promise<void> {
    await this.mutate(
      deleteServiceArgs(k),
      { key: k, what: "service" },
      ledgerDrop(this.ledger, [svcPrefix(k), rsPrefix(k)]),
    );
  }

  async addRealServer(service: ServiceKey, r: RealServerConfig, owner?: string): Promise<void> {
    await this.mutate(
      addRealServerArgs(service, r),
      { key: service, what: "real server", rs: r },
      ledgerPut(this.ledger, rsPrefix(service, r), addRealServerArgs(service, r), owner),
    );
  }

  async editRealServer(service: ServiceKey, r: RealServerConfig, owner?: string): Promise<void> {
    await this.mutate(
      editRealServerArgs(service, r),
      { key: service, what: "real server", rs: r },
      ledgerPut(this.ledger, rsPrefix(service, r), addRealServerArgs(service, r), owner),
    );
  }

  async deleteRealServer(service: ServiceKey, r: RealServerKey): Promise<void> {
    await this.mutate(
      deleteRealServerArgs(service, r),
      { key: service, what: "real server", rs: r },
      ledgerDrop(this.ledger, [rsPrefix(service, r)]),
    );
  }

  /**
   * Runs the ledger update and then one ipvsadm command, under the host's mutation lock. The
   * ledger goes first so that a round trip cut short (the connection lost, the shell killed) leaves
   * it claiming at most what the kernel may have: a rerun finds its own half-made object there and
   * takes it back. When ipvsadm refuses, the ledger is put back as it was. A failed delete still
   * drops the ledger entry when the object is gone.
   *
   * Mutations requested while a round trip is under way (the engine creates many resources at
   * once) are batched: the next round trip runs them all, one after the other in the order they
   * came, and each gets its own exit status and message back.
   */
  private async mutate(
    args: string[],
    subject: { key: ServiceKey; what: "service" | "real server"; rs?: RealServerKey },
    ledgerScript: string,
  ): Promise<void> {
    const command = `ipvsadm ${shellJoin(args)}`;
    const isDelete = args[0] === "-D" || args[0] === "-d";
    const r = await this.batcher.run(withLedgerFirst(this.ledger, ledgerScript, command), command);
    if (r.code === 0) return;
    const err = r.output.trim();
    if (/already exists/i.test(err)) {
      throw new IpvsAlreadyExistsError(this.host, command, subject.what, subject.key, subject.rs);
    }
    if (/No such service|Service not defined/i.test(err)) {
      if (isDelete) await this.dropFromLedger(ledgerScript);
      throw new IpvsNotFoundError(this.host, command, "service", subject.key);
    }
    if (/No such destination/i.test(err)) {
      if (isDelete) await this.dropFromLedger(ledgerScript);
      throw new IpvsNotFoundError(this.host, command, "real server", subject.key, subject.rs);
    }
    throw new IpvsError(this.host, command, err || `exit ${r.code}`, remedyFor(err, r.code));
  }

  private async dropFromLedger(script: string): Promise<void> {
    // the object is gone from the kernel: forget it
    await this.batcher.run(script, "the ledger update");
  }
}

const OP = "#pulumi-lvs:op";
/** Mutations per round trip at most (each is a few process starts on the host). */
const MAX_BATCH = 250;

/**
 * Runs mutation scripts on a host in batches: one round trip, under the host's mutation lock, runs
 * every script queued since the previous one started, in order. Each script's exit status and
 * output (stdout and stderr together) come back separately. A transport failure fails every
 * script of the batch (their outcome is unknown).
 */
export class Batcher {
  private queue: Array<{
    script: string;
    what: string;
    resolve: (r: OpResult) => void;
    reject: (e: unknown) => void;
  }> = [];
  private scheduled = false;

  /**
   * @param changed called before and after each round trip (the host's state changes)
   * @param prologue shell run once at the start of each round trip; if it fails, no script runs
   *   and each gets its exit status and output
   */
  constructor(
    private readonly t: Transport,
    private readonly changed: () => void = () => undefined,
    private readonly prologue = "",
  ) {}

  /** @param what the command, for messages (e.g. `ipvsadm -a -t …`) */
  run(script: string, what: string): Promise<OpResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ script, what, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // let the mutations the engine sends together join this batch
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    await this.t.exclusive(async () => {
      this.scheduled = false;
      const batch = this.queue.splice(0, MAX_BATCH);
      if (this.queue.length > 0) setImmediate(() => void this.flush());
      if (batch.length === 0) return;
      this.changed();
      try {
        const body = batchScript(batch.map((b) => b.script));
        const r = await runScript(this.t, this.prologue ? `${this.prologue} || exit $?\n${body}` : body);
        const text = r.stdout + r.stderr;
        const results = parseBatch(text, batch.length);
        // nothing ran at all (sudo refused, no shell): each script failed the same way
        const none = !text.includes(OP);
        batch.forEach((b, i) => {
          const one = results[i];
          if (one) b.resolve(one);
          else if (none) b.resolve({ code: r.code || 1, output: text });
          else
            b.reject(
              new IpvsError(
                this.t.label,
                "(batch)",
                `the batch of ${batch.length} commands stopped before command ${i + 1} (exit ${r.code}): ${(r.stderr || r.stdout).trim().slice(-500)}`,
                "run pulumi up again; if it persists, run the command by hand on the host to see why",
              ),
            );
        });
      } catch (e) {
        for (const b of batch) b.reject(forOne(e, b.what, this.t.label));
      } finally {
        this.changed();
      }
    });
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

export interface OpResult {
  code: number;
  /** stdout and stderr of the script, together. */
  output: string;
}

/** One shell script running `scripts` in order, each between markers that carry its exit status. */
export function batchScript(scripts: string[]): string {
  return scripts.map((s, i) => `echo '${OP} ${i}'\n{ ${s}\n} 2>&1\necho "${OP}-rc ${i} $?"`).join("\n");
}

/** Splits what batchScript printed into each script's result. Missing results: the batch stopped early. */
export function parseBatch(text: string, n: number): Array<OpResult | undefined> {
  const out: Array<OpResult | undefined> = new Array(n).fill(undefined);
  let current = -1;
  let buf: string[] = [];
  for (const line of text.split("\n")) {
    const start = line.startsWith(`${OP} `) ? Number(line.slice(OP.length + 1)) : Number.NaN;
    if (Number.isInteger(start)) {
      current = start;
      buf = [];
      continue;
    }
    const end = /^#pulumi-lvs:op-rc (\d+) (\d+)$/.exec(line);
    if (end && Number(end[1]) === current) {
      out[current] = { code: Number(end[2]), output: buf.join("\n") };
      current = -1;
      continue;
    }
    if (current >= 0) buf.push(line);
  }
  return out;
}

function splitSections(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let name = "";
  let buf: string[] = [];
  for (const line of text.split("\n")) {
    if (line.startsWith(SECTION)) {
      out[name] = buf.join("\n");
      name = line.slice(SECTION.length).trim();
      buf = [];
    } else buf.push(line);
  }
  out[name] = buf.join("\n");
  return out;
}

/** Ledger lines start with the rule's naming words; these prefixes find them. */
function svcPrefix(k: ServiceKey): string {
  return `-A ${serviceArgs(k).join(" ")} `;
}
function rsPrefix(k: ServiceKey, r?: RealServerKey): string {
  return `-a ${serviceArgs(k).join(" ")} -r ${r ? `${realServerAddress(r)} ` : ""}`;
}

/** Shell that makes sure the ledger file exists (once per round trip: the scripts below assume it). */
export function ledgerExists(ledger: string): string {
  const dir = shellQuote(ledger.slice(0, ledger.lastIndexOf("/")) || "/");
  return `mkdir -p ${dir} && touch ${shellQuote(ledger)}`;
}

/**
 * Shell that updates the ledger (which must exist), then runs `command`; if the command fails, the
 * ledger is restored from the copy taken before and the command's exit status returned.
 */
export function withLedgerFirst(ledger: string, ledgerScript: string, command: string): string {
  const f = shellQuote(ledger);
  const prev = shellQuote(`${ledger}.prev`);
  return (
    `cp ${f} ${prev} && { ${ledgerScript}; } && ` +
    `{ ${command} || { rc=$?; mv ${prev} ${f}; (exit $rc); }; } && rm -f ${prev}`
  );
}

/** Shell that removes every ledger line starting with one of the prefixes. */
export function ledgerDrop(ledger: string, prefixes: string[]): string {
  const f = shellQuote(ledger);
  const conds = prefixes.map((_, i) => `index($0 " ", p${i}) != 1`).join(" && ");
  const vars = prefixes.map((p, i) => `-v p${i}=${shellQuote(p)}`).join(" ");
  return `[ ! -e ${f} ] || { awk ${vars} ${shellQuote(conds)} ${f} > ${f}.tmp && mv ${f}.tmp ${f}; }`;
}

/**
 * Shell that replaces the ledger line starting with `prefix` by the rule `args` (tagged with its
 * owner). The ledger must exist ({@link ledgerExists}).
 */
export function ledgerPut(ledger: string, prefix: string, args: string[], owner?: string): string {
  const f = shellQuote(ledger);
  return `{ awk -v p=${shellQuote(prefix)} 'index($0 " ", p) != 1' ${f}; printf '%s\\n' ${shellQuote(ledgerLine(args.join(" "), owner))}; } > ${f}.tmp && mv ${f}.tmp ${f}`;
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
