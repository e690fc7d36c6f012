import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import { UNKNOWN } from "../../provider/model/unknown";
import { director } from "../../provider/resources/director";
import { realServer } from "../../provider/resources/real-server";
import { realServerHost } from "../../provider/resources/real-server-host";
import { virtualService } from "../../provider/resources/virtual-service";
import { conn } from "./fixtures";

async function vsFailures(news: Record<string, unknown>) {
  const r = await virtualService.check!({}, { __provider: "x", ...news });
  return r.failures ?? [];
}
async function rsFailures(news: Record<string, unknown>) {
  const r = await realServer.check!({}, { __provider: "x", ...news });
  return r.failures ?? [];
}

const vs = { connection: conn(), protocol: "tcp", address: "10.0.0.100", port: 80, scheduler: "rr" };
const svcRef = { protocol: "tcp", address: "10.0.0.100", port: 80 };
const rs = { connection: conn(), service: svcRef, address: "10.0.0.11", forwarding: "dr" };

describe("VirtualService check", () => {
  it("accepts a valid service, normalizes it and keeps __provider", async () => {
    const r = await virtualService.check!({}, { __provider: "shim", ...vs, address: "10.0.0.100", schedulerFlags: [] });
    assert.deepEqual(r.failures, []);
    assert.equal(r.inputs.__provider, "shim");
    assert.equal(r.inputs.onePacket, false);
    assert.equal(r.inputs.connection.dialAttempts, 3);
  });

  it("normalizes IPv6 addresses and persistence netmasks", async () => {
    const r = await virtualService.check!({}, { ...vs, address: "FD00:0010:0::0100", persistence: { netmask: 64 } });
    assert.deepEqual(r.failures, []);
    assert.equal(r.inputs.address, "fd00:10::100");
    assert.deepEqual(r.inputs.persistence, { timeout: 300, netmask: "64" });
  });

  const bad: Array<[string, Record<string, unknown>, string, RegExp]> = [
    ["bad address", { ...vs, address: "10.0.0.300" }, "address", /not an IPv4 or IPv6 address/],
    ["port 0", { ...vs, port: 0 }, "port", /from 1 to 65535/],
    ["fractional port", { ...vs, port: 80.5 }, "port", /integer/],
    ["unknown protocol", { ...vs, protocol: "icmp" }, "protocol", /tcp, udp, sctp/],
    ["unknown scheduler", { ...vs, scheduler: "random" }, "scheduler", /not a kernel scheduler/],
    [
      "flag for another scheduler",
      { ...vs, scheduler: "rr", schedulerFlags: ["sh-port"] },
      "schedulerFlags",
      /needs scheduler sh/,
    ],
    ["unknown flag", { ...vs, scheduler: "sh", schedulerFlags: ["sh-nope"] }, "schedulerFlags", /not a scheduler flag/],
    ["fwmark with address", { ...vs, fwmark: 1 }, "protocol", /must not be set with fwmark/],
    ["fwmark 0", { connection: conn(), fwmark: 0 }, "fwmark", /from 1/],
    ["missing port", { connection: conn(), protocol: "tcp", address: "10.0.0.1" }, "port", /is required/],
    ["family mismatch", { ...vs, family: "ipv6" }, "family", /is ipv6 but address 10.0.0.100 is ipv4/],
    [
      "v4 netmask on v6",
      { ...vs, address: "fd00::1", persistence: { netmask: "255.255.255.0" } },
      "persistence",
      /prefix length/,
    ],
    ["non-contiguous mask", { ...vs, persistence: { netmask: "255.0.255.0" } }, "persistence", /contiguous/],
    ["timeout 0", { ...vs, persistence: { timeout: 0 } }, "persistence", /from 1 to/],
    ["pe without persistence", { ...vs, pe: "sip" }, "pe", /needs persistence/],
    ["ops on tcp", { ...vs, onePacket: true }, "onePacket", /UDP/],
    ["no host key", { ...vs, connection: conn({ hostKey: undefined }) }, "", /hostKey: is required/],
    [
      "garbage host key",
      { ...vs, connection: conn({ hostKey: "ssh-ed25519 Zm9v" }) },
      "",
      /not a ssh-ed25519 public key/,
    ],
    ["key path instead of key", { ...vs, connection: conn({ privateKey: "~/.ssh/id_ed25519" }) }, "", /not a path/],
    ["bad ssh port", { ...vs, connection: conn({ port: 70000 }) }, "", /connection.port/],
    ["empty host", { ...vs, connection: conn({ host: "" }) }, "", /connection.host/],
    ["bad user", { ...vs, connection: conn({ user: "root; rm -rf /" }) }, "", /connection.user/],
    ["unknown field", { ...vs, weight: 3 }, "weight", /weight: is not a known argument/],
  ];
  for (const [name, input, property, reason] of bad) {
    it(`rejects ${name}`, async () => {
      const f = await vsFailures(input);
      assert.ok(f.length > 0, "has failures");
      assert.ok(
        f.some((x) => x.property === property && reason.test(x.reason)),
        `expected a failure on ${property} matching ${reason}, got ${JSON.stringify(f)}`,
      );
    });
  }

  it("reports connection failures without a property: the engine would print the value, secrets and all", async () => {
    const f = await vsFailures({ ...vs, connection: conn({ password: "hunter2-pw", dialTimeout: 0 }) });
    assert.deepEqual(
      f.map((x) => [x.property, x.reason]),
      [["", "connection.dialTimeout: must be more than 0 seconds"]],
    );
  });

  it("does not judge unknown values at preview", async () => {
    assert.deepEqual(await vsFailures({ ...vs, address: UNKNOWN, port: UNKNOWN }), []);
    assert.deepEqual(await vsFailures({ ...vs, connection: UNKNOWN }), []);
  });

  it("still judges the known values next to unknown ones", async () => {
    const f = await vsFailures({ ...vs, address: UNKNOWN, scheduler: "bogus" });
    assert.equal(f.length, 1);
    assert.equal(f[0]!.property, "scheduler");
  });
});

describe("RealServer check", () => {
  it("defaults the port to the service's", async () => {
    const r = await realServer.check!({}, rs);
    assert.deepEqual(r.failures, []);
    assert.equal(r.inputs.port, 80);
    assert.equal(r.inputs.weight, 1);
  });

  const bad: Array<[string, Record<string, unknown>, string, RegExp]> = [
    ["DR port remap", { ...rs, port: 8080 }, "port", /cannot remap ports/],
    ["TUN port remap", { ...rs, forwarding: "tun", port: 8080 }, "port", /cannot remap ports/],
    ["weight too big", { ...rs, weight: 65536 }, "weight", /0 to 65535/],
    ["negative weight", { ...rs, weight: -1 }, "weight", /0 to 65535/],
    ["lower above upper", { ...rs, upperThreshold: 10, lowerThreshold: 20 }, "lowerThreshold", /must not exceed/],
    ["lower without upper", { ...rs, lowerThreshold: 5 }, "lowerThreshold", /needs upperThreshold/],
    ["tunnel on dr", { ...rs, tunnel: { type: "gue", port: 6080 } }, "tunnel", /only for forwarding "tun"/],
    ["gue without port", { ...rs, forwarding: "tun", tunnel: { type: "gue" } }, "tunnel", /required for a gue tunnel/],
    [
      "csum on ipip",
      { ...rs, forwarding: "tun", tunnel: { type: "ipip", checksum: "csum" } },
      "tunnel",
      /only for gue and gre/,
    ],
    ["v6 server in v4 service", { ...rs, address: "fd00::11" }, "address", /IPv6 but the virtual service is IPv4/],
    ["unknown forwarding", { ...rs, forwarding: "direct" }, "forwarding", /nat, dr, tun/],
    ["bad service", { ...rs, service: { protocol: "tcp" } }, "service", /must name a virtual service/],
  ];
  for (const [name, input, property, reason] of bad) {
    it(`rejects ${name}`, async () => {
      const f = await rsFailures(input);
      assert.ok(
        f.some((x) => x.property === property && reason.test(x.reason)),
        `expected a failure on ${property} matching ${reason}, got ${JSON.stringify(f)}`,
      );
    });
  }

  it("allows NAT to remap ports", async () => {
    assert.deepEqual(await rsFailures({ ...rs, forwarding: "nat", port: 8080 }), []);
  });
});

describe("Director and RealServerHost check", () => {
  const failures = async (p: typeof realServerHost | typeof director, news: Record<string, unknown>) =>
    (await p.check!({}, news)).failures ?? [];
  it("takes IPv6 VIPs in tun mode over ipip (ip6tnl), and rejects them when the host receives no ipip", async () => {
    const v6 = { connection: conn(), mode: "tun", vips: ["10.0.0.100", "fd00::100"] };
    assert.deepEqual(await failures(realServerHost, v6), []);
    const f = await failures(realServerHost, { ...v6, tunnels: [{ type: "gre" }] });
    assert.ok(
      f.some(
        (x) =>
          x.property === "vips" && /vips\.1: fd00::100: IPv6 VIPs in tun mode are received over ip6tnl/.test(x.reason),
      ),
      JSON.stringify(f),
    );
  });
  it("nat mode: the director's address, the ports and the host's addresses, IPv4, and no VIPs", async () => {
    const nat = { connection: conn(), mode: "nat", gateway: "10.0.0.2", ports: [80], addresses: ["10.0.0.11"] };
    assert.deepEqual(await failures(realServerHost, nat), []);
    const reasons = async (v: Record<string, unknown>) =>
      (await failures(realServerHost, v)).map((x) => x.reason).join("\n");
    assert.match(await reasons({ ...nat, gateway: undefined }), /gateway: is required for mode nat/);
    assert.match(await reasons({ ...nat, gateway: "fd00::2" }), /gateway: must be IPv4/);
    assert.match(await reasons({ ...nat, ports: [] }), /ports: must list the real server's service ports/);
    assert.match(
      await reasons({ ...nat, addresses: undefined }),
      /addresses: must list the host's real-server addresses/,
    );
    assert.match(await reasons({ ...nat, vips: ["10.0.0.100"] }), /vips: are not for mode nat/);
    assert.match(await reasons({ ...nat, mode: "dr", vips: ["10.0.0.100"] }), /gateway: is only for mode "nat"/);
  });
  it("checks the tunnels: gue needs its port, a port only for gue, none twice, and only in tun mode", async () => {
    const tun = { connection: conn(), mode: "tun", vips: ["10.0.0.100"] };
    const reasons = async (v: Record<string, unknown>) => (await failures(realServerHost, v)).map((x) => x.reason);
    assert.deepEqual(await reasons({ ...tun, tunnels: [{ type: "gre" }, { type: "gue", port: 6080 }] }), []);
    assert.match(
      (await reasons({ ...tun, tunnels: [{ type: "gue" }] })).join(),
      /tunnels\.0\.port: is required for a gue tunnel/,
    );
    assert.match((await reasons({ ...tun, tunnels: [{ type: "gre", port: 1 }] })).join(), /is only for gue, not gre/);
    assert.match(
      (await reasons({ ...tun, tunnels: [{ type: "gre" }, { type: "gre" }] })).join(),
      /gre is listed twice/,
    );
    assert.match((await reasons({ ...tun, tunnels: [{ type: "sit" }] })).join(), /must be one of ipip, gue, gre/);
    assert.match(
      (await reasons({ ...tun, mode: "dr", tunnels: [{ type: "gre" }] })).join(),
      /tunnels: is only for mode "tun"/,
    );
  });
  it("rejects an unknown mode, an empty VIP list and a duplicate VIP", async () => {
    assert.ok(
      (await failures(realServerHost, { connection: conn(), mode: "snat", vips: ["10.0.0.100"] })).some(
        (x) => x.property === "mode",
      ),
    );
    assert.ok(
      (await failures(realServerHost, { connection: conn(), mode: "dr", vips: [] })).some((x) =>
        /at least one VIP/.test(x.reason),
      ),
    );
    assert.ok(
      (await failures(realServerHost, { connection: conn(), mode: "dr", vips: ["10.0.0.1", "10.0.0.1"] })).some((x) =>
        /listed twice/.test(x.reason),
      ),
    );
  });
  it("rejects an unknown net.ipv4.vs parameter and a bad interface name", async () => {
    const f = await failures(director, {
      connection: conn(),
      ipvsSysctls: { conntrak: 1 },
      vips: [{ address: "10.0.0.100", interface: "eth0; reboot" }],
    });
    assert.ok(
      f.some((x) => /ipvsSysctls\.conntrak: is not a known argument/.test(x.reason)),
      JSON.stringify(f),
    );
    assert.ok(
      f.some((x) => /vips\.0\.interface: must be an interface name/.test(x.reason)),
      JSON.stringify(f),
    );
  });
  it("accepts a full director and normalizes sysctl values to text", async () => {
    const r = await director.check!(
      {},
      {
        connection: conn(),
        ipForward: true,
        ipvsSysctls: { conntrack: 1 },
        sysctls: { "net.ipv4.conf.all.send_redirects": 0 },
      },
    );
    assert.deepEqual(r.failures, []);
    assert.deepEqual(r.inputs.ipvsSysctls, { conntrack: "1" });
    assert.deepEqual(r.inputs.modules, ["ip_vs"]);
    assert.equal(r.inputs.persist, true);
  });
});
