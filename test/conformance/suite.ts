/**
 * The IPVS client conformance suite: the same cases run against every IpvsClient implementation,
 * and every implementation must read back the same kernel state, equal to what was declared. It
 * runs inside the lab guest against the real kernel (run.ts), with ipvsadm and with netlink.
 *
 * It owns only its own objects (VIPs in 10.99.0.0/16 and fd00:99::/64, fwmarks 9900-9999) and
 * deletes only those: other IPVS state on the host is never touched.
 */
import { realServerChange, serviceChange } from "../../provider/ipvs/change";
import { IpvsAlreadyExistsError, type IpvsClient, IpvsNotFoundError } from "../../provider/ipvs/client";
import {
  type IpvsTable,
  type RealServerConfig,
  type Scheduler,
  type ServiceKey,
  serviceKeyText,
  type VirtualServiceConfig,
} from "../../provider/ipvs/types";

export interface Case {
  name: string;
  services: Array<{ config: VirtualServiceConfig; realServers: RealServerConfig[] }>;
  /** Applied after the first check: in-place edits (ipvsadm -E / -e). */
  edit?: Array<{ config: VirtualServiceConfig; realServers: RealServerConfig[] }>;
}

export interface Outcome {
  case: string;
  /** The implementation that made the state. */
  by: string;
  ok: boolean;
  detail?: string;
  /** Milliseconds for the whole case with this implementation. */
  ms: number;
}

const tcp = (n: number, port = 80): ServiceKey => ({ protocol: "tcp", address: `10.99.0.${n}`, port });
const tcp6 = (n: number, port = 80): ServiceKey => ({ protocol: "tcp", address: `fd00:99::${n}`, port });
const svc = (key: ServiceKey, scheduler: Scheduler = "rr", more: Partial<VirtualServiceConfig> = {}) =>
  ({ key, scheduler, schedulerFlags: [], onePacket: false, ...more }) as VirtualServiceConfig;
const rs = (address: string, port: number, more: Partial<RealServerConfig> = {}): RealServerConfig => ({
  address,
  port,
  forwarding: "dr",
  weight: 1,
  upperThreshold: 0,
  lowerThreshold: 0,
  ...more,
});

/** The cases; `schedulers` lists the schedulers this kernel has (6.1 has no twos). */
export function cases(schedulers: readonly Scheduler[]): Case[] {
  const out: Case[] = [];
  out.push({
    name: "IPv4 tcp, NAT DR TUN, weights and thresholds",
    services: [
      {
        config: svc(tcp(1), "wlc"),
        realServers: [
          rs("10.0.0.11", 8080, { forwarding: "nat", weight: 3, upperThreshold: 100, lowerThreshold: 10 }),
          rs("10.0.0.12", 80, { weight: 0 }),
          rs("10.0.0.13", 80, { forwarding: "tun", weight: 65535 }),
        ],
      },
    ],
    edit: [
      {
        config: svc(tcp(1), "lc"),
        realServers: [
          rs("10.0.0.11", 8080, { forwarding: "nat", weight: 1, upperThreshold: 0, lowerThreshold: 0 }),
          rs("10.0.0.12", 80, { weight: 5, upperThreshold: 2000000000, lowerThreshold: 1 }),
          rs("10.0.0.13", 80, { forwarding: "dr", weight: 2 }),
        ],
      },
    ],
  });
  out.push({
    name: "IPv6 tcp and udp, persistence with a prefix",
    services: [
      {
        config: svc(tcp6(1, 443), "wrr", { persistence: { timeout: 900, netmask: "64" } }),
        realServers: [rs("fd00:10::11", 443, { weight: 2 }), rs("fd00:10::12", 8443, { forwarding: "nat" })],
      },
      { config: svc({ protocol: "udp", address: "fd00:99::2", port: 53 }, "rr"), realServers: [rs("fd00:10::13", 53)] },
    ],
    edit: [
      {
        config: svc(tcp6(1, 443), "wrr", { persistence: { timeout: 60, netmask: "128" } }),
        realServers: [rs("fd00:10::11", 443, { weight: 9 }), rs("fd00:10::12", 8443, { forwarding: "nat" })],
      },
    ],
  });
  out.push({
    name: "fwmark services, IPv4 and IPv6 with the same mark",
    services: [
      { config: svc({ fwmark: 9901, family: "ipv4" }, "sh"), realServers: [rs("10.0.0.11", 0), rs("10.0.0.12", 80)] },
      { config: svc({ fwmark: 9901, family: "ipv6" }, "rr"), realServers: [rs("fd00:10::11", 0)] },
    ],
  });
  for (const [i, s] of schedulers.entries()) {
    out.push({
      name: `scheduler ${s}`,
      services: [
        { config: svc(tcp(10 + i), s), realServers: [rs("10.0.0.11", 80), rs("10.0.0.12", 80, { weight: 2 })] },
      ],
    });
  }
  out.push({
    name: "scheduler flags (sh and mh) and one-packet scheduling",
    services: [
      {
        config: svc(tcp(40), "sh", { schedulerFlags: ["sh-fallback", "sh-port"] }),
        realServers: [rs("10.0.0.11", 80)],
      },
      { config: svc(tcp(41), "mh", { schedulerFlags: ["mh-port"] }), realServers: [rs("10.0.0.11", 80)] },
      {
        config: svc({ protocol: "udp", address: "10.99.0.42", port: 53 }, "rr", { onePacket: true }),
        realServers: [rs("10.0.0.11", 53)],
      },
    ],
    edit: [
      { config: svc(tcp(40), "sh", { schedulerFlags: ["sh-port"] }), realServers: [rs("10.0.0.11", 80)] },
      {
        config: svc(tcp(41), "mh", { schedulerFlags: ["mh-fallback", "mh-port"] }),
        realServers: [rs("10.0.0.11", 80)],
      },
    ],
  });
  out.push({
    name: "persistence, netmask and the sip persistence engine",
    services: [
      {
        config: svc(tcp(50), "rr", { persistence: { timeout: 300, netmask: "255.255.255.0" } }),
        realServers: [rs("10.0.0.11", 80)],
      },
      {
        config: svc({ protocol: "udp", address: "10.99.0.51", port: 5060 }, "rr", {
          persistence: { timeout: 120, netmask: "255.255.255.255" },
          pe: "sip",
        }),
        realServers: [rs("10.0.0.12", 5060)],
      },
    ],
    edit: [
      {
        config: svc(tcp(50), "rr", { persistence: { timeout: 3600, netmask: "255.255.0.0" } }),
        realServers: [rs("10.0.0.11", 80)],
      },
    ],
  });
  out.push({
    name: "tunnel types: ipip, gue with a port and checksums, gre",
    services: [
      {
        config: svc(tcp(60), "rr"),
        realServers: [
          rs("10.0.0.11", 80, { forwarding: "tun" }),
          rs("10.0.0.12", 80, { forwarding: "tun", tunnel: { type: "gue", port: 6080, checksum: "nocsum" } }),
          rs("10.0.0.13", 80, { forwarding: "tun", tunnel: { type: "gue", port: 6081, checksum: "remcsum" } }),
          rs("172.16.0.21", 80, { forwarding: "tun", tunnel: { type: "gre", checksum: "csum" } }),
        ],
      },
    ],
    edit: [
      {
        config: svc(tcp(60), "rr"),
        realServers: [
          rs("10.0.0.11", 80, { forwarding: "tun", tunnel: { type: "gre", checksum: "nocsum" } }),
          rs("10.0.0.12", 80, { forwarding: "tun", tunnel: { type: "gue", port: 7000, checksum: "csum" } }),
          rs("10.0.0.13", 80, { forwarding: "tun" }),
          rs("172.16.0.21", 80, { forwarding: "tun", tunnel: { type: "gre", checksum: "csum" } }),
        ],
      },
    ],
  });
  return out;
}

/** Whether a service key belongs to the suite (it never reads or deletes anything else). */
export function isSuiteKey(k: ServiceKey): boolean {
  if ("fwmark" in k) return k.fwmark >= 9900 && k.fwmark <= 9999;
  return k.address.startsWith("10.99.") || k.address.startsWith("fd00:99::");
}

/** The suite's part of a table, identity and configuration only, in a stable order. */
export function suiteState(t: IpvsTable): unknown {
  return t.services
    .filter((s) => isSuiteKey(s.config.key))
    .map((s) => ({
      config: { ...s.config, schedulerFlags: [...s.config.schedulerFlags].sort() },
      realServers: s.realServers
        .map((r) => r.config)
        .sort((a, b) => `${a.address}|${a.port}`.localeCompare(`${b.address}|${b.port}`)),
    }))
    .sort((a, b) => serviceKeyText(a.config.key).localeCompare(serviceKeyText(b.config.key)));
}

const plain = (v: unknown) => JSON.stringify(v, (_k, x) => (x === undefined ? undefined : x));

/** Makes fresh clients, one per implementation (fresh: no snapshot cached from before a change). */
export type Clients = () => Record<string, IpvsClient>;

async function expectState(readers: Clients, want: Case["services"], when: string): Promise<void> {
  const expected = plain(
    suiteState({
      services: want.map((s) => ({ config: s.config, realServers: s.realServers.map((config) => ({ config })) })),
    }),
  );
  const ledgers: string[] = [];
  for (const [name, c] of Object.entries(readers())) {
    const snap = await c.snapshot();
    const got = plain(suiteState(snap.table));
    if (got !== expected) throw new Error(`${when}: ${name} reads\n  ${got}\nwanted\n  ${expected}`);
    ledgers.push(plain(suiteState(snap.owned)));
    if (ledgers[0] !== ledgers.at(-1)) throw new Error(`${when}: ${name} reads another ledger`);
  }
  if (ledgers[0] !== expected) throw new Error(`${when}: the ledger has\n  ${ledgers[0]}\nwanted\n  ${expected}`);
  // a snapshot of the declared services and one that does not exist (fresh clients: read, not
  // scoped from a whole snapshot shared) holds the same, table and ledger
  const services = [...want.map((s) => s.config.key), tcp(254, 9)];
  for (const [name, c] of Object.entries(readers())) {
    const snap = await c.snapshot({ services });
    for (const [what, t] of [
      ["table", snap.table],
      ["ledger", snap.owned],
    ] as const) {
      const got = plain(suiteState(t));
      if (got !== expected)
        throw new Error(
          `${when}: ${name}'s snapshot of the suite's services reads the ${what}\n  ${got}\nwanted\n  ${expected}`,
        );
    }
  }
}

/** Deletes every object of the suite, with `c`. */
export async function cleanUp(c: IpvsClient): Promise<void> {
  for (const s of (await c.snapshot()).table.services) {
    if (isSuiteKey(s.config.key)) await c.apply(serviceChange("delete", s.config.key)).catch(() => undefined);
  }
}

/**
 * Runs every case once per implementation: that implementation makes the state (adds, then edits,
 * then deletes), and after each step every implementation must read back exactly the declared
 * state. The error semantics are checked on the way: adding what exists is "already exists",
 * editing or deleting what is gone is "not found".
 */
export async function runSuite(
  clients: Clients,
  schedulers: readonly Scheduler[],
  report: (o: Outcome) => void,
  which: (c: Case) => boolean = () => true,
): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (const c of cases(schedulers).filter(which)) {
    for (const by of Object.keys(clients())) {
      const client = clients()[by]!;
      const t0 = Date.now();
      let outcome: Outcome;
      try {
        await cleanUp(client);
        await Promise.all(
          c.services.map(async (s) => {
            await client.apply(serviceChange("add", s.config, `conformance/${by}/${c.name}`));
            await Promise.all(s.realServers.map((r) => client.apply(realServerChange("add", s.config.key, r))));
          }),
        );
        await expectState(clients, c.services, "after adding");
        const first = c.services[0]!;
        await expectError(
          client.apply(serviceChange("add", first.config)),
          IpvsAlreadyExistsError,
          "adding an existing service",
        );
        await expectError(
          client.apply(realServerChange("add", first.config.key, first.realServers[0]!)),
          IpvsAlreadyExistsError,
          "adding an existing real server",
        );
        if (c.edit) {
          for (const s of c.edit) {
            await client.apply(serviceChange("edit", s.config));
            for (const r of s.realServers) await client.apply(realServerChange("edit", s.config.key, r));
          }
          const edited = c.services.map(
            (s) => c.edit!.find((e) => serviceKeyText(e.config.key) === serviceKeyText(s.config.key)) ?? s,
          );
          await expectState(clients, edited, "after editing");
        }
        await client.apply(realServerChange("delete", first.config.key, first.realServers[0]!));
        await expectError(
          client.apply(realServerChange("delete", first.config.key, first.realServers[0]!)),
          IpvsNotFoundError,
          "deleting a deleted real server",
        );
        for (const s of c.services) await client.apply(serviceChange("delete", s.config.key));
        await expectError(
          client.apply(serviceChange("delete", first.config.key)),
          IpvsNotFoundError,
          "deleting a deleted service",
        );
        await expectError(
          client.apply(serviceChange("edit", first.config)),
          IpvsNotFoundError,
          "editing a deleted service",
        );
        await expectState(clients, [], "after deleting");
        await expectUnrecorded(clients, client, first);
        outcome = { case: c.name, by, ok: true, ms: Date.now() - t0 };
      } catch (e) {
        outcome = { case: c.name, by, ok: false, detail: String((e as Error).stack ?? e), ms: Date.now() - t0 };
        await cleanUp(client).catch(() => undefined);
      }
      outcomes.push(outcome);
      report(outcome);
    }
  }
  return outcomes;
}

/**
 * A change applied unrecorded (as keepalived's repairs are) reaches the kernel, leaves the ledger
 * as it was, and keeps the error semantics; recording it then (a take-over) claims it in the
 * ledger and leaves the kernel as it was.
 */
async function expectUnrecorded(readers: Clients, client: IpvsClient, s: Case["services"][0]): Promise<void> {
  const r = s.realServers[0]!;
  await client.applyUnrecorded(serviceChange("add", s.config));
  await client.applyUnrecorded(realServerChange("add", s.config.key, r));
  await expectError(
    client.applyUnrecorded(serviceChange("add", s.config)),
    IpvsAlreadyExistsError,
    "adding an existing service unrecorded",
  );
  for (const [name, c] of Object.entries(readers())) {
    const snap = await c.snapshot();
    const table = plain(suiteState(snap.table));
    const want = plain(suiteState({ services: [{ config: s.config, realServers: [{ config: r }] }] }));
    if (table !== want) throw new Error(`after an unrecorded add: ${name} reads\n  ${table}\nwanted\n  ${want}`);
    const owned = plain(suiteState(snap.owned));
    if (owned !== "[]") throw new Error(`an unrecorded add reached the ledger, as ${name} reads it: ${owned}`);
  }
  // taken over as it is (adopt: "exact"): recorded in the ledger, the kernel left alone
  await client.record([serviceChange("add", s.config, "conformance/record"), realServerChange("add", s.config.key, r)]);
  for (const [name, c] of Object.entries(readers())) {
    const snap = await c.snapshot();
    const want = plain(suiteState({ services: [{ config: s.config, realServers: [{ config: r }] }] }));
    const [table, owned] = [plain(suiteState(snap.table)), plain(suiteState(snap.owned))];
    if (table !== want) throw new Error(`after recording: ${name} reads the kernel as\n  ${table}\nwanted\n  ${want}`);
    if (owned !== want) throw new Error(`after recording: ${name} reads the ledger as\n  ${owned}\nwanted\n  ${want}`);
  }
  await client.apply(serviceChange("delete", s.config.key));
  await expectError(
    client.applyUnrecorded(serviceChange("delete", s.config.key)),
    IpvsNotFoundError,
    "deleting a deleted service unrecorded",
  );
  await expectState(readers, [], "after an unrecorded delete");
}

async function expectError(p: Promise<unknown>, type: new (...a: never[]) => Error, what: string): Promise<void> {
  try {
    await p;
  } catch (e) {
    if (e instanceof type) return;
    throw new Error(`${what}: wanted ${type.name}, got ${(e as Error).name}: ${(e as Error).message}`);
  }
  throw new Error(`${what}: wanted ${type.name}, but it succeeded`);
}
