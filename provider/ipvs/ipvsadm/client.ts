import { privilegeRemedy, shellJoin, shellQuote, type Transport } from "../../transport/transport";
import {
  IpvsAlreadyExistsError,
  type IpvsClient,
  IpvsError,
  IpvsNotFoundError,
  type Snapshot,
  SnapshotCache,
} from "../client";
import type { RealServerConfig, RealServerKey, ServiceKey, VirtualServiceConfig } from "../types";
import { Batcher, type FastOp } from "./batch";
import {
  addRealServerArgs,
  addServiceArgs,
  deleteRealServerArgs,
  deleteServiceArgs,
  editRealServerArgs,
  editServiceArgs,
} from "./command";
import { ledgerDrop, ledgerExists, ledgerSet, rsPrefix, svcPrefix, withLedgerFirst } from "./ledger";
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

/**
 * The ipvsadm(8) implementation of {@link IpvsClient}: builds command lines, runs them through a
 * transport (SSH or local), and parses what ipvsadm prints.
 */
export class IpvsadmClient implements IpvsClient {
  private readonly cache = new SnapshotCache(() => this.readSnapshot());

  /** @param ledger where the host keeps the ledger (tests point it elsewhere) */
  private readonly batcher: Batcher;

  constructor(
    private readonly t: Transport,
    private readonly ledger = LEDGER,
  ) {
    this.batcher = new Batcher(
      t,
      () => {
        this.cache.invalidate();
      },
      ledgerExists(ledger),
      ledger,
    );
  }

  get host(): string {
    return this.t.label;
  }

  snapshot(opts?: { fresh?: boolean }): Promise<Snapshot> {
    return this.cache.get(opts);
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
      "add",
      addServiceArgs(s),
      { key: s.key },
      [svcPrefix(s.key)],
      ledgerLine(addServiceArgs(s).join(" "), owner),
    );
  }

  async editService(s: VirtualServiceConfig, owner?: string): Promise<void> {
    await this.mutate(
      "edit",
      editServiceArgs(s),
      { key: s.key },
      [svcPrefix(s.key)],
      ledgerLine(addServiceArgs(s).join(" "), owner),
    );
  }

  async deleteService(k: ServiceKey): Promise<void> {
    await this.mutate("delete", deleteServiceArgs(k), { key: k }, [svcPrefix(k), rsPrefix(k)]);
  }

  async addRealServer(service: ServiceKey, r: RealServerConfig, owner?: string): Promise<void> {
    const line = ledgerLine(addRealServerArgs(service, r).join(" "), owner);
    await this.mutate("add", addRealServerArgs(service, r), { key: service, rs: r }, [rsPrefix(service, r)], line);
  }

  async editRealServer(service: ServiceKey, r: RealServerConfig, owner?: string): Promise<void> {
    const line = ledgerLine(addRealServerArgs(service, r).join(" "), owner);
    await this.mutate("edit", editRealServerArgs(service, r), { key: service, rs: r }, [rsPrefix(service, r)], line);
  }

  async deleteRealServer(service: ServiceKey, r: RealServerKey): Promise<void> {
    await this.mutate("delete", deleteRealServerArgs(service, r), { key: service, rs: r }, [rsPrefix(service, r)]);
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
    kind: FastOp["kind"],
    args: string[],
    subject: { key: ServiceKey; rs?: RealServerKey },
    prefixes: string[],
    put?: string,
  ): Promise<void> {
    const command = `ipvsadm ${shellJoin(args)}`;
    const isDelete = kind === "delete";
    const ledgerScript =
      put === undefined ? ledgerDrop(this.ledger, prefixes) : ledgerSet(this.ledger, prefixes, [put]);
    const fast: FastOp = { kind, service: subject.key, rs: subject.rs, args, prefixes, put };
    const r = await this.batcher.run(withLedgerFirst(this.ledger, ledgerScript, command), command, fast);
    if (r.code === 0) return;
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
