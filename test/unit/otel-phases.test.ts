import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { commandOf, phasesOf, spansOf } from "../../bench/otel";

// Traces captured from pulumi 3.259 (`--otel-traces file://…`), written by the benchmark's
// noop-up-traced step of lvs-inline with 20 real servers; stack traces and local paths left out.
const fixtures = path.join(__dirname, "../../../test/unit/fixtures/otel");
const read = (f: string) => fs.readFileSync(path.join(fixtures, f), "utf8");

describe("the phases of a no-op up, from the CLI's trace (captured)", () => {
  it("tells the trace of the up from the other commands the Automation API runs for it", () => {
    assert.equal(commandOf(read("noop-up.jsonl")), "pulumi up");
    assert.equal(commandOf(read("stack-history.jsonl")), "pulumi stack history");
    assert.throws(() => phasesOf(read("stack-history.jsonl")), /0 spans named pulumi-plan/);
  });

  it("times startup, the program, its Checks and Diffs, and the checkpoint written after the engine's run", () => {
    const trace = read("noop-up.jsonl");
    const p = phasesOf(trace);
    const ms = (x: number) => Math.round(x * 1000);
    assert.deepEqual(
      { total: ms(p.total), startup: ms(p.startup), program: ms(p.program), checkpoint: ms(p.checkpoint) },
      { total: 642, startup: 141, program: 485, checkpoint: 4 },
    );
    // the 10 VirtualServices: one Check and one Diff each by their provider, summed
    const calls = spansOf(trace).filter((s) => /^pulumirpc\.ResourceProvider\/(Check|Diff)$/.test(s.name));
    assert.equal(calls.length, 20);
    assert.equal(ms(p.checkDiff), 114);
    assert.ok(p.checkDiff < p.program && p.program < p.total);
  });
});
