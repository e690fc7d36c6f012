/**
 * The generic netlink implementation of {@link IpvsClient}, for the machine the provider runs on
 * (a `local` connection): no SSH, no ipvsadm, no process per rule. It keeps the same ledger as the
 * ipvsadm implementation, in the same file and format, written by the same shell under the same
 * lock (../ledger/local.ts), so that both read the same ownership and the host restores the same
 * rules at boot. The jobs are apart: reading (./read.ts), changes (./queue.ts), errors (./errors.ts).
 */
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import type { Change } from "../change";
import {
  type IpvsClient,
  IpvsError,
  type Snapshot,
  SnapshotCache,
  type SnapshotOptions,
  scopedSnapshot,
} from "../client";
import { LEDGER, ledgerEditOf, ledgerRecords, newTx, tableOfRules } from "../ledger";
import { LocalLedgerWriter } from "../ledger/local";
import type { ServiceKey } from "../types";
import { Cmd } from "./constants";
import { INSTALL_MODULES } from "./errors";
import { MutationQueue } from "./queue";
import { call, dumpTable, readCounters, readTimeouts } from "./read";
import { type IpvsSocket, openIpvsSocket } from "./socket";
import { type IpvsCounters, type IpvsTimeouts, timeoutsAttrs } from "./wire";

export { requestOf, takeGroup } from "./queue";

export interface NetlinkClientOptions {
  /** Where the ledger lives (tests point it elsewhere). */
  ledger?: string;
  /** Opens the IPVS socket; undefined: the kernel has no IPVS family. Tests pass a fake kernel. */
  open?: () => Promise<IpvsSocket | undefined>;
  /** Loads the ip_vs module before the first change, as ipvsadm does (default: `modprobe ip_vs`). */
  loadModule?: () => Promise<void>;
}

export class NetlinkIpvsClient implements IpvsClient {
  readonly host = "local";
  private readonly ledger: LocalLedgerWriter;
  private readonly open: () => Promise<IpvsSocket | undefined>;
  private readonly loadModule: () => Promise<void>;
  private socket?: Promise<IpvsSocket | undefined>;
  // (the kernel dumps one service's real servers no faster than the whole table's part of them: a
  // snapshot of some services is the whole one, scoped)
  private readonly cache = new SnapshotCache(async (services) => {
    const s = await this.readSnapshot();
    return services ? scopedSnapshot(s, services) : s;
  });
  private readonly changes: MutationQueue;

  constructor(opts: NetlinkClientOptions = {}) {
    this.ledger = new LocalLedgerWriter(opts.ledger ?? LEDGER, this.host);
    this.open = opts.open ?? openIpvsSocket;
    this.loadModule = opts.loadModule ?? modprobeIpVs;
    this.changes = new MutationQueue(
      this.host,
      () => this.socketForChange(),
      this.ledger,
      () => this.cache.invalidate(),
    );
  }

  /** The socket, once the kernel has the IPVS family (until then, every call looks again). */
  private async currentSocket(): Promise<IpvsSocket | undefined> {
    if (!this.socket) {
      const s = this.open();
      this.socket = s;
      const sock = await s.catch((e) => {
        this.socket = undefined;
        throw new IpvsError(
          this.host,
          "open a generic netlink socket",
          String((e as Error).message ?? e),
          "the local connection needs Linux and the netlink package's native module; connect over SSH otherwise",
        );
      });
      if (!sock) this.socket = undefined;
      return sock;
    }
    return this.socket;
  }

  /** The socket for a change: loads ip_vs first when the kernel has no IPVS family yet. */
  private async socketForChange(): Promise<IpvsSocket> {
    let sock = await this.currentSocket();
    if (!sock) {
      await this.loadModule().catch(() => undefined);
      sock = await this.currentSocket();
    }
    if (!sock) {
      throw new IpvsError(
        this.host,
        "find the IPVS generic netlink family",
        "the kernel has no IPVS family",
        INSTALL_MODULES,
      );
    }
    return sock;
  }

  snapshot(opts?: SnapshotOptions): Promise<Snapshot> {
    return this.cache.get(opts);
  }

  private async readSnapshot(): Promise<Snapshot> {
    const [text, sock] = await Promise.all([this.readLedger(), this.currentSocket()]);
    // the journal replayed once: the rules owned, and its compaction when it has outgrown them
    const owned = tableOfRules(this.ledger.observe(text));
    if (!sock) return { table: { services: [] }, owned, loaded: false };
    return { table: await dumpTable(sock, this.host), owned, loaded: true };
  }

  /** The connection timeouts (`ipvsadm -L --timeout`). Reading loads nothing: undefined without ip_vs. */
  async timeouts(): Promise<IpvsTimeouts | undefined> {
    const sock = await this.currentSocket();
    return sock ? readTimeouts(sock, this.host) : undefined;
  }

  /**
   * Sets the connection timeouts (`ipvsadm --set`; a 0 leaves that one unchanged), loading ip_vs
   * first if need be. Not in the ledger: timeouts are the Director's, which keeps them in its state.
   */
  async setTimeouts(t: IpvsTimeouts): Promise<void> {
    const sock = await this.socketForChange();
    await call(sock, this.host, Cmd.SET_CONFIG, timeoutsAttrs(t), "set the timeouts");
  }

  /**
   * The traffic counters of a service and of each of its real servers (`ipvsadm -L --stats
   * --exact`): statistics, kept apart from the table's identity and configuration.
   */
  async counters(
    key: ServiceKey,
  ): Promise<{ service: IpvsCounters; realServers: Map<string, IpvsCounters> } | undefined> {
    const sock = await this.currentSocket();
    return sock ? readCounters(sock, this.host, key) : undefined;
  }

  apply(change: Change): Promise<void> {
    return this.change(change);
  }

  applyUnrecorded(change: Change): Promise<void> {
    return this.change(change, false);
  }

  async record(changes: readonly Change[]): Promise<void> {
    this.cache.invalidate();
    await this.ledger.append(changes.flatMap((c) => ledgerRecords(ledgerEditOf(c), newTx())));
  }

  /** Queues a change (see {@link MutationQueue.run}); the cached snapshot is stale from now on. */
  private change(change: Change, record = true): Promise<void> {
    this.cache.invalidate();
    return this.changes.run(change, record);
  }

  private async readLedger(): Promise<string> {
    try {
      return await readFile(this.ledger.ledger, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return "";
      throw new IpvsError(
        this.host,
        `read ${this.ledger.ledger}`,
        String((e as Error).message),
        "check the file's permissions",
      );
    }
  }
}

async function modprobeIpVs(): Promise<void> {
  await new Promise<void>((resolve) => {
    const p = spawn("modprobe", ["ip_vs"], { stdio: "ignore" });
    p.on("error", () => resolve());
    p.on("close", () => resolve());
  });
}
