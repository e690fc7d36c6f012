import * as assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { type Change, realServerChange, serviceChange } from "../../provider/ipvs/change";
import {
  abortRecord,
  appendScript,
  compactionOf,
  compactScript,
  type LedgerEdit,
  ledgerEditOf,
  ledgerLine,
  ledgerLock,
  ledgerPrologue,
  ledgerRecords,
  needsCompaction,
  parseLedger,
  readJournal,
  replayLedger,
  restoreRulesScript,
  rsPrefix,
  svcPrefix,
  withLedgerFirst,
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

/**
 * The model the journal is held to: the rules of `text` (one line per object) after `edits`, each
 * line dropped when it starts with one of an edit's prefixes (`-f 8 ` not taking `-f 8 -6 `), the
 * edits' lines added last.
 */
function editedRules(text: string, edits: readonly LedgerEdit[]): string {
  const named = (line: string, p: string) => `${line} `.startsWith(p) && !`${line} `.slice(p.length).startsWith("-6 ");
  const kept = text.split("\n").filter((l) => l !== "" && !edits.some((e) => e.prefixes.some((p) => named(l, p))));
  const all = [...kept, ...edits.flatMap((e) => e.lines)];
  return all.length > 0 ? `${all.join("\n")}\n` : "";
}

/** A file holding `text`, for `fn`, in a directory removed afterwards. */
function withFile<T>(text: string, fn: (file: string) => T): T {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ledger-"));
  try {
    const file = path.join(dir, "ipvs.rules");
    fs.writeFileSync(file, text);
    return fn(file);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const sh = (script: string, env?: NodeJS.ProcessEnv) => execFileSync("sh", ["-c", script], { encoding: "utf8", env });

/** The ledger after the shell appends each edit's records (as change `t<i>`) and then cancels those in `aborted`. */
function journalOnHost(text: string, edits: LedgerEdit[], aborted: ReadonlySet<number>): string {
  return withFile(text, (file) => {
    edits.forEach((e, i) => {
      sh(appendScript(file, ledgerRecords(e, `t${i}`)));
      if (aborted.has(i)) sh(appendScript(file, [abortRecord(`t${i}`)]));
    });
    return fs.readFileSync(file, "utf8");
  });
}

const untagged = (text: string) => text.replace(/ #tx=\S+/g, "");

/** Compacts the ledger with the awk program, as a host does. */
const compactOnHost = (text: string) =>
  withFile(text, (file) => {
    sh(compactScript(file));
    return fs.readFileSync(file, "utf8");
  });

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
  it("a journal of records appended by the shell, some cancelled, replays to the edits that were not (property)", () => {
    fc.assert(
      fc.property(ledgerAndChanges, fc.array(fc.boolean(), { maxLength: 6 }), ({ text, edits }, cancel) => {
        const aborted = new Set(edits.flatMap((_, i) => (cancel[i] ? [i] : [])));
        const journal = journalOnHost(text, edits, aborted);
        const kept = edits.filter((_, i) => !aborted.has(i));
        assert.equal(`${replayLedger(journal).join("\n")}\n`.replace(/^\n$/, ""), editedRules(text, kept));
        // the awk program compacts it to the same rules, and a compacted journal replays to itself
        const compacted = compactOnHost(journal);
        assert.equal(
          compactionOf(journal)
            .records.map((l) => `${l}\n`)
            .join(""),
          compacted,
          "compacted here as on a host",
        );
        assert.deepEqual(untagged(compacted).split("\n").filter(Boolean), replayLedger(journal));
        assert.deepEqual(replayLedger(compacted), replayLedger(journal));
      }),
      { numRuns: 40 },
    );
  });

  it("replace and drop exactly the named object's lines, IPv4 and IPv6 fwmarks apart, on a host as in TypeScript", () => {
    const text = ["-A -f 8 -s rr", "-A -f 8 -6 -s rr", "-a -f 8 -r 10.0.0.11:0 -g -w 1", "-A -t 10.0.0.100:80 -s rr"]
      .join("\n")
      .concat("\n");
    const k4 = { fwmark: 8, family: "ipv4" as const };
    const drop = [{ prefixes: [svcPrefix(k4), rsPrefix(k4)], lines: [] }];
    const want = "-A -f 8 -6 -s rr\n-A -t 10.0.0.100:80 -s rr\n";
    assert.equal(editedRules(text, drop), want);
    assert.equal(
      replayLedger(journalOnHost(text, drop, new Set()))
        .join("\n")
        .concat("\n"),
      want,
    );
    assert.equal(untagged(compactOnHost(journalOnHost(text, drop, new Set()))), want);
    const k = { protocol: "tcp" as const, address: "10.0.0.100", port: 80 };
    const edit = [{ prefixes: [svcPrefix(k)], lines: ["-A -t 10.0.0.100:80 -s wrr"] }];
    assert.equal(
      untagged(compactOnHost(journalOnHost(want, edit, new Set()))),
      "-A -f 8 -6 -s rr\n-A -t 10.0.0.100:80 -s wrr\n",
    );
  });

  it("a change under way when the journal is compacted is still cancelled by its abort", () => {
    const mine = ledgerLine("-A -t 10.0.0.1:80 -s wlc", "me", "T1");
    const compacted = compactOnHost(`-A -t 10.0.0.1:80 -s rr #owner=other\n${mine}\n`);
    assert.equal(compacted, `${mine}\n`, "the change's tag is kept");
    // the rerun of the refused change is cancelled as well: the other owner's line is gone too,
    // so nothing is claimed (the ledger may claim less than the kernel has, never another's)
    const journal = `${compacted}${abortRecord("T1")}\n${mine}\n${abortRecord("T1")}\n`;
    assert.deepEqual(replayLedger(journal), []);
    assert.equal(compactOnHost(journal), "");
  });

  it("a change is recorded before its command runs and cancelled when the command fails, with its exit status", () => {
    const k = { protocol: "tcp" as const, address: "10.0.0.100", port: 80 };
    const edit = (s: string) => ({
      prefixes: [svcPrefix(k)],
      lines: [ledgerLine(`-A -t 10.0.0.100:80 -s ${s}`, "p/s")],
    });
    withFile("-A -t 10.0.0.100:80 -s rr\n", (file) => {
      const run = (scheduler: string, tx: string, command: string) => {
        try {
          const script = `lvs_status() { return "$1"; }\n${withLedgerFirst(file, edit(scheduler), tx, command)}`;
          return { code: 0, out: sh(script) };
        } catch (e) {
          return { code: (e as { status: number }).status, out: "" };
        }
      };
      const rules = () => replayLedger(fs.readFileSync(file, "utf8"));
      assert.deepEqual(run("wrr", "x1", `grep -c wrr ${file}`), { code: 0, out: "1\n" }, "recorded before it ran");
      assert.deepEqual(rules(), ["-A -t 10.0.0.100:80 -s wrr #owner=p%2Fs"]);
      assert.equal(run("sh", "x2", "sh -c 'exit 3'").code, 3);
      assert.deepEqual(rules(), ["-A -t 10.0.0.100:80 -s wrr #owner=p%2Fs"], "cancelled: as it was before");
      assert.match(fs.readFileSync(file, "utf8"), /^#abort x2$/m);
    });
  });

  it("compaction is due once the journal holds far more records than rules", () => {
    const line = (w: number) => `-a -t 10.0.0.100:80 -r 10.0.0.11:80 -g -w ${w} -x 0 -y 0`;
    const journal = (n: number) => `${Array.from({ length: n }, (_, i) => line(i)).join("\n")}\n`;
    assert.equal(needsCompaction(journal(100)), false);
    assert.equal(needsCompaction(journal(300)), true);
    assert.equal(compactOnHost(journal(300)), `${line(299)}\n`);
    assert.equal(readJournal(journal(100)).compaction, undefined);
    assert.deepEqual(readJournal(journal(300)).compaction?.records, [line(299)]);
  });

  it("a compaction worked out from the journal as read is written while the file is still that journal, else awk compacts the file", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ledger-"));
    try {
      // awk, counted: which way each compaction went
      const awk = sh("command -v awk").trim();
      fs.writeFileSync(path.join(dir, "awk"), `#!/bin/sh\necho x >> '${dir}/awk-runs'\nexec ${awk} "$@"\n`, {
        mode: 0o755,
      });
      const env = { ...process.env, PATH: `${dir}:${process.env.PATH}` };
      const awkRuns = () =>
        fs.existsSync(path.join(dir, "awk-runs")) ? fs.readFileSync(path.join(dir, "awk-runs"), "utf8").length / 2 : 0;
      const file = path.join(dir, "ipvs.rules");
      const rule = (w: number) => `-a -t 10.0.0.100:80 -r 10.0.0.11:80 -g -w ${w} -x 0 -y 0 #tx=t${w}`;
      const journal = `${Array.from({ length: 300 }, (_, i) => rule(i)).join("\n")}\n`;
      const { compaction } = readJournal(journal);
      assert.ok(compaction);
      const appendAfter = (records: string[]) =>
        sh(`${ledgerPrologue(file, compaction)} || exit $?\n${appendScript(file, records)}`, env);

      fs.writeFileSync(file, journal);
      appendAfter(["#abort t299"]);
      assert.equal(awkRuns(), 0, "unchanged since the read: no awk");
      assert.equal(fs.readFileSync(file, "utf8"), `${rule(299)}\n#abort t299\n`);
      assert.deepEqual(
        replayLedger(fs.readFileSync(file, "utf8")),
        [],
        "an abort after the compaction still cancels its change",
      );

      fs.writeFileSync(file, `${journal}${rule(300)}\n`); // a writer appended after the read
      appendAfter([]);
      assert.equal(awkRuns(), 1, "changed since the read: awk compacts what the file holds");
      assert.equal(fs.readFileSync(file, "utf8"), `${rule(300)}\n`);

      const empty = readJournal(`${journal}#drop -a -t 10.0.0.100:80\n`).compaction;
      fs.writeFileSync(file, `${journal}#drop -a -t 10.0.0.100:80\n`);
      sh(`${ledgerPrologue(file, empty!)} || exit $?`, env);
      assert.equal(fs.readFileSync(file, "utf8"), "", "nothing live: an empty journal");
      assert.equal(awkRuns(), 1);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the boot restore gives ipvsadm -R the rules without owner tags, services first", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ledger-"));
    try {
      const file = path.join(dir, "ipvs.rules");
      fs.writeFileSync(
        file,
        [
          ledgerLine("-a -t 10.0.0.100:80 -r 10.0.0.11:80 -g -w 1 -x 0 -y 0", "p/s/r"),
          ledgerLine("-A -t 10.0.0.100:80 -s rr", "p/s", "a1"),
          ledgerLine("-A -t 10.0.0.100:80 -s wrr", "p/s", "a2"),
          ledgerLine("-A -t 10.0.0.100:80 -s sh", "p/s", "a3"),
          abortRecord("a3"),
          "-A -f 8 -6 -s rr",
          ledgerLine("-A -f 9 -s rr", "p/s", "a4"),
          "#drop -A -f 9",
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

  it("appends, compaction and the boot restore wait while another process holds the ledger's lock", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ledger-"));
    try {
      const file = path.join(dir, "ipvs.rules");
      const order = path.join(dir, "order");
      fs.writeFileSync(file, "-A -t 10.0.0.100:80 -s rr\n");
      fs.writeFileSync(path.join(dir, "ipvsadm"), `#!/bin/sh\ncat > /dev/null; echo restored >> '${order}'\n`, {
        mode: 0o755,
      });
      const env = { ...process.env, PATH: `${dir}:${process.env.PATH}` };
      const holding = (): Promise<void> =>
        new Promise((released) => {
          const script = `touch '${dir}/held'; sleep 0.4; echo released >> '${order}'`;
          spawn("flock", [ledgerLock(file), "sh", "-c", script]).on("close", () => released());
        });
      const waitHeld = async () => {
        while (!fs.existsSync(path.join(dir, "held"))) await new Promise((r) => setTimeout(r, 10));
        fs.rmSync(path.join(dir, "held"));
      };
      const append = `${ledgerPrologue(file, compactionOf(fs.readFileSync(file, "utf8")))} || exit $?\n${appendScript(file, ["#drop -A -t 10.0.0.1:80"])}`;
      for (const script of [append, restoreRulesScript(file)]) {
        const released = holding();
        await waitHeld();
        sh(`${script}\necho after >> '${order}'`, env);
        await released;
      }
      assert.deepEqual(fs.readFileSync(order, "utf8").split("\n"), [
        "released",
        "after",
        "released",
        "restored",
        "after",
        "",
      ]);
      assert.deepEqual(replayLedger(fs.readFileSync(file, "utf8")), ["-A -t 10.0.0.100:80 -s rr"]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a host without flock still records, compacts and restores, without the lock", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ledger-"));
    try {
      // a PATH with the tools the scripts use, and no flock
      for (const tool of ["sh", "awk", "mv", "rm", "mkdir", "cat"]) {
        fs.symlinkSync(sh(`command -v ${tool}`).trim(), path.join(dir, tool));
      }
      fs.writeFileSync(path.join(dir, "ipvsadm"), "#!/bin/sh\ncat\n", { mode: 0o755 });
      const env = { PATH: dir };
      const file = path.join(dir, "state", "ipvs.rules");
      const record = (n: number) => `-A -t 10.0.0.${n}:80 -s rr #tx=t${n}`;
      const drop1 = "#drop -A -t 10.0.0.1:80";
      sh(`${ledgerPrologue(file)} || exit $?\n${appendScript(file, [record(1), record(2), drop1])}`, env);
      // (no md5sum either: awk compacts what the file holds)
      sh(
        `${ledgerPrologue(file, compactionOf(fs.readFileSync(file, "utf8")))} || exit $?\n${appendScript(file, [record(3)])}`,
        env,
      );
      assert.equal(fs.readFileSync(file, "utf8"), `${record(2)}\n${record(3)}\n`, "compacted, then appended");
      assert.equal(sh(restoreRulesScript(file), env), "-A -t 10.0.0.2:80 -s rr\n-A -t 10.0.0.3:80 -s rr\n");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
