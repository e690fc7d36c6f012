import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import ipaddr from "ipaddr.js";
import { hostName, ipAddress } from "../../provider/model/net";
import {
  AddressError,
  addressBytes,
  addressFamily,
  addressFromBytes,
  bracketHost,
  canonicalAddress,
  formatHostPort,
  fullHostNetmask,
  hasPort,
  hostPrefix,
  inSubnet,
  ipv4MaskProblem,
  isAddress,
  isIPv4,
  isIPv6,
  isMulticast,
  maxPrefix,
  parseHostPort,
  parseSshTarget,
} from "../../provider/net/address";
import { ipv4, ipv6, port } from "./arbitraries";

// `address:port` words of the real ipvsadm 1.31's `ipvsadm -S -n` (fixtures/ipvsadm/capture.sh).
const saved = fs.readFileSync(path.join(__dirname, "../../../test/unit/fixtures/ipvsadm/save.txt"), "utf8");
const savedHostPorts = [...saved.matchAll(/ -[tur] (\S+)/g)].map((m) => m[1]!);

/** The canonical text the provider had before this module: the WHATWG URL parser's. */
const urlCanonical = (a: string) => new URL(`http://[${a}]/`).hostname.slice(1, -1);

describe("addresses", () => {
  it("accepts dotted-decimal IPv4 and IPv6 addresses and nothing else", () => {
    for (const a of ["10.0.0.1", "0.0.0.0", "255.255.255.255", "::", "::1", "fd00::1", "FD00::1", "::ffff:10.0.0.1"])
      assert.equal(isAddress(a), true, a);
    for (const a of [
      "",
      "10.0.0",
      "10.0.0.256",
      "010.0.0.1",
      "0x1.0.0.1",
      "10.0.0.1 ",
      "[::1]",
      "fe80::1%eth0",
      "::ffff:010.0.0.1",
      "1::2:3:4:5:6:7:8",
      "1:2:3:4:5:6:7:8:9",
      "gateway",
      "10.0.0.1:80",
    ])
      assert.equal(isAddress(a), false, a);
  });

  it("tells an address exactly as ipaddr.js's parsers do, without their exceptions (property)", () => {
    // the rule before: dotted-decimal IPv4 by ipaddr.js, IPv6 by its parser, an embedded IPv4 tail
    // dotted decimal and made two groups, no zone id
    const before = (t: string): boolean => {
      if (ipaddr.IPv4.isValidFourPartDecimal(t)) return true;
      if (!t.includes(":") || t.includes("%")) return false;
      const tail = t.lastIndexOf(":") + 1;
      let hex = t;
      if (t.includes(".", tail)) {
        const v4 = t.slice(tail);
        if (!ipaddr.IPv4.isValidFourPartDecimal(v4)) return false;
        const o = ipaddr.IPv4.parse(v4).octets;
        hex = `${t.slice(0, tail)}${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
      }
      return ipaddr.IPv6.isValid(hex);
    };
    const octet = fc.constantFrom(
      "0",
      "1",
      "00",
      "01",
      "9",
      "10",
      "099",
      "99",
      "100",
      "199",
      "200",
      "249",
      "250",
      "255",
      "256",
      "300",
    );
    const quad = fc.array(octet, { minLength: 3, maxLength: 5 }).map((o) => o.join("."));
    const piece = fc.oneof(
      octet,
      quad,
      fc.constantFrom(".", ":", "::", "ffff", "FD00", "g", "%", " ", "x", "-", "+", "0x1"),
      fc.integer({ min: 0, max: 0xffff }).map((n) => n.toString(16)),
    );
    const text = fc.oneof(
      fc.array(piece, { maxLength: 14 }).map((p) => p.join("")),
      quad,
      fc.tuple(fc.constantFrom("::", "::ffff:", "fd00::1:", "1:2:3:4:5:6:"), quad).map(([a, b]) => a + b),
      ipv4,
      ipv6,
      fc.tuple(ipv4, port).map(([a, p]) => `${a}:${p}`),
      fc.tuple(ipv6, ipv4).map(([a, b]) => `${a.replace(/:[^:]*$/, ":")}${b}`),
    );
    fc.assert(
      fc.property(text, (t) => {
        assert.equal(isAddress(t), before(t), t);
      }),
      { numRuns: 3000 },
    );
  });

  it("accepts an IPv6 zone id only when asked (an SSH host's link-local address)", () => {
    assert.equal(isAddress("fe80::1%eth0", { zoneId: true }), true);
    assert.equal(isAddress("fe80::1%eth0"), false);
    assert.equal(isAddress("10.0.0.1%eth0", { zoneId: true }), false);
    assert.equal(isAddress("fe80::1%", { zoneId: true }), false);
    assert.equal(hostName.safeParse("fe80::1%eth0").success, true);
    const vip = ipAddress.safeParse("fe80::1%eth0");
    assert.equal(vip.success, false);
    assert.match(vip.error!.issues[0]!.message, /"fe80::1%eth0" is not an IPv4 or IPv6 address/);
    assert.equal(ipAddress.parse("FD00:0::1"), "fd00::1");
  });

  it("writes IPv6 compressed and in lower case, as ipvsadm prints it; IPv4 as given", () => {
    const table: [string, string][] = [
      ["10.0.0.1", "10.0.0.1"],
      ["FD00:0:0:0:0:0:0:1", "fd00::1"],
      ["2001:DB8::0:1", "2001:db8::1"],
      ["1:0:0:2:0:0:0:3", "1:0:0:2::3"],
      ["1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"],
      ["0:0:0:0:0:0:0:0", "::"],
      ["1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"],
      ["::ffff:1.2.3.4", "::ffff:102:304"],
      ["::1.2.3.4", "::102:304"],
    ];
    for (const [input, out] of table) assert.equal(canonicalAddress(input), out, input);
    assert.throws(() => canonicalAddress("fe80::1%eth0"), AddressError);
    assert.throws(() => canonicalAddress("10.0.0.256"), /not an IP address: 10\.0\.0\.256/);
  });

  it("keeps the canonical text of the URL parser it replaces", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.ipV6(),
          fc.ipV4().map((a) => `::ffff:${a}`),
        ),
        (a) => {
          assert.equal(canonicalAddress(a), urlCanonical(a));
          assert.equal(canonicalAddress(a.toUpperCase()), urlCanonical(a));
        },
      ),
    );
  });

  it("reads every address of ipvsadm -S -n back as it was printed", () => {
    assert.ok(
      savedHostPorts.some((w) => w.startsWith("[")),
      "the capture has IPv6 services",
    );
    for (const w of savedHostPorts) {
      const { address, port } = parseHostPort(w);
      assert.equal(formatHostPort(address, port!), w);
    }
    assert.deepEqual(parseHostPort("[2001:db8::41]:0"), { address: "2001:db8::41", port: 0 });
  });

  it("names the family, the prefix limits and the one-address netmask", () => {
    assert.equal(addressFamily("10.0.0.1"), "ipv4");
    assert.equal(addressFamily("fd00::1"), "ipv6");
    assert.equal(isIPv6("fd00::1"), true);
    assert.equal(isIPv4("fd00::1"), false);
    assert.equal(isIPv4("192.0.2.1"), true);
    assert.equal(maxPrefix("ipv4"), 32);
    assert.equal(maxPrefix("ipv6"), 128);
    assert.equal(hostPrefix("10.0.0.1"), 32);
    assert.equal(hostPrefix("fd00::1"), 128);
    assert.equal(fullHostNetmask("ipv4"), "255.255.255.255");
    assert.equal(fullHostNetmask("ipv6"), "128");
  });

  it("tells multicast groups from other addresses", () => {
    for (const a of ["224.0.0.18", "239.255.255.255", "ff02::12", "FF05::1"]) assert.equal(isMulticast(a), true, a);
    for (const a of ["223.255.255.255", "240.0.0.1", "10.0.0.1", "fe80::1", "fd00::1", "not-an-address"])
      assert.equal(isMulticast(a), false, a);
  });

  it("tells whether an address lies in a network, never across families", () => {
    assert.equal(inSubnet("192.168.200.17", "192.168.200.0/24"), true);
    assert.equal(inSubnet("192.168.201.17", "192.168.200.0/24"), false);
    assert.equal(inSubnet("FD00::1:2", "fd00::/64"), true);
    assert.equal(inSubnet("::ffff:192.168.200.1", "192.168.200.0/24"), false);
    assert.equal(inSubnet("not-an-address", "10.0.0.0/8"), false);
  });

  it("finds what is wrong with an IPv4 netmask", () => {
    assert.equal(ipv4MaskProblem("255.255.255.0"), undefined);
    assert.equal(ipv4MaskProblem("255.255.255.255"), undefined);
    assert.equal(ipv4MaskProblem("128.0.0.0"), undefined);
    assert.equal(ipv4MaskProblem("24"), "not dotted");
    assert.equal(ipv4MaskProblem("255.255.255.0.0"), "not dotted");
    assert.equal(ipv4MaskProblem("255.255.256.0"), "not a mask");
    assert.equal(ipv4MaskProblem("255.0.255.0"), "not contiguous");
    assert.equal(ipv4MaskProblem("0.0.0.0"), "not contiguous");
  });
});

describe("address[:port]", () => {
  it("brackets an IPv6 host before its port, and nothing else", () => {
    assert.equal(formatHostPort("10.0.0.1", 80), "10.0.0.1:80");
    assert.equal(formatHostPort("fd00::1", 80), "[fd00::1]:80");
    assert.equal(bracketHost("fd00::1"), "[fd00::1]");
    assert.equal(bracketHost("lb.example.com"), "lb.example.com");
    assert.equal(bracketHost("10.0.0.1"), "10.0.0.1");
  });

  it("parses a bare address, v4:port and [v6]:port, and names the wrong piece", () => {
    const ok: [string, { address: string; port?: number }][] = [
      ["10.0.0.1", { address: "10.0.0.1" }],
      ["10.0.0.1:8080", { address: "10.0.0.1", port: 8080 }],
      ["FD00::11", { address: "fd00::11" }],
      ["fd00::11:80", { address: "fd00::11:80" }],
      ["[FD00::11]:80", { address: "fd00::11", port: 80 }],
      ["[10.0.0.1]:80", { address: "10.0.0.1", port: 80 }],
    ];
    for (const [text, want] of ok) assert.deepEqual(parseHostPort(text), want, text);
    const bad: [string, "address" | "port", string][] = [
      ["[fd00::11]", "address", "[fd00::11]"],
      ["fd00::11]:80", "address", "fd00::11]:80"],
      ["web:80", "address", "web"],
      ["10.0.0.1:", "address", "10.0.0.1:"],
      ["10.0.0.1:http", "address", "10.0.0.1:http"],
      ["10.0.0.1:65536", "port", "65536"],
      ["[fd00::1]:99999", "port", "99999"],
      ["", "address", ""],
    ];
    for (const [text, part, piece] of bad) {
      assert.throws(
        () => parseHostPort(text),
        (e: unknown) => e instanceof AddressError && e.part === part && e.text === piece,
        text,
      );
    }
    assert.equal(hasPort("[fd00::1]:80"), true);
    assert.equal(hasPort("10.0.0.1:80"), true);
    assert.equal(hasPort("fd00::1"), false);
    assert.equal(hasPort("web:80"), false);
  });

  it("round-trips: format ∘ parse is the identity on canonical addresses, with and without a port", () => {
    fc.assert(
      fc.property(fc.oneof(ipv4, ipv6), port, (address, p) => {
        assert.equal(canonicalAddress(address), address);
        assert.deepEqual(parseHostPort(address), { address });
        const text = formatHostPort(address, p);
        assert.deepEqual(parseHostPort(text), { address, port: p });
        assert.equal(formatHostPort(parseHostPort(text).address, p), text);
      }),
    );
  });

  it("round-trips through the bytes the kernel reads", () => {
    fc.assert(
      fc.property(fc.oneof(ipv4, ipv6), (address) => {
        const bytes = addressBytes(address);
        assert.equal(bytes.length, addressFamily(address) === "ipv6" ? 16 : 4);
        assert.equal(addressFromBytes(bytes), address);
      }),
    );
    assert.deepEqual(addressBytes("::ffff:10.0.0.1").slice(10), [255, 255, 10, 0, 0, 1]);
    assert.throws(() => addressFromBytes([1, 2, 3]), AddressError);
  });
});

describe("SSH targets ([user@]host[:port])", () => {
  it("reads names, addresses, ports and users, IPv6 with or without brackets", () => {
    assert.deepEqual(parseSshTarget("lb1.example.com"), { host: "lb1.example.com" });
    assert.deepEqual(parseSshTarget("deploy@lb1:2222"), { user: "deploy", host: "lb1", port: 2222 });
    assert.deepEqual(parseSshTarget("root@127.0.0.1:2201"), { user: "root", host: "127.0.0.1", port: 2201 });
    assert.deepEqual(parseSshTarget("root@[FD00::2]:22"), { user: "root", host: "fd00::2", port: 22 });
    assert.deepEqual(parseSshTarget("fd00::2"), { host: "fd00::2" });
    assert.deepEqual(parseSshTarget("[fd00::2]"), { host: "fd00::2" });
  });

  it("names the wrong piece", () => {
    assert.throws(() => parseSshTarget("@lb1"), /user before @ is empty/);
    assert.throws(() => parseSshTarget("root@"), /names no host/);
    assert.throws(() => parseSshTarget("lb1:70000"), /port 70000/);
  });
});
