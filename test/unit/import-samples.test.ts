import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { importDirector } from "../../cli/import/director";
import { type DirectorFacts, parseImportFacts } from "../../cli/import/facts";
import type { ImportResult } from "../../cli/import/model";
import { generateProgram } from "../../cli/import/program";
import { mapFiles, readKeepalivedConf } from "../../provider/keepalived/conf";
import { thirdParty } from "./third-party";

// keepalived's own sample configurations (./third-party.ts: read where they are, skipped when they
// are not, never copied into this repository), each as the running configuration of a director being imported:
// every construct pulumi-lvs cannot represent, and every block keepalived keeps, is in IMPORT.md
// with its file and line, and nothing is dropped silently.
const { dir: SAMPLES, missing } = thirdParty("keepalived-samples");
const fixture = path.join(__dirname, "../../../test/unit/fixtures/import/director-keepalived.txt");
const CONF = "/etc/keepalived/keepalived.conf";

/** The captured director with keepalived running `text` as its configuration, and an empty IPVS table. */
function directorRunning(text: string): DirectorFacts {
  const f = parseImportFacts(fs.readFileSync(fixture, "utf8"));
  return {
    ...f,
    table: { services: [] },
    files: new Map([[CONF, text]]),
    keepalived: { ...f.keepalived, commandLine: ["/usr/sbin/keepalived", "--dont-fork"], conf: CONF },
  };
}

const result = (facts: DirectorFacts): ImportResult => {
  const d = importDirector("lb1", facts);
  return {
    hosts: [
      {
        name: "lb1",
        role: "director",
        host: "192.0.2.1",
        port: 22,
        user: "root",
        hostKey: "ssh-ed25519 AAAA",
        sudo: false,
      },
    ],
    ...d,
    reads: [{ host: "lb1", what: [`file ${CONF}`] }],
  };
};

describe("pulumi-lvs import of keepalived's sample configurations", () => {
  const names = missing ? [] : fs.readdirSync(SAMPLES).filter((f) => f.startsWith("keepalived.conf"));

  it("lists in IMPORT.md, with file and line, each block keepalived keeps and each construct left out", {
    skip: missing,
  }, () => {
    assert.ok(names.length >= 20, `${names.length} samples`);
    for (const name of names) {
      const text = fs.readFileSync(path.join(SAMPLES, name), "utf8");
      const conf = readKeepalivedConf(mapFiles(new Map([[CONF, text]])), CONF);
      const md = generateProgram(result(directorRunning(text)), {
        project: "lb1",
        versions: { pulumi: "^3.259.0", pulumiLvs: "^0.1.0" },
      }).get("IMPORT.md")!;
      for (const d of conf.unsupported)
        assert.ok(
          md.includes(`${CONF}:${d.line}`) && md.includes(d.what),
          `${name}: ${d.what} (line ${d.line}) in IMPORT.md`,
        );
      for (const v of [...conf.virtualServices, ...conf.vrrpInstances])
        assert.ok(md.includes(`lb1:${CONF}:${v.line}`), `${name}: the block at line ${v.line} in IMPORT.md`);
      for (const s of conf.secrets) assert.ok(!md.includes(s.value), `${name}: no auth_pass value in IMPORT.md`);
    }
  });

  it("flags the packaged default configuration's virtual servers as sample data", { skip: missing }, () => {
    const text = fs.readFileSync(path.join(SAMPLES, "keepalived.conf.packaged-default"), "utf8");
    const r = importDirector("lb1", directorRunning(text));
    const samples = r.findings.filter((f) => /keepalived\.conf\.sample/.test(f.message));
    const conf = readKeepalivedConf(mapFiles(new Map([[CONF, text]])), CONF);
    const flagged = [...conf.virtualServices, ...conf.vrrpInstances].filter((v) => v.sample).map((v) => v.line);
    assert.ok(flagged.length > 0, "the packaged default has sample blocks");
    assert.deepEqual(samples.map((f) => f.source.line).sort(), flagged.sort());
  });
});
