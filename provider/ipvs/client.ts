import type { Change } from "./change";
import type { IpvsTable, RealServerKey, ServiceKey } from "./types";
import { realServerKeyText, serviceKeyText } from "./types";

/**
 * Reads and changes the IPVS table of one host. Implementations: ipvsadm over a transport
 * (ipvsadm/client.ts) and generic netlink on the local host (netlink/client.ts).
 *
 * Error semantics, the same for every implementation:
 * - {@link IpvsNotFoundError}: the service (or real server) to edit or delete does not exist.
 * - {@link IpvsAlreadyExistsError}: the service (or real server) to add exists already.
 * - {@link IpvsError}: any other refusal by the kernel or the tool, with the host, the command and a remedy.
 * - TransportError (transport/transport.ts): the host could not be reached; the outcome is unknown.
 *   It never means "not found".
 */
export interface IpvsClient {
  /** For messages: which host this client talks to. */
  readonly host: string;
  /**
   * The whole table and the ledger of owned objects, read in one round trip. Reading changes
   * nothing (it does not even load ip_vs). Concurrent and repeated calls share one read until the
   * next mutation through this client; `fresh` reads again (for polling counters, such as a drain).
   *
   * With `services`: a snapshot of those services only ({@link scopedSnapshot} of the whole one):
   * `table` and `owned` hold each of them that exists, with all its real servers, and nothing of
   * any other service. An implementation may read less to make it (ipvsadm lists only those
   * services); a whole snapshot still shared serves it without a read.
   */
  snapshot(opts?: SnapshotOptions): Promise<Snapshot>;
  /**
   * Mutations record the object in the ledger with its `owner` (the resource, `project/stack/name`),
   * before the kernel is changed: an operation cut short (a lost connection) leaves the ledger
   * claiming an object the kernel may or may not have, never the reverse, so a rerun can tell its
   * own half-made object from one made by someone else. A mutation the kernel refuses leaves the
   * ledger as it was.
   *
   * The change goes to the kernel as it is (a command line, a netlink request) and to the ledger
   * (its edit): add, edit or delete, of a service or of a real server. ipvs/ensure.ts makes an
   * object so whatever is there (add else edit, edit else add, delete unless gone).
   */
  apply(change: Change): Promise<void>;
  /**
   * Applies one change to the kernel and leaves the ledger alone: for rules another daemon owns
   * (keepalived's), which pulumi-lvs puts back when they go missing but never claims. The same
   * errors as the other mutations.
   */
  applyUnrecorded(change: Change): Promise<void>;
  /**
   * Records changes in the ledger (adds or edits, with their owners) and leaves the kernel alone:
   * to take over objects the kernel already has exactly as declared (`adopt: "exact"`), so that
   * the take-over changes nothing there, not even a scheduler's state. The caller compared them
   * with a snapshot first; the kernel is not read here. One round trip for all of them. An
   * {@link IpvsError} when the ledger cannot be written; a TransportError when the host cannot be
   * reached.
   */
  record(changes: readonly Change[]): Promise<void>;
  /**
   * The connection timeouts (`ipvsadm -L -n --timeout`). Reading loads nothing: undefined when
   * ip_vs is not loaded. A TransportError when the host cannot be reached.
   */
  timeouts(): Promise<IpvsTimeouts | undefined>;
  /**
   * Sets the connection timeouts (`ipvsadm --set`; a 0 leaves that one as it is), loading ip_vs
   * if need be. Not in the ledger: the timeouts are the Director's, which keeps them in its state.
   * An {@link IpvsError} when the kernel or the tool refuses; a TransportError when the host cannot
   * be reached.
   */
  setTimeouts(t: IpvsTimeouts): Promise<void>;
}

/** How to read a snapshot: again (`fresh`), and of some services only (`services`). */
export interface SnapshotOptions {
  fresh?: boolean;
  services?: readonly ServiceKey[];
}

/** The part of a snapshot that concerns `services` (see {@link IpvsClient.snapshot}). */
export function scopedSnapshot(s: Snapshot, services: readonly ServiceKey[]): Snapshot {
  const keys = new Set(services.map(serviceKeyText));
  const only = (t: IpvsTable): IpvsTable => ({
    services: t.services.filter((e) => keys.has(serviceKeyText(e.config.key))),
  });
  return { table: only(s.table), owned: only(s.owned), loaded: s.loaded };
}

/** IPVS connection timeouts, in seconds (`ipvsadm --set tcp tcpfin udp`; 0: left as it is). */
export interface IpvsTimeouts {
  tcp: number;
  tcpFin: number;
  udp: number;
}

/**
 * What the kernel has, and what pulumi-lvs owns on that host.
 *
 * The ledger (`owned`) lists the services and real servers that pulumi-lvs created or adopted, in
 * ipvsadm's rules format: it tells owned objects from ones made by hand (which are never touched),
 * shows stray real servers of owned services, and is what the host restores at boot. Its entries
 * carry their `owner` where one was recorded.
 */
export interface Snapshot {
  table: IpvsTable;
  owned: IpvsTable;
  /** False when the ip_vs module is not loaded (the table is then empty). */
  loaded: boolean;
}

export class IpvsError extends Error {
  constructor(
    readonly host: string,
    readonly command: string,
    readonly detail: string,
    readonly remedy?: string,
  ) {
    super(`on ${host}: ${command} failed: ${detail}${remedy ? `\nWhat to do: ${remedy}` : ""}`);
    this.name = "IpvsError";
  }
}

/** A service, or a real server of it, for messages. */
function objectText(what: "service" | "real server", service: ServiceKey, rs?: RealServerKey): string {
  return what === "service"
    ? `virtual service ${serviceKeyText(service)}`
    : `real server ${realServerKeyText(rs!)} of ${serviceKeyText(service)}`;
}

export class IpvsNotFoundError extends IpvsError {
  constructor(host: string, command: string, what: "service" | "real server", service: ServiceKey, rs?: RealServerKey) {
    super(host, command, `${objectText(what, service, rs)} does not exist`);
    this.name = "IpvsNotFoundError";
  }
}

export class IpvsAlreadyExistsError extends IpvsError {
  constructor(host: string, command: string, what: "service" | "real server", service: ServiceKey, rs?: RealServerKey) {
    super(host, command, `${objectText(what, service, rs)} already exists`);
    this.name = "IpvsAlreadyExistsError";
  }
}

/**
 * A snapshot shared by concurrent and repeated reads for a while (a refresh reads many resources
 * of one host), dropped by every change made through the client and by a failed read. Snapshots of
 * some services are shared the same way, by the services they cover; a whole one still shared
 * serves them without a read.
 */
export class SnapshotCache {
  private readonly cached = new Map<string, { at: number; value: Promise<Snapshot> }>();

  /** @param read reads the whole snapshot, or (given services) one of those services only */
  constructor(
    private readonly read: (services?: readonly ServiceKey[]) => Promise<Snapshot>,
    private readonly ttlMs = 10_000,
  ) {}

  /** The shared snapshot, or a new read when it is older than the TTL, dropped, or `fresh` is asked. */
  get(opts?: SnapshotOptions): Promise<Snapshot> {
    const now = Date.now();
    const live = (k: string) => {
      const c = this.cached.get(k);
      return c && now - c.at < this.ttlMs ? c.value : undefined;
    };
    const scope = opts?.services;
    const key = scope ? scope.map(serviceKeyText).sort().join(" ") : "";
    if (!opts?.fresh) {
      const shared = live(key);
      if (shared) return shared;
      const whole = scope && live("");
      if (whole) return whole.then((s) => scopedSnapshot(s, scope));
    }
    const value = this.read(scope);
    this.cached.set(key, { at: now, value });
    value.catch(() => {
      if (this.cached.get(key)?.value === value) this.cached.delete(key);
    });
    return value;
  }

  invalidate(): void {
    this.cached.clear();
  }
}
