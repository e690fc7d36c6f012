import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { parseTouched } from "../../provider/ipvs/ipvsadm/batch";
import { TIMEOUTS_LINE_START } from "../../provider/ipvs/ipvsadm/command";
import { objectText, parseListing, rulesOfTunInfoListing } from "../../provider/ipvs/ipvsadm/listing";
import { mergeThresholds, parseThresholds } from "../../provider/ipvs/ipvsadm/thresholds";
import { parseRules } from "../../provider/ipvs/rules/parse";
import { addRealServerArgs, addServiceArgs, probeServiceArgs } from "../../provider/ipvs/rules/words";
import type { IpvsTable, ServiceKey } from "../../provider/ipvs/types";
import { realServer, serviceConfig } from "./arbitraries";

// Golden files captured from the real ipvsadm 1.31 in the lab (fixtures/ipvsadm/capture.sh).
const fixtures = path.join(__dirname, "../../../test/unit/fixtures/ipvsadm");
const read = (f: string) => fs.readFileSync(path.join(fixtures, f), "utf8");

function table(): IpvsTable {
  const t = parseRules(read("save.txt"));
  mergeThresholds(t, parseThresholds(read("thresholds.txt")));
  return t;
}

function svc(t: IpvsTable, text: string) {
  const s = t.services.find((x) => JSON.stringify(x.config.key) === text);
  assert.ok(s, `service ${text}`);
  return s;
}

describe("ipvsadm -S -n and --thresholds (captured)", () => {
  it("parses every service and real server", () => {
    const t = table();
    assert.equal(t.services.length, 13); // twos is not in this kernel: ipvsadm refused it
    assert.equal(
      t.services.reduce((n, s) => n + s.realServers.length, 0),
      14,
    );
  });

  it("reads forwarding, weight and thresholds (thresholds come from --thresholds only)", () => {
    const s = svc(table(), JSON.stringify({ protocol: "tcp", address: "192.0.2.1", port: 80 }));
    assert.deepEqual(s.config, { key: s.config.key, scheduler: "rr", schedulerFlags: [], onePacket: false });
    assert.deepEqual(s.realServers[1], {
      config: {
        address: "192.0.2.12",
        port: 8080,
        forwarding: "nat",
        weight: 3,
        upperThreshold: 100,
        lowerThreshold: 50,
      },
      stats: { activeConnections: 0, inactiveConnections: 0 },
    });
  });

  it("reads tunnel types, ports and checksum modes", () => {
    const rs = svc(table(), JSON.stringify({ protocol: "tcp", address: "192.0.2.1", port: 80 })).realServers.map(
      (r) => r.config,
    );
    assert.equal(rs[2]!.tunnel, undefined, "ipip is the default, not reported as a tunnel option");
    assert.deepEqual(rs[3]!.tunnel, { type: "gue", port: 6080, checksum: "nocsum" });
    assert.deepEqual(rs[4]!.tunnel, { type: "gue", port: 6081, checksum: "remcsum" });
    assert.deepEqual(rs[5]!.tunnel, { type: "gre", checksum: "csum" });
  });

  it("reads scheduler flags, persistence, netmask, pe and ops", () => {
    const t = table();
    assert.deepEqual(svc(t, JSON.stringify({ protocol: "tcp", address: "192.0.2.3", port: 443 })).config, {
      key: { protocol: "tcp", address: "192.0.2.3", port: 443 },
      scheduler: "sh",
      schedulerFlags: ["sh-fallback", "sh-port"],
      persistence: { timeout: 600, netmask: "255.255.255.0" },
      onePacket: false,
    });
    const sip = svc(t, JSON.stringify({ protocol: "udp", address: "192.0.2.4", port: 5060 })).config;
    assert.equal(sip.pe, "sip");
    assert.deepEqual(sip.persistence, { timeout: 30, netmask: "255.255.255.255" });
    assert.equal(svc(t, JSON.stringify({ protocol: "udp", address: "192.0.2.2", port: 53 })).config.onePacket, true);
    const dns = svc(t, JSON.stringify({ protocol: "udp", address: "192.0.2.2", port: 53 })).realServers[0]!.config;
    assert.equal(dns.upperThreshold, 2147483647);
    assert.equal(dns.weight, 65535);
  });

  it("reads IPv6, SCTP and fwmark services (with real servers without a port)", () => {
    const t = table();
    const v6 = svc(t, JSON.stringify({ protocol: "tcp", address: "2001:db8::1", port: 80 }));
    assert.deepEqual(v6.config.persistence, { timeout: 120, netmask: "64" });
    assert.deepEqual(v6.realServers[1]!.config, {
      address: "2001:db8::12",
      port: 8080,
      forwarding: "nat",
      weight: 1,
      upperThreshold: 10,
      lowerThreshold: 5,
    });
    svc(t, JSON.stringify({ protocol: "sctp", address: "192.0.2.5", port: 3868 }));
    const f7 = svc(t, JSON.stringify({ fwmark: 7, family: "ipv4" }));
    assert.equal(f7.realServers[0]!.config.port, 0);
    const f8 = svc(t, JSON.stringify({ fwmark: 8, family: "ipv6" }));
    assert.deepEqual(f8.config.persistence, { timeout: 360, netmask: "128" });
    assert.deepEqual(
      f8.realServers.map((r) => [r.config.address, r.config.port]),
      [
        ["2001:db8::41", 0],
        ["2001:db8::42", 80],
      ],
    );
  });

  it("rejects what it does not understand instead of guessing", () => {
    assert.throws(() => parseRules("-A -t 192.0.2.1:80 -s rr --bogus"), /unexpected word "--bogus"/);
    assert.throws(() => parseRules("-a -t 192.0.2.1:80 -r 192.0.2.2:80 -g"), /unknown service/);
    assert.throws(() => parseThresholds("XYZ 1.2.3.4:80 rr"), /unexpected line/);
  });
});

// ---------------------------------------------------------------- round trips
describe("build then parse is the identity (property)", () => {
  it("for services and their real servers", () => {
    fc.assert(
      fc.property(
        serviceConfig.chain((s) => {
          const v6 = "fwmark" in s.key ? s.key.family === "ipv6" : s.key.address.includes(":");
          return fc.tuple(
            fc.constant(s),
            fc.uniqueArray(realServer(v6, "fwmark" in s.key), {
              maxLength: 4,
              selector: (r) => `${r.address}|${r.port}`,
            }),
          );
        }),
        ([s, rss]) => {
          const text = [addServiceArgs(s).join(" "), ...rss.map((r) => addRealServerArgs(s.key, r).join(" "))].join(
            "\n",
          );
          const t = parseRules(text);
          const plain = (v: unknown) => JSON.parse(JSON.stringify(v));
          assert.deepEqual(t.services, plain([{ config: s, realServers: rss.map((config) => ({ config })) }]));
        },
      ),
      { numRuns: 500 },
    );
  });

  it("the captured save output parses, rebuilds and parses to the same table", () => {
    const t = parseRules(read("save.txt"));
    const rebuilt = t.services
      .flatMap((s) => [
        addServiceArgs(s.config).join(" "),
        ...s.realServers.map((r) => addRealServerArgs(s.config.key, r.config).join(" ")),
      ])
      .join("\n");
    assert.deepEqual(parseRules(rebuilt), t);
  });
});

describe("ipvsadm -L -n, of the whole table and of one service (captured)", () => {
  /** Every object of a table, as the batch names the objects it changes. */
  const objects = (t: IpvsTable) =>
    t.services.flatMap((s) => [
      objectText(s.config.key),
      ...s.realServers.map((r) => objectText(s.config.key, r.config)),
    ]);

  it("names every service and real server that ipvsadm -S -n saves, the same way", () => {
    for (const f of ["list.txt", "tun-info.txt"])
      assert.deepEqual([...parseListing(read(f)).keys()].sort(), objects(table()).sort(), f);
  });

  it("keeps what ipvsadm lists of each object but its connection counters", () => {
    const one = parseListing(read("list-one.txt"));
    assert.equal(one.get("tcp/192.0.2.1:80"), "rr");
    assert.equal(one.get("tcp/192.0.2.1:80 192.0.2.12:8080"), "Masq 3");
    assert.equal(one.get("fwmark/8/ipv6"), "fo persistent 360");
    assert.equal(one.get("fwmark/8/ipv6 [2001:db8::41]:0"), "Route 1");
    assert.equal(one.size, 8 + 3);
    const all = parseListing(read("list.txt"));
    assert.equal(all.get("tcp/192.0.2.3:443"), "sh (sh-fallback,sh-port) persistent 600 mask 255.255.255.0");
    assert.equal(all.get("udp/192.0.2.4:5060"), "mh (mh-port) persistent 30 pe sip");
    assert.equal(parseListing(read("tun-info.txt")).get("tcp/192.0.2.1:80 198.51.100.14:80"), "Tunnel gue:6080:-c 2");
    assert.throws(() => parseListing("  -> 192.0.2.11:80 Route 1 0 0"), /real server before any service/);
  });

  it("the listing with tunnel info reads as the same rules ipvsadm -S -n saves (a service's snapshot is read that way)", () => {
    const listed = parseRules(rulesOfTunInfoListing(read("tun-info.txt")));
    assert.deepEqual(listed, parseRules(read("save.txt")));
    mergeThresholds(listed, parseThresholds(read("thresholds.txt")));
    assert.deepEqual(listed, table(), "with the thresholds' listing merged, the snapshot of the table");
  });

  it("the listing with tunnel info: what it cannot read is an error, never a guess", () => {
    const head = "TCP  192.0.2.1:80 rr\n";
    assert.throws(
      () => rulesOfTunInfoListing(`${head}  -> 192.0.2.11:80 Bypass n/a 1 0 0`),
      /unknown forwarding Bypass/,
    );
    assert.throws(() => rulesOfTunInfoListing(`${head}  -> 192.0.2.11:80 Tunnel gue:x 1 0 0`), /unknown tunnel flag x/);
    assert.throws(() => rulesOfTunInfoListing("TCP  192.0.2.1:80 rr sticky"), /unknown word sticky/);
    assert.throws(() => rulesOfTunInfoListing(`${head}  -> 192.0.2.11:80 Route 1 0 0`), /too few columns/);
  });
});

describe("a batch's probes and reads (captured from ipvsadm -R)", () => {
  const probes = read("probes.txt");
  const probed: ServiceKey[] = [
    { protocol: "tcp", address: "192.0.2.1", port: 80 },
    { protocol: "tcp", address: "192.0.2.99", port: 80 },
    { fwmark: 8, family: "ipv6" },
    { fwmark: 9, family: "ipv6" },
  ];

  it("sends the probes that were captured, and reads their answers: which services exist", () => {
    assert.deepEqual(
      [...probes.matchAll(/^### \$ ipvsadm (-d .*)$/gm)].map((m) => m[1]),
      probed.map((k) => probeServiceArgs(k).join(" ")),
    );
    const answers = probes
      .split("### restore-list-missing")[0]!
      .split("\n")
      .filter((l) => l && !l.startsWith("###"));
    const read = parseTouched(
      { probed, listed: [] },
      `${TIMEOUTS_LINE_START} 900 120 300\n`,
      ["#pulumi-lvs:fast errors", ...answers].join("\n"),
    );
    assert.deepEqual([...read.seen.keys()], ["tcp/192.0.2.1:80", "fwmark/8/ipv6"]);
    assert.deepEqual([read.unknown.size, read.complaints], [0, []]);
  });

  it("tells that ipvsadm -R stopped at the listing of a missing service, before its rules", () => {
    const [, stopped] = probes.split("### restore-list-missing\n");
    const output = stopped!.split("\n### exit")[0]!;
    assert.match(output, /No such service/);
    const read = parseTouched({ probed: [], listed: [probed[1]!] }, "", `#pulumi-lvs:fast errors\n${output}`);
    assert.equal(read.reached, false);
  });
});
