import { afterEach, beforeEach } from "node:test";
import type { Change } from "../../../provider/ipvs/change";
import {
  IpvsAlreadyExistsError,
  type IpvsClient,
  IpvsNotFoundError,
  type IpvsTimeouts,
  type Snapshot,
  type SnapshotOptions,
  scopedSnapshot,
} from "../../../provider/ipvs/client";
import {
  findService,
  type IpvsTable,
  type RealServerConfig,
  type RealServerKey,
  type ServiceKey,
  serviceKeyText,
  type VirtualServiceConfig,
} from "../../../provider/ipvs/types";
import { resetClaims } from "../../../provider/resources/check";
import { setIpvsClientFactory } from "../../../provider/resources/clients";
import { TransportError } from "../../../provider/transport/transport";

/**
 * An in-memory IPVS host with the error semantics of IpvsClient: a kernel table, and the ledger
 * of owned objects, kept the way the ipvsadm client keeps it. `unreachable` makes every call fail
 * as an SSH failure would.
 */
export class FakeIpvs implements IpvsClient {
  readonly host = "root@fake:22";
  table: IpvsTable = { services: [] };
  owned: IpvsTable = { services: [] };
  unreachable = false;
  calls: string[] = [];
  /** The connection timeouts (Linux's defaults). */
  connectionTimeouts: IpvsTimeouts = { tcp: 900, tcpFin: 120, udp: 300 };

  private check(op: string): void {
    this.calls.push(op);
    if (this.unreachable)
      throw new TransportError("unreachable", this.host, `could not connect to ${this.host} after 3 attempts`);
  }

  async snapshot(opts?: SnapshotOptions): Promise<Snapshot> {
    this.check("snapshot");
    const whole = structuredClone({ table: this.table, owned: this.owned, loaded: true });
    return opts?.services ? scopedSnapshot(whole, opts.services) : whole;
  }

  /** An object made by hand: in the kernel, not in the ledger. */
  byHand(s: VirtualServiceConfig, rs: RealServerConfig[] = []): void {
    const existing = findService(this.table, s.key);
    if (existing) existing.realServers.push(...rs.map((config) => ({ config })));
    else this.table.services.push({ config: s, realServers: rs.map((config) => ({ config })) });
  }

  private async addService(s: VirtualServiceConfig, owner?: string): Promise<void> {
    this.check(`add ${serviceKeyText(s.key)}`);
    if (findService(this.table, s.key)) throw new IpvsAlreadyExistsError(this.host, "ipvsadm -A", "service", s.key);
    this.table.services.push({ config: s, realServers: [] });
    this.own(s, owner);
  }
  private async editService(s: VirtualServiceConfig, owner?: string): Promise<void> {
    this.check(`edit ${serviceKeyText(s.key)}`);
    const e = findService(this.table, s.key);
    if (!e) throw new IpvsNotFoundError(this.host, "ipvsadm -E", "service", s.key);
    e.config = s;
    this.own(s, owner);
  }
  private async deleteService(k: ServiceKey): Promise<void> {
    this.check(`delete ${serviceKeyText(k)}`);
    const had = findService(this.table, k);
    this.table.services = this.table.services.filter((x) => serviceKeyText(x.config.key) !== serviceKeyText(k));
    this.owned.services = this.owned.services.filter((x) => serviceKeyText(x.config.key) !== serviceKeyText(k));
    if (!had) throw new IpvsNotFoundError(this.host, "ipvsadm -D", "service", k);
  }
  private async addRealServer(k: ServiceKey, r: RealServerConfig, owner?: string): Promise<void> {
    this.check(`add ${serviceKeyText(k)} ${r.address}:${r.port}`);
    const e = findService(this.table, k);
    if (!e) throw new IpvsNotFoundError(this.host, "ipvsadm -a", "service", k);
    if (e.realServers.some((x) => same(x.config, r)))
      throw new IpvsAlreadyExistsError(this.host, "ipvsadm -a", "real server", k, r);
    e.realServers.push({ config: r });
    this.ownRs(k, r, owner);
  }
  private async editRealServer(k: ServiceKey, r: RealServerConfig, owner?: string): Promise<void> {
    this.check(`edit ${serviceKeyText(k)} ${r.address}:${r.port}`);
    const e = findService(this.table, k);
    if (!e) throw new IpvsNotFoundError(this.host, "ipvsadm -e", "service", k);
    const x = e.realServers.find((y) => same(y.config, r));
    if (!x) throw new IpvsNotFoundError(this.host, "ipvsadm -e", "real server", k, r);
    x.config = r;
    this.ownRs(k, r, owner);
  }
  private async deleteRealServer(k: ServiceKey, r: RealServerKey): Promise<void> {
    this.check(`delete ${serviceKeyText(k)} ${r.address}:${r.port}`);
    const e = findService(this.table, k);
    const o = findService(this.owned, k);
    if (o) o.realServers = o.realServers.filter((y) => !same(y.config, r));
    if (!e) throw new IpvsNotFoundError(this.host, "ipvsadm -d", "service", k);
    const before = e.realServers.length;
    e.realServers = e.realServers.filter((y) => !same(y.config, r));
    if (e.realServers.length === before) throw new IpvsNotFoundError(this.host, "ipvsadm -d", "real server", k, r);
  }

  /** A change, by its kind and object (the per-kind methods are the fake's kernel and ledger). */
  async apply(c: Change): Promise<void> {
    if (c.rs === undefined) {
      if (c.kind === "delete") await this.deleteService(c.service);
      else await (c.kind === "add" ? this.addService(c.config!, c.owner) : this.editService(c.config!, c.owner));
    } else if (c.kind === "delete") await this.deleteRealServer(c.service, c.rs);
    else
      await (c.kind === "add"
        ? this.addRealServer(c.service, c.config!, c.owner)
        : this.editRealServer(c.service, c.config!, c.owner));
  }

  async timeouts(): Promise<IpvsTimeouts | undefined> {
    this.check("timeouts");
    return { ...this.connectionTimeouts };
  }

  /** As the kernel: a 0 leaves that timeout as it is. */
  async setTimeouts(t: IpvsTimeouts): Promise<void> {
    this.check("setTimeouts");
    const now = this.connectionTimeouts;
    this.connectionTimeouts = { tcp: t.tcp || now.tcp, tcpFin: t.tcpFin || now.tcpFin, udp: t.udp || now.udp };
  }

  /** The same mutation as the recorded ones, with the ledger put back as it was. */
  async applyUnrecorded(c: Change): Promise<void> {
    const owned = structuredClone(this.owned);
    try {
      await this.apply({ ...c, owner: undefined } as Change);
    } finally {
      this.owned = owned;
    }
  }

  /** The ledger alone: the kernel is left as it is. */
  async record(changes: readonly Change[]): Promise<void> {
    this.check(`record ${changes.length}`);
    for (const c of changes) {
      if (c.kind === "delete") throw new Error("record takes adds and edits");
      if (c.rs === undefined) this.own(c.config!, c.owner);
      else this.ownRs(c.service, c.config!, c.owner);
    }
  }

  private own(s: VirtualServiceConfig, owner?: string): void {
    const o = findService(this.owned, s.key);
    if (o) {
      o.config = s;
      if (owner) o.owner = owner;
      else delete o.owner;
    } else this.owned.services.push({ config: s, realServers: [], ...(owner ? { owner } : {}) });
  }

  /** A create cut short after the kernel changed (the ledger went first, so it records the owner). */
  interruptedAdd(k: ServiceKey, r: RealServerConfig, owner: string): void {
    findService(this.table, k)!.realServers.push({ config: r });
    this.ownRs(k, r, owner);
  }

  private ownRs(k: ServiceKey, r: RealServerConfig, owner?: string): void {
    let o = findService(this.owned, k);
    if (!o) {
      o = { config: findService(this.table, k)!.config, realServers: [] };
      this.owned.services.push(o);
    }
    o.realServers = [...o.realServers.filter((y) => !same(y.config, r)), { config: r, ...(owner ? { owner } : {}) }];
  }
}

function same(a: RealServerKey, b: RealServerKey): boolean {
  return a.address === b.address && a.port === b.port;
}

/**
 * Makes a fresh FakeIpvs every resource's IPVS client before each test of the enclosing suite
 * (the deployment's claims reset), handing it to `use`, and the real clients again after each test.
 */
export function useFakeIpvs(use: (ipvs: FakeIpvs) => void): void {
  beforeEach(() => {
    const ipvs = new FakeIpvs();
    use(ipvs);
    setIpvsClientFactory(() => ipvs);
    resetClaims();
  });
  afterEach(() => setIpvsClientFactory(undefined));
}
