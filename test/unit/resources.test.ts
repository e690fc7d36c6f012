import * as assert from "node:assert/strict";
import { beforeEach, describe, it } from "node:test";
import { resetClaims } from "../../provider/resources/check";
import { realServer } from "../../provider/resources/real-server";
import { realServerHost } from "../../provider/resources/real-server-host";
import { virtualService } from "../../provider/resources/virtual-service";
import { type FakeIpvs, useFakeIpvs } from "./fakes/ipvs";
import { checked, conn } from "./fixtures";

// The VirtualService and RealServer lifecycles against an in-memory IPVS host.
let ipvs: FakeIpvs;
useFakeIpvs((fake) => {
  ipvs = fake;
});

const vsInputs = (extra: Record<string, unknown> = {}) =>
  checked(virtualService, {
    connection: conn(),
    protocol: "tcp",
    address: "10.0.0.100",
    port: 80,
    scheduler: "rr",
    ...extra,
  });
const rsInputs = (address: string, extra: Record<string, unknown> = {}) =>
  checked(realServer, {
    connection: conn(),
    service: { protocol: "tcp", address: "10.0.0.100", port: 80 },
    address,
    ...extra,
  });
const svcKey = { protocol: "tcp" as const, address: "10.0.0.100", port: 80 };
const rsCfg = (address: string) => ({
  address,
  port: 80,
  forwarding: "dr" as const,
  weight: 1,
  upperThreshold: 0,
  lowerThreshold: 0,
});

describe("VirtualService lifecycle", () => {
  it("create adds the service; the id reads like ipvsadm", async () => {
    const r = await virtualService.create!(await vsInputs());
    assert.equal(r.id, "127.0.0.1:2201/tcp/10.0.0.100:80");
    assert.equal(ipvs.table.services[0]!.config.scheduler, "rr");
  });

  it("create fails on a service made by hand, unless adopt", async () => {
    ipvs.byHand({ key: svcKey, scheduler: "wlc", schedulerFlags: [], onePacket: false });
    await assert.rejects(virtualService.create!(await vsInputs()), /already exists .* set adopt: true/s);
    assert.equal(ipvs.table.services[0]!.config.scheduler, "wlc", "untouched");
    await virtualService.create!(await vsInputs({ adopt: true }));
    assert.equal(ipvs.table.services[0]!.config.scheduler, "rr", "converged");
    assert.equal(ipvs.owned.services.length, 1, "now owned");
  });

  it("read reports live configuration and strays; a missing service gives an empty id", async () => {
    const inputs = await vsInputs();
    const { id, outs } = await virtualService.create!(inputs);
    ipvs.table.services[0]!.config.scheduler = "wlc";
    ipvs.byHand(ipvs.table.services[0]!.config, [rsCfg("10.0.0.99")]);
    const r = await virtualService.read!(id, outs);
    assert.equal(r.props.scheduler, "wlc");
    assert.deepEqual(r.props.strayRealServers, ["10.0.0.99:80"]);
    ipvs.table.services = [];
    assert.equal((await virtualService.read!(id, outs)).id, "");
  });

  it("read throws when the host cannot be reached: never mistaken for a deletion", async () => {
    const { id, outs } = await virtualService.create!(await vsInputs());
    ipvs.unreachable = true;
    await assert.rejects(virtualService.read!(id, outs), /could not connect/);
  });

  it("strays are drift only for an exclusive service, and update removes them", async () => {
    const inputs = await vsInputs({ exclusive: true });
    const { id, outs } = await virtualService.create!(inputs);
    ipvs.byHand(ipvs.table.services[0]!.config, [rsCfg("10.0.0.99")]);
    const read = (await virtualService.read!(id, outs)).props;
    assert.equal((await virtualService.diff!(id, read, inputs)).changes, true);
    const nonExclusive = await vsInputs();
    assert.equal((await virtualService.diff!(id, { ...read, exclusive: false }, nonExclusive)).changes, false);
    await virtualService.update!(id, read, inputs);
    assert.deepEqual(ipvs.table.services[0]!.realServers, []);
  });

  it("identity changes replace (delete first); the rest updates in place", async () => {
    const olds = { ...(await vsInputs()), strayRealServers: [] };
    let d = await virtualService.diff!("x", olds, await vsInputs({ port: 8080 }));
    assert.deepEqual([d.changes, d.replaces, d.deleteBeforeReplace], [true, ["port"], true]);
    d = await virtualService.diff!("x", olds, await vsInputs({ scheduler: "wlc" }));
    assert.deepEqual([d.changes, d.replaces], [true, []]);
    d = await virtualService.diff!("x", olds, await vsInputs({ connection: conn({ port: 2299 }) }));
    assert.deepEqual(d.replaces, ["host"]);
    d = await virtualService.diff!("x", olds, await vsInputs({ connection: conn({ dialTimeout: 30 }) }));
    assert.deepEqual([d.changes, d.replaces], [true, []], "credentials and timeouts: update, no replace");
  });

  it("delete leaves a service that still has real servers the stack does not own", async () => {
    const { id, outs } = await virtualService.create!(await vsInputs());
    ipvs.byHand(ipvs.table.services[0]!.config, [rsCfg("10.0.0.99")]);
    await virtualService.delete!(id, outs);
    assert.equal(ipvs.table.services.length, 1);
    ipvs.table.services[0]!.realServers = [];
    await virtualService.delete!(id, outs);
    assert.equal(ipvs.table.services.length, 0);
  });
});

describe("a ledger lost while the rules stay in the kernel (a wiped /var/lib, a reinstalled host)", () => {
  it("real servers show as drift, an exclusive service does not prune them, and up re-owns them", async () => {
    const vs = await vsInputs({ exclusive: true });
    const { id: vsId, outs: vsOuts } = await virtualService.create!(vs);
    const rsIn = await rsInputs("10.0.0.11");
    const { id: rsId, outs: rsOuts } = await realServer.create!(rsIn);
    ipvs.owned = { services: [] }; // the ledger is gone, the kernel still has everything
    // refresh (as `up --refresh` does): the service sees a stray, the real server sees it is not owned
    const vsRead = (await virtualService.read!(vsId, vsOuts)).props;
    const rsRead = (await realServer.read!(rsId, rsOuts)).props;
    assert.deepEqual(vsRead.strayRealServers, ["10.0.0.11:80"]);
    assert.equal(rsRead.owned, false);
    assert.equal((await realServer.diff!(rsId, rsRead, rsIn)).changes, true, "drift on the real server");
    // up: the service updates first (the real server depends on it), then the real server
    await virtualService.update!(vsId, vsRead, vs);
    assert.equal(ipvs.table.services[0]!.realServers.length, 1, "a declared real server is not pruned as a stray");
    await realServer.update!(rsId, rsRead, rsIn);
    assert.equal(ipvs.owned.services[0]?.realServers.length, 1, "owned again");
    assert.deepEqual((await virtualService.read!(vsId, vsOuts)).props.strayRealServers, []);
  });
});

describe("RealServer lifecycle", () => {
  beforeEach(async () => {
    await virtualService.create!(await vsInputs());
  });

  it("create, read, update in place, delete", async () => {
    const inputs = await rsInputs("10.0.0.11", { weight: 2 });
    const { id, outs } = await realServer.create!(inputs);
    assert.equal(id, "127.0.0.1:2201/tcp/10.0.0.100:80/10.0.0.11:80");
    ipvs.table.services[0]!.realServers[0]!.config.weight = 9;
    const read = (await realServer.read!(id, outs)).props;
    assert.equal(read.weight, 9);
    const d = await realServer.diff!(id, read, inputs);
    assert.deepEqual([d.changes, d.replaces], [true, []]);
    await realServer.update!(id, read, inputs);
    assert.equal(ipvs.table.services[0]!.realServers[0]!.config.weight, 2);
    assert.ok(!ipvs.calls.some((c) => c.startsWith("delete")), "no delete on a weight change");
    await realServer.delete!(id, outs);
    assert.deepEqual(ipvs.table.services[0]!.realServers, []);
  });

  it("a real server deleted by hand reads as gone; update puts a missing one back", async () => {
    const inputs = await rsInputs("10.0.0.11");
    const { id, outs } = await realServer.create!(inputs);
    ipvs.table.services[0]!.realServers = [];
    assert.equal((await realServer.read!(id, outs)).id, "");
    await realServer.update!(id, outs, inputs);
    assert.equal(ipvs.table.services[0]!.realServers.length, 1);
  });

  it("create without the service says to declare it", async () => {
    ipvs.table.services = [];
    await assert.rejects(
      realServer.create!(await rsInputs("10.0.0.11")),
      /does not exist .* Declare it with a VirtualService/s,
    );
  });

  it("delete of a real server already gone succeeds", async () => {
    const { id, outs } = await realServer.create!(await rsInputs("10.0.0.11"));
    ipvs.table.services[0]!.realServers = [];
    await realServer.delete!(id, outs);
  });

  it("a failed connection on delete is an error (the resource stays in the state)", async () => {
    const { id, outs } = await realServer.create!(await rsInputs("10.0.0.11"));
    ipvs.unreachable = true;
    await assert.rejects(realServer.delete!(id, outs), /could not connect/);
  });
});

describe("a run cut short, and two resources declaring one object", () => {
  beforeEach(async () => {
    await virtualService.create!(await vsInputs({ owner: "shop/prod/web" }));
  });

  it("a rerun takes back the real server its interrupted create made; another resource's is refused", async () => {
    // the earlier run's create reached the kernel, but its answer was lost: not in the state
    ipvs.interruptedAdd(svcKey, rsCfg("10.0.0.11"), "shop/prod/rs1");
    const again = await realServer.create!(await rsInputs("10.0.0.11", { owner: "shop/prod/rs1", weight: 4 }));
    assert.equal(again.id, "127.0.0.1:2201/tcp/10.0.0.100:80/10.0.0.11:80");
    assert.equal(ipvs.table.services[0]!.realServers[0]!.config.weight, 4, "converged to the declaration");

    resetClaims(); // another deployment (another stack)
    await assert.rejects(
      realServer.create!(await rsInputs("10.0.0.11", { owner: "shop/staging/rs1" })),
      /already exists .* records it as "shop\/prod\/rs1".* set adopt: true/s,
    );
    assert.equal(ipvs.table.services[0]!.realServers[0]!.config.weight, 4, "untouched");
  });

  it("a service made by an interrupted create of the same resource is taken back too", async () => {
    ipvs.table.services = [];
    ipvs.owned.services = [];
    await virtualService.create!(await vsInputs({ owner: "shop/prod/web" }));
    const again = await virtualService.create!(await vsInputs({ owner: "shop/prod/web", scheduler: "wlc" }));
    assert.equal(again.id, "127.0.0.1:2201/tcp/10.0.0.100:80");
    assert.equal(ipvs.table.services[0]!.config.scheduler, "wlc");
  });

  it("check refuses a second resource that declares the same real server or service, naming the first", async () => {
    await rsInputs("10.0.0.11", { owner: "shop/prod/rs1" });
    await rsInputs("10.0.0.11", { owner: "shop/prod/rs1" }); // the same resource again is fine
    const dup = await realServer.check!(
      {},
      {
        connection: conn(),
        service: { protocol: "tcp", address: "10.0.0.100", port: 80 },
        address: "10.0.0.11",
        owner: "shop/prod/rs1-again",
      },
    );
    assert.deepEqual(
      dup.failures?.map((f) => f.property),
      ["address"],
    );
    assert.match(dup.failures![0]!.reason, /already declared by resource "rs1"/);
    const vdup = await virtualService.check!(
      {},
      {
        connection: conn(),
        protocol: "tcp",
        address: "10.0.0.100",
        port: 80,
        scheduler: "rr",
        owner: "shop/prod/web-again",
      },
    );
    assert.match(
      vdup.failures![0]!.reason,
      /virtual service tcp\/10\.0\.0\.100:80 is already declared by resource "web"/,
    );
    assert.deepEqual(
      ipvs.calls.filter((c) => c !== "snapshot").length,
      1,
      "check touched no host (1 = the service created above)",
    );
  });
});

describe("a tun real server and its host's tunnels, checked across the deployment at preview", () => {
  const host = (owner: string, extra: Record<string, unknown>) =>
    realServerHost.check!(
      {},
      {
        connection: conn({ port: 2206 }),
        mode: "tun",
        vips: ["10.0.0.100"],
        addresses: ["172.16.0.21"],
        owner,
        ...extra,
      },
    );
  const sender = (owner: string, tunnel?: Record<string, unknown>) =>
    realServer.check!(
      {},
      {
        connection: conn(),
        service: { protocol: "tcp", address: "10.0.0.100", port: 80 },
        address: "172.16.0.21",
        forwarding: "tun",
        owner,
        ...(tunnel ? { tunnel } : {}),
      },
    );

  it("a GRE real server on a host that receives only ipip fails, naming both, whichever is checked first", async () => {
    const h = await host("shop/prod/rs4-host", {});
    assert.deepEqual(h.failures, []);
    const r = await sender("shop/prod/rs4", { type: "gre" });
    assert.deepEqual(
      r.failures?.map((f) => f.property),
      ["tunnel"],
    );
    assert.match(
      r.failures![0]!.reason,
      /172\.16\.0\.21 needs gre of its host, but .*"rs4-host" is prepared for ipip: add \{type: "gre"\}/,
    );

    resetClaims(); // the other order
    assert.deepEqual((await sender("shop/prod/rs4", { type: "gue", port: 6080 })).failures, []);
    const h2 = await host("shop/prod/rs4-host", { tunnels: [{ type: "gue", port: 7000 }] });
    assert.deepEqual(
      h2.failures?.map((f) => f.property),
      ["mode"],
    );
    assert.match(
      h2.failures![0]!.reason,
      /RealServer "rs4" at 172\.16\.0\.21 needs gue port 6080 of this host, which is prepared for gue port 7000/,
    );
  });

  it("matching tunnels pass, and so does a host that names no addresses", async () => {
    assert.deepEqual((await host("shop/prod/rs4-host", { tunnels: [{ type: "ipip" }, { type: "gre" }] })).failures, []);
    assert.deepEqual((await sender("shop/prod/rs4", { type: "gre", checksum: "csum" })).failures, []);
    resetClaims();
    await host("shop/prod/rs4-host", {});
    assert.deepEqual((await sender("shop/prod/rs4")).failures, [], "ipip by default");
    resetClaims();
    assert.deepEqual((await sender("shop/prod/rs4", { type: "gre" })).failures, []);
    assert.deepEqual(
      (
        await realServerHost.check!(
          {},
          { connection: conn({ port: 2206 }), mode: "tun", vips: ["10.0.0.100"], owner: "shop/prod/rs4-host" },
        )
      ).failures,
      [],
    );
  });

  it("a tun real server whose host is prepared for dr fails", async () => {
    await host("shop/prod/rs4-host", { mode: "dr" });
    const r = await sender("shop/prod/rs4");
    assert.match(r.failures![0]!.reason, /is prepared for mode dr/);
  });

  it("a NAT real server whose host does not route its port back fails", async () => {
    const nat = { mode: "nat", vips: [], gateway: "10.0.0.2", ports: [8080] };
    assert.deepEqual((await host("shop/prod/rs4-host", nat)).failures, []);
    const r = await realServer.check!(
      {},
      {
        connection: conn(),
        service: { protocol: "tcp", address: "10.0.0.100", port: 80 },
        address: "172.16.0.21",
        forwarding: "nat",
        owner: "shop/prod/rs4",
      },
    );
    assert.match(
      r.failures![0]!.reason,
      /needs nat port 80 of its host, .* prepared for nat port 8080: add 80 to the RealServerHost's ports/,
    );
  });
});
