import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { HostFacts } from "../../provider/host/probe";
import { directorInputs, realServerHostInputs } from "../../provider/model/host";
import { director, directorPlan } from "../../provider/resources/director";
import { hostDifferences, takeOverPlan } from "../../provider/resources/host-plan";
import { realServer } from "../../provider/resources/real-server";
import { realServerHost, realServerHostPlan } from "../../provider/resources/real-server-host";
import { virtualService } from "../../provider/resources/virtual-service";
import { type FakeIpvs, useFakeIpvs } from "./fakes/ipvs";
import { checked, conn, realServerFixture, serviceFixture } from "./fixtures";

// adopt: "exact" (what pulumi-lvs import writes): an object already as declared is taken over with
// the kernel untouched; anything else fails, naming each difference, with nothing changed.
let ipvs: FakeIpvs;
useFakeIpvs((fake) => {
  ipvs = fake;
});

const service = (extra: Record<string, unknown> = {}) =>
  checked(virtualService, {
    connection: conn(),
    protocol: "tcp",
    address: "10.0.0.100",
    port: 80,
    scheduler: "wrr",
    adopt: "exact",
    realServers: { "10.0.0.11": { weight: 3 }, "10.0.0.12": { weight: 1, upperThreshold: 50 } },
    owner: "shop/prod/web",
    ...extra,
  });
const live = () => {
  ipvs.byHand(serviceFixture({ scheduler: "wrr" }), [
    realServerFixture("10.0.0.11", { weight: 3 }),
    realServerFixture("10.0.0.12", { upperThreshold: 50 }),
  ]);
};
/** The kernel mutations the fake saw (reads and ledger records aside). */
/** (read through a call: an assertion above would narrow the property itself to never[]) */
const ownedServices = () => ipvs.owned.services;
const mutations = () => ipvs.calls.filter((c) => !/^(snapshot|record|timeouts)/.test(c));

describe('VirtualService adopt: "exact"', () => {
  it("takes a service that is as declared over with no kernel change, and records it and its real servers", async () => {
    live();
    const before = structuredClone(ipvs.table);
    const r = await virtualService.create!(await service());
    assert.deepEqual(ipvs.table, before, "the kernel is as it was");
    assert.deepEqual(mutations(), [], "no ipvsadm change ran");
    assert.equal(ipvs.owned.services.length, 1);
    assert.deepEqual(ipvs.owned.services[0]!.realServers.map((x) => x.config.address).sort(), [
      "10.0.0.11",
      "10.0.0.12",
    ]);
    assert.deepEqual(r.outs.strayRealServers, []);
  });

  it("fails naming each difference (setting, weight, missing and undeclared real servers) and changes nothing", async () => {
    ipvs.byHand(serviceFixture({ scheduler: "rr" }), [
      realServerFixture("10.0.0.11", { weight: 2 }),
      realServerFixture("10.0.0.13"),
    ]);
    const before = structuredClone(ipvs.table);
    const err = await virtualService.create!(await service()).then(
      () => assert.fail("took over a service that differs"),
      (e: Error) => e.message,
    );
    for (const expected of [
      "scheduler: the kernel has rr, the program declares wrr",
      "real server 10.0.0.11:80: weight: the kernel has 2, the program declares 3",
      "real server 10.0.0.12:80: not in the kernel",
      "real server 10.0.0.13:80: in the kernel, not declared",
    ])
      assert.ok(err.includes(expected), `${expected}\nin: ${err}`);
    assert.match(err, /nothing was changed/);
    assert.deepEqual(ipvs.table, before);
    assert.deepEqual(ipvs.owned.services, []);
    assert.deepEqual(mutations(), []);
  });

  it("fails when the service is not there, instead of creating it", async () => {
    await assert.rejects(virtualService.create!(await service()), /not in the kernel/);
    assert.deepEqual(ipvs.table.services, []);
  });

  it("takes a real server of its own over the same way, and names what differs", async () => {
    live();
    const rs = (weight: number) =>
      checked(realServer, {
        connection: conn(),
        service: { protocol: "tcp", address: "10.0.0.100", port: 80 },
        address: "10.0.0.11",
        weight,
        adopt: "exact",
      });
    await assert.rejects(realServer.create!(await rs(5)), /weight: the kernel has 3, the program declares 5/);
    assert.deepEqual(ipvs.owned.services, []);
    await realServer.create!(await rs(3));
    assert.deepEqual(mutations(), []);
    assert.equal(ownedServices().at(0)?.realServers.at(0)?.config.address, "10.0.0.11");
  });

  it('rejects another value at check: adopt is true, false or "exact"', async () => {
    const r = await virtualService.check!(
      {},
      { connection: conn(), protocol: "tcp", address: "10.0.0.1", port: 80, adopt: "yes" },
    );
    assert.match(r.failures?.[0]?.reason ?? "", /adopt.*true, false or "exact"/);
  });
});

describe('Director and RealServerHost adopt: "exact"', () => {
  const plan = directorPlan(
    directorInputs.parse({
      connection: conn(),
      ipvsSysctls: { expire_nodest_conn: 1 },
      timeouts: { tcp: 600 },
      modules: ["ip_vs_wrr"],
      vips: [{ address: "10.0.0.100", interface: "eth0" }],
      persist: false,
      adopt: "exact",
    }),
  );
  const facts = (over: Partial<HostFacts> = {}): HostFacts => ({
    sysctls: new Map([["net.ipv4.vs.expire_nodest_conn", "1"]]),
    addresses: [{ address: "10.0.0.100", prefix: 32, device: "eth0" }],
    links: new Map([["eth0", true]]),
    modules: new Set(["ip_vs", "ip_vs_wrr"]),
    files: new Map(),
    listings: new Map(),
    timeouts: { tcp: 600, tcpFin: 120, udp: 300 },
    ...over,
  });

  it("finds no difference when the host has every declared setting", () => {
    assert.deepEqual(hostDifferences(plan, facts()), []);
  });

  it("names each setting that differs, with the host's value and the declared one", () => {
    const diffs = hostDifferences(
      plan,
      facts({
        sysctls: new Map([["net.ipv4.vs.expire_nodest_conn", "0"]]),
        addresses: [],
        modules: new Set(["ip_vs"]),
        timeouts: { tcp: 900, tcpFin: 120, udp: 300 },
      }),
    );
    assert.deepEqual(diffs, [
      "sysctl net.ipv4.vs.expire_nodest_conn: the host has 0, the program declares 1",
      "module ip_vs_wrr: not loaded",
      "address 10.0.0.100/32 dev eth0: not on the host",
      "IPVS timeout tcp: the host has 900 s, the program declares 600 s",
    ]);
  });

  it("applies only values the host has: no address replaced (its lifetimes kept), nothing announced", () => {
    const applied = takeOverPlan("lb1", "the director's settings", plan, facts());
    assert.deepEqual(applied.addresses, []);
    assert.deepEqual(applied.announce, []);
    assert.deepEqual(applied.sysctls, plan.sysctls, "the same values, written again");
    assert.throws(
      () => takeOverPlan("lb1", "the director's settings", plan, facts({ addresses: [] })),
      /on lb1: adopt: "exact": the director's settings are not as the program declares them.*address 10\.0\.0\.100\/32 dev eth0: not on the host/s,
    );
  });

  it('rejects adopt: true on a Director at check: only "exact" means something there', async () => {
    const r = await director.check!({}, { connection: conn(), adopt: true });
    assert.match(r.failures?.[0]?.reason ?? "", /must be "exact"/);
  });
});

describe("RealServerHost arpInterfaces (a host prepared by hand, taken over as it is)", () => {
  const plan = (extra: Record<string, unknown>) =>
    realServerHostPlan(
      realServerHostInputs.parse({ connection: conn(), mode: "dr", vips: ["10.0.0.100"], ...extra }),
      "eth0",
    );
  const arp = (p: ReturnType<typeof plan>) => p.sysctls.map(([s, v]) => `${s.name}=${v}`);

  it("sets the ARP settings on all and the interface by default, and on exactly the listed interfaces otherwise", () => {
    assert.deepEqual(arp(plan({})), [
      "net.ipv4.conf.all.arp_ignore=1",
      "net.ipv4.conf.all.arp_announce=2",
      "net.ipv4.conf.eth0.arp_ignore=1",
      "net.ipv4.conf.eth0.arp_announce=2",
    ]);
    assert.deepEqual(arp(plan({ arpInterfaces: ["all", "lo"] })), [
      "net.ipv4.conf.all.arp_ignore=1",
      "net.ipv4.conf.all.arp_announce=2",
      "net.ipv4.conf.lo.arp_ignore=1",
      "net.ipv4.conf.lo.arp_announce=2",
    ]);
  });

  it('must include "all", and is not for nat', async () => {
    const fail = async (extra: Record<string, unknown>) =>
      (await realServerHost.check!({}, { connection: conn(), ...extra })).failures?.map((f) => f.reason).join("; ");
    assert.match(
      (await fail({ mode: "dr", vips: ["10.0.0.100"], arpInterfaces: ["eth0"] })) ?? "",
      /must include "all"/,
    );
    assert.match(
      (await fail({ mode: "nat", gateway: "10.0.0.2", ports: [80], arpInterfaces: ["all"] })) ?? "",
      /arpInterfaces: is only for modes "dr" and "tun"/,
    );
  });
});
