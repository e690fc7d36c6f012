import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { type Change, realServerChange, serviceChange } from "../../provider/ipvs/change";
import {
  editLedgerText,
  type LedgerEdit,
  ledgerEditOf,
  ledgerEditScript,
  ledgerLine,
  parseLedger,
  parseOldLines,
  restoreRulesScript,
  rsPrefix,
  svcPrefix,
} from "../../provider/ipvs/ledger";
import { addRealServerArgs, addServiceArgs } from "../../provider/ipvs/rules/words";
import { familyOfKey, serviceKeyText, type VirtualServiceConfig } from "../../provider/ipvs/types";
import { serviceConfig } from "./arbitraries";

const familyOf = (s: VirtualServiceConfig) => familyOfKey(s.key);
const rsOf = (s: VirtualServiceConfig, n = 11) => ({
  address: familyOf(s) === "ipv6" ? `fd00::${n}` : `10.0.0.${n}`,
  port: "fwmark" in s.key ? 0 : 80,
  forwarding: "dr" as const,
  weight: 1,
  upperThreshold: 0,
  lowerThreshold: 0,
});

/** A ledger of the services, each with two real servers, and changes to every other one. */
const ledgerAndChanges = fc
  .tuple(
    fc.uniqueArray(serviceConfig, { minLength: 1, maxLength: 6, selector: (s) => serviceKeyText(s.key) }),
    fc.nat(),
  )
  .map(([services, seed]) => {
    const text = services
      .flatMap((s) => [
        ledgerLine(addServiceArgs(s).join(" "), "p/s"),
        ledgerLine(addRealServerArgs(s.key, rsOf(s)).join(" "), "p/s/r 1"),
        addRealServerArgs(s.key, rsOf(s, 12)).join(" "),
      ])
      .join("\n")
      .concat("\n");
    const kinds: Array<(s: VirtualServiceConfig) => Change> = [
      (s) => serviceChange("edit", s, "new"),
      (s) => serviceChange("delete", s.key),
      (s) => realServerChange("edit", s.key, { ...rsOf(s), weight: 5 }, "new"),
      (s) => realServerChange("delete", s.key, rsOf(s, 12)),
      (s) => realServerChange("add", s.key, rsOf(s, 13), "new"),
    ];
    const changes = services.filter((_, i) => (i + seed) % 2 === 0).map((s, i) => kinds[(i + seed) % kinds.length]!(s));
    return { text, edits: changes.map(ledgerEditOf) };
  });

/** Runs ledgerEditScript with a real shell and awk on a ledger file holding `text`. */
function editOnHost(text: string, edits: LedgerEdit[]): { text: string; replaced: string[][] } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ledger-"));
  try {
    const file = path.join(dir, "ipvs.rules");
    fs.writeFileSync(file, text);
    const out = execFileSync("sh", ["-c", ledgerEditScript(file, edits, { old: true })], { encoding: "utf8" });
    return { text: fs.readFileSync(file, "utf8"), replaced: parseOldLines(out, edits.length) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe("the ledger's format", () => {
  it("reads services before real servers whatever the line order", () => {
    const t = parseLedger("-a -f 7 -r 10.0.0.11:0 -g -w 1 -x 0 -y 0\n-A -f 7 -s mh -b mh-port\n");
    assert.equal(t.services.length, 1);
    assert.equal(t.services[0]!.realServers[0]!.config.address, "10.0.0.11");
  });

  it("reads owner tags (IPv4, IPv6, fwmark) and leaves the rules as ipvsadm reads them", () => {
    const text = [
      `${"-a -t [fd00:10::100]:443 -r [fd00:10::11]:443 -g -w 1 -x 0 -y 0"} #owner=${encodeURIComponent("p/s/v6 rs")}`,
      ledgerLine("-A -t [fd00:10::100]:443 -s wrr", "p/s/v6"),
      ledgerLine("-A -f 7 -s mh -b mh-port", "p/s/mark"),
      ledgerLine("-a -f 7 -r 10.0.0.11:0 -g -w 2 -x 0 -y 0", "p/s/mark-rs"),
      ledgerLine("-A -u 10.0.0.100:53 -s rr"),
    ].join("\n");
    const t = parseLedger(text);
    const plain = parseLedger(text.replace(/ #owner=\S+/g, ""));
    const strip = (x: typeof t) => JSON.parse(JSON.stringify(x, (k, v) => (k === "owner" ? undefined : v)));
    assert.deepEqual(strip(t), plain, "tags change nothing else");
    assert.deepEqual(
      t.services.map((s) => [serviceKeyText(s.config.key), s.owner, s.realServers.map((r) => r.owner)]),
      [
        ["tcp/[fd00:10::100]:443", "p/s/v6", ["p/s/v6 rs"]],
        ["fwmark/7", "p/s/mark", ["p/s/mark-rs"]],
        ["udp/10.0.0.100:53", undefined, []],
      ],
    );
  });
});

describe("ledger edits", () => {
  it("one pass of several edits equals the same edits one after the other (property)", () => {
    fc.assert(
      fc.property(ledgerAndChanges, ({ text, edits }) => {
        let sequential = text;
        const replaced: string[][] = [];
        for (const e of edits) {
          const r = editLedgerText(sequential, [e]);
          sequential = r.text;
          replaced.push(r.replaced[0]!);
        }
        assert.deepEqual(editLedgerText(text, edits), { text: sequential, replaced });
      }),
      { numRuns: 300 },
    );
  });

  it("the awk program, run by a real shell, edits the file exactly as the TypeScript editor (property)", () => {
    fc.assert(
      fc.property(ledgerAndChanges, ({ text, edits }) => {
        assert.deepEqual(editOnHost(text, edits), editLedgerText(text, edits));
      }),
      { numRuns: 60 },
    );
  });

  it("replace and drop exactly the named object's lines, IPv4 and IPv6 fwmarks apart, on a host as in TypeScript", () => {
    const text = ["-A -f 8 -s rr", "-A -f 8 -6 -s rr", "-a -f 8 -r 10.0.0.11:0 -g -w 1", "-A -t 10.0.0.100:80 -s rr"]
      .join("\n")
      .concat("\n");
    const k4 = { fwmark: 8, family: "ipv4" as const };
    const drop = [{ prefixes: [svcPrefix(k4), rsPrefix(k4)], lines: [] }];
    const want = {
      text: "-A -f 8 -6 -s rr\n-A -t 10.0.0.100:80 -s rr\n",
      replaced: [["-A -f 8 -s rr", "-a -f 8 -r 10.0.0.11:0 -g -w 1"]],
    };
    assert.deepEqual(editLedgerText(text, drop), want);
    assert.deepEqual(editOnHost(text, drop), want);
    const k = { protocol: "tcp" as const, address: "10.0.0.100", port: 80 };
    const edit = [{ prefixes: [svcPrefix(k)], lines: ["-A -t 10.0.0.100:80 -s wrr"] }];
    assert.equal(editOnHost(want.text, edit).text, "-A -f 8 -6 -s rr\n-A -t 10.0.0.100:80 -s wrr\n");
  });

  it("the boot restore gives ipvsadm -R the rules without owner tags, services first", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ledger-"));
    try {
      const file = path.join(dir, "ipvs.rules");
      fs.writeFileSync(
        file,
        [
          ledgerLine("-a -t 10.0.0.100:80 -r 10.0.0.11:80 -g -w 1 -x 0 -y 0", "p/s/r"),
          ledgerLine("-A -t 10.0.0.100:80 -s wrr", "p/s"),
          "-A -f 8 -6 -s rr",
        ].join("\n"),
      );
      // a stand-in ipvsadm that prints what -R reads
      fs.writeFileSync(path.join(dir, "ipvsadm"), '#!/bin/sh\n[ "$1" = -R ] && cat\n', { mode: 0o755 });
      const env = { ...process.env, PATH: `${dir}:${process.env.PATH}` };
      const out = execFileSync("sh", ["-c", restoreRulesScript(file)], { encoding: "utf8", env });
      assert.equal(
        out,
        "-A -t 10.0.0.100:80 -s wrr\n-A -f 8 -6 -s rr\n-a -t 10.0.0.100:80 -r 10.0.0.11:80 -g -w 1 -x 0 -y 0\n",
      );
      fs.writeFileSync(file, "");
      assert.equal(execFileSync("sh", ["-c", restoreRulesScript(file)], { encoding: "utf8", env }), "");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
