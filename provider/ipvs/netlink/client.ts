/**
 * The generic netlink implementation of {@link IpvsClient}, for the machine the provider runs on
 * (a `local` connection): no SSH, no ipvsadm, no process per rule. It keeps the same ledger as the
 * ipvsadm implementation, in the same file and format, so that both read the same ownership and
 * the host restores the same rules at boot.
 */
import { spawn } from "node:child_process";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { TransportError } from "../../transport/transport";
import { type Change, realServerChange, serviceChange } from "../change";
import {
  IpvsAlreadyExistsError,
  type IpvsClient,
  IpvsError,
  IpvsNotFoundError,
  type Snapshot,
  SnapshotCache,
} from "../client";
import { editLedgerText, LEDGER, type LedgerEdit, ledgerEditOf, parseLedger } from "../ledger";
import {
  familyOfKey,
  type IpvsTable,
  type RealServerConfig,
  type RealServerKey,
  realServerKeyText,
  type ServiceEntry,
  type ServiceKey,
  serviceKeyText,
  type VirtualServiceConfig,
} from "../types";
import { Cmd, CmdAttr } from "./constants";
import { type IpvsSocket, NetlinkError, openIpvsSocket } from "./socket";
import {
  type Attr,
  decodeAttrs,
  encodeAttrs,
  type IpvsCounters,
  type IpvsTimeouts,
  parseCounters,
  parseRealServer,
  parseService,
  parseTimeouts,
  realServerAttrs,
  realServerKeyAttrs,
  serviceAttrs,
  serviceKeyAttrs,
  timeoutsAttrs,
} from "./wire";

export interface NetlinkClientOptions {
  /** Where the ledger lives (tests point it elsewhere). */
  ledger?: string;
  /** Opens the IPVS socket; undefined: the kernel has no IPVS family. Tests pass a fake kernel. */
  open?: () => Promise<IpvsSocket | undefined>;
  /** Loads the ip_vs module before the first change, as ipvsadm does (default: `modprobe ip_vs`). */
  loadModule?: () => Promise<void>;
}

/** A change in the queue: the request it sends, its ledger edit, and who waits for it. */
interface Queued {
  change: Change;
  edit: LedgerEdit;
  done: (e?: Error) => void;
}

/** The ledger edit of an unrecorded change: none. */
const NO_EDIT: LedgerEdit = { prefixes: [], lines: [] };

const SERVICE_CMD: Record<Change["kind"], number> = {
  add: Cmd.NEW_SERVICE,
  edit: Cmd.SET_SERVICE,
  delete: Cmd.DEL_SERVICE,
};
const REAL_SERVER_CMD: Record<Change["kind"], number> = { add: Cmd.NEW_DEST, edit: Cmd.SET_DEST, delete: Cmd.DEL_DEST };

/** The netlink request of a change: its command and attributes. */
export function requestOf(c: Change): { cmd: number; attrs: Attr[] } {
  if (!c.rs) {
    const svc = c.config ? serviceAttrs(c.config) : serviceKeyAttrs(c.service);
    return { cmd: SERVICE_CMD[c.kind], attrs: [[CmdAttr.SERVICE, encodeAttrs(svc)]] };
  }
  const family = familyOfKey(c.service);
  const dest = c.config ? realServerAttrs(family, c.config) : realServerKeyAttrs(family, c.rs);
  return {
    cmd: REAL_SERVER_CMD[c.kind],
    attrs: [
      [CmdAttr.SERVICE, encodeAttrs(serviceKeyAttrs(c.service))],
      [CmdAttr.DEST, encodeAttrs(dest)],
    ],
  };
}

/** A change, for messages. */
function whatOf(c: Change): string {
  return c.rs
    ? `${c.kind} real server ${realServerKeyText(c.rs)} of ${serviceKeyText(c.service)}`
    : `${c.kind} virtual service ${serviceKeyText(c.service)}`;
}

/** Changes in flight at once on the socket. */
const WINDOW = 64;
const INSTALL_MODULES =
  "load the ip_vs kernel module (modprobe ip_vs), or install the kernel modules package (linux-modules-extra on Ubuntu)";

export class NetlinkIpvsClient implements IpvsClient {
  readonly host = "local";
  private readonly ledger: string;
  private readonly open: () => Promise<IpvsSocket | undefined>;
  private readonly loadModule: () => Promise<void>;
  private socket?: Promise<IpvsSocket | undefined>;
  private readonly cache = new SnapshotCache(() => this.readSnapshot());
  private queue: Queued[] = [];
  private pumping = false;

  constructor(opts: NetlinkClientOptions = {}) {
    this.ledger = opts.ledger ?? LEDGER;
    this.open = opts.open ?? openIpvsSocket;
    this.loadModule = opts.loadModule ?? modprobeIpVs;
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

  snapshot(opts?: { fresh?: boolean }): Promise<Snapshot> {
    return this.cache.get(opts);
  }

  private async readSnapshot(): Promise<Snapshot> {
    const [text, sock] = await Promise.all([this.readLedger(), this.currentSocket()]);
    const owned = parseLedger(text);
    if (!sock) return { table: { services: [] }, owned, loaded: false };
    return { table: await this.dump(sock), owned, loaded: true };
  }

  /** The whole table: one dump of the services, then one dump of each service's real servers. */
  private async dump(sock: IpvsSocket): Promise<IpvsTable> {
    const replies = await this.call(sock, Cmd.GET_SERVICE, [], "list virtual services", true);
    const services: ServiceEntry[] = replies.map((m) => ({
      config: parseService(nested(m, CmdAttr.SERVICE)),
      realServers: [],
    }));
    // one after the other: the socket runs one request at a time anyway
    for (const s of services) {
      const family = familyOfKey(s.config.key);
      const dests = await this.call(
        sock,
        Cmd.GET_DEST,
        [[CmdAttr.SERVICE, encodeAttrs(serviceKeyAttrs(s.config.key))]],
        `list real servers of ${serviceKeyText(s.config.key)}`,
        true,
      );
      s.realServers = dests.map((m) => parseRealServer(nested(m, CmdAttr.DEST), family));
    }
    return { services };
  }

  private async call(sock: IpvsSocket, cmd: number, attrs: Attr[], what: string, dump = false): Promise<Buffer[]> {
    try {
      return await sock.request(cmd, encodeAttrs(attrs), { dump });
    } catch (e) {
      if (e instanceof NetlinkError) throw new IpvsError(this.host, `${what} (netlink)`, e.message, remedyFor(e.code));
      throw new TransportError("timeout", this.host, `${what} (netlink): ${(e as Error).message ?? e}`);
    }
  }

  /** The connection timeouts (`ipvsadm -L --timeout`). Reading loads nothing: undefined without ip_vs. */
  async timeouts(): Promise<IpvsTimeouts | undefined> {
    const sock = await this.currentSocket();
    if (!sock) return undefined;
    const [reply] = await this.call(sock, Cmd.GET_CONFIG, [], "read the timeouts");
    return reply ? parseTimeouts(reply) : undefined;
  }

  /**
   * Sets the connection timeouts (`ipvsadm --set`; a 0 leaves that one unchanged), loading ip_vs
   * first if need be. Not in the ledger: timeouts are the Director's, which keeps them in its state.
   */
  async setTimeouts(t: IpvsTimeouts): Promise<void> {
    const sock = await this.socketForChange();
    await this.call(sock, Cmd.SET_CONFIG, timeoutsAttrs(t), "set the timeouts");
  }

  /**
   * The traffic counters of a service and of each of its real servers (`ipvsadm -L --stats
   * --exact`): statistics, kept apart from the table's identity and configuration.
   */
  async counters(
    key: ServiceKey,
  ): Promise<{ service: IpvsCounters; realServers: Map<string, IpvsCounters> } | undefined> {
    const sock = await this.currentSocket();
    if (!sock) return undefined;
    const services = await this.call(sock, Cmd.GET_SERVICE, [], "list virtual services", true);
    const svc = services
      .map((m) => nested(m, CmdAttr.SERVICE))
      .find((b) => serviceKeyText(parseService(b).key) === serviceKeyText(key));
    if (!svc) return undefined;
    const dests = await this.call(
      sock,
      Cmd.GET_DEST,
      [[CmdAttr.SERVICE, encodeAttrs(serviceKeyAttrs(key))]],
      `list real servers of ${serviceKeyText(key)}`,
      true,
    );
    const realServers = new Map<string, IpvsCounters>();
    for (const m of dests) {
      const d = nested(m, CmdAttr.DEST);
      realServers.set(realServerKeyText(parseRealServer(d, familyOfKey(key)).config), parseCounters(d, "real server"));
    }
    return { service: parseCounters(svc, "service"), realServers };
  }

  // Shorthands for apply, one per kind of change (tools and tests use them).

  addService(s: VirtualServiceConfig, owner?: string): Promise<void> {
    return this.apply(serviceChange("add", s, owner));
  }

  editService(s: VirtualServiceConfig, owner?: string): Promise<void> {
    return this.apply(serviceChange("edit", s, owner));
  }

  deleteService(k: ServiceKey): Promise<void> {
    return this.apply(serviceChange("delete", k));
  }

  addRealServer(service: ServiceKey, r: RealServerConfig, owner?: string): Promise<void> {
    return this.apply(realServerChange("add", service, r, owner));
  }

  editRealServer(service: ServiceKey, r: RealServerConfig, owner?: string): Promise<void> {
    return this.apply(realServerChange("edit", service, r, owner));
  }

  deleteRealServer(service: ServiceKey, r: RealServerKey): Promise<void> {
    return this.apply(realServerChange("delete", service, r));
  }

  apply(change: Change): Promise<void> {
    return this.change(change);
  }

  applyUnrecorded(change: Change): Promise<void> {
    return this.change(change, false);
  }

  /**
   * Queues a change. Changes are applied in the order they came; those that arrive while others
   * run (the engine creates many resources at once) are grouped: the group's ledger edits are
   * written in one go, before the kernel is changed, then each kernel request runs in order, and
   * the ledger lines of the ones the kernel refused are put back (the same contract as the
   * ipvsadm implementation: the ledger may claim what the kernel lacks, never the reverse).
   */
  private change(change: Change, record = true): Promise<void> {
    this.cache.invalidate();
    const edit = record ? ledgerEditOf(change) : NO_EDIT;
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ change, edit, done: (e) => (e ? reject(e) : resolve()) });
      void this.pump();
    });
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.queue.length > 0) {
        const group = takeGroup(this.queue);
        await this.runGroup(group).catch((e: Error) => {
          for (const c of group) c.done(e);
        });
        this.cache.invalidate();
      }
    } finally {
      this.pumping = false;
    }
  }

  private async runGroup(group: Queued[]): Promise<void> {
    const sock = await this.socketForChange();
    const recorded = group.some((q) => q.edit.prefixes.length > 0);
    const edit = recorded
      ? editLedgerText(
          await this.readLedger(),
          group.map((q) => q.edit),
        )
      : { text: "", replaced: group.map(() => []) };
    const text = edit.text;
    if (recorded) await this.writeLedger(text);
    // sent in order, up to WINDOW in flight (the kernel handles one socket's requests in the order
    // they came; the window keeps the acknowledgements within the socket's receive buffer)
    const outcome = new Map<Queued, Error | undefined>();
    for (let i = 0; i < group.length; i += WINDOW) {
      const chunk = group.slice(i, i + WINDOW);
      const settled = await Promise.allSettled(
        chunk.map((q) => {
          const { cmd, attrs } = requestOf(q.change);
          return sock.request(cmd, encodeAttrs(attrs));
        }),
      );
      for (const [j, r] of settled.entries()) {
        outcome.set(chunk[j]!, r.status === "fulfilled" ? undefined : this.errorOf(chunk[j]!.change, r.reason));
      }
    }
    // put back the ledger lines of refused changes; a delete of something already gone stays dropped
    const putBack = group.flatMap((c, i) => {
      const e = outcome.get(c);
      return !e || c.edit === NO_EDIT || (c.change.kind === "delete" && e instanceof IpvsNotFoundError)
        ? []
        : [{ prefixes: c.edit.prefixes, lines: edit.replaced[i]! }];
    });
    if (putBack.length > 0) await this.writeLedger(editLedgerText(text, putBack).text);
    for (const c of group) c.done(outcome.get(c));
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

  private errorOf(c: Change, e: unknown): Error {
    const command = `${whatOf(c)} (netlink)`;
    if (!(e instanceof NetlinkError)) {
      return new TransportError(
        "timeout",
        this.host,
        `${command}: ${(e as Error).message ?? e}. It may or may not have run`,
      );
    }
    const rs = c.rs;
    if (e.code === "EEXIST") {
      return new IpvsAlreadyExistsError(this.host, command, rs ? "real server" : "service", c.service, rs);
    }
    if (e.code === "ESRCH") return new IpvsNotFoundError(this.host, command, "service", c.service);
    if (e.code === "ENOENT" && rs) return new IpvsNotFoundError(this.host, command, "real server", c.service, rs);
    if (e.code === "ENOENT") {
      return new IpvsError(
        this.host,
        command,
        "scheduler or persistence engine not found (ENOENT)",
        "the kernel lacks the scheduler (or persistence engine) module: check `modprobe ip_vs_<scheduler>`",
      );
    }
    return new IpvsError(this.host, command, e.message, remedyFor(e.code));
  }

  private async readLedger(): Promise<string> {
    try {
      return await readFile(this.ledger, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return "";
      throw new IpvsError(
        this.host,
        `read ${this.ledger}`,
        String((e as Error).message),
        "check the file's permissions",
      );
    }
  }

  private async writeLedger(text: string): Promise<void> {
    try {
      await mkdir(dirname(this.ledger), { recursive: true });
      await writeFile(`${this.ledger}.tmp`, text);
      await rename(`${this.ledger}.tmp`, this.ledger);
    } catch (e) {
      throw new IpvsError(
        this.host,
        `write ${this.ledger}`,
        String((e as Error).message),
        "pulumi-lvs keeps what it owns in this file: run pulumi as root on the director, or make its directory writable",
      );
    }
  }
}

/** The payload of one first-level attribute of a reply. */
function nested(msg: Buffer, type: number): Buffer {
  const v = decodeAttrs(msg).get(type);
  if (!v) throw new IpvsError("local", "read a netlink reply", `the reply has no attribute ${type}`);
  return v;
}

/**
 * The longest run from the front of the queue in which no two changes touch the same object (one
 * ledger prefix starting another): those can share one ledger write.
 */
export function takeGroup<T extends { edit: LedgerEdit }>(queue: T[]): T[] {
  const group: T[] = [];
  const seen: string[] = [];
  while (queue.length > 0) {
    const c = queue[0]!;
    const clash = c.edit.prefixes.some((p) => seen.some((q) => p.startsWith(q) || q.startsWith(p)));
    if (clash && group.length > 0) break;
    group.push(queue.shift()!);
    seen.push(...c.edit.prefixes);
  }
  return group;
}

function remedyFor(code: string): string | undefined {
  if (code === "EPERM" || code === "EACCES") {
    return "changing IPVS needs root (CAP_NET_ADMIN): run pulumi as root on the director, or connect over SSH";
  }
  if (code === "EINVAL") return "the kernel refused the arguments: check the kernel version supports these options";
  return undefined;
}

async function modprobeIpVs(): Promise<void> {
  await new Promise<void>((resolve) => {
    const p = spawn("modprobe", ["ip_vs"], { stdio: "ignore" });
    p.on("error", () => resolve());
    p.on("close", () => resolve());
  });
}
