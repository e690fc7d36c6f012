// Reads what `pulumi up --otel-traces file://…` writes (OTLP JSON, one export a line) and sums its
// spans into the phases of a no-op up. The span names, as pulumi 3.259 writes them (a traced no-op
// up: test/unit/fixtures/otel/noop-up.jsonl):
// - `pulumi` (the CLI's root span) and `pulumi-plan` (the engine's run of the operation);
// - `run-program`: the program's run, from the language host's Run to its end; the engine's steps
//   for the resources it registers run meanwhile;
// - `pulumirpc.ResourceProvider/Check` and `pulumirpc.ResourceProvider/Diff`: each resource's
//   Check and Diff by its provider (the CLI's side of the call);
// - `gocloud.dev/blob.*`: the file backend's reads and writes. A no-op up writes its checkpoint
//   once, after `pulumi-plan` ends (the state serialized, which has no span of its own, then its
//   backup copied and the file written).

/** The phases of an up, in seconds. */
export interface Phases {
  /** The CLI's root span: the whole command. */
  total: number;
  /** From the command's start to the program's: plugins, the state read and decrypted. */
  startup: number;
  /** The program's run (`run-program`), the steps for its resources included. */
  program: number;
  /** Every Check and Diff by a provider, summed (they overlap under --parallel). */
  checkDiff: number;
  /** From the end of the engine's run to the backend's last write: the checkpoint. */
  checkpoint: number;
}

interface Span {
  name: string;
  /** The span's string attributes (`cli.command` of the root span: `pulumi up`). */
  attributes: Record<string, string>;
  /** Nanoseconds since the epoch (beyond a double's exact integers). */
  start: bigint;
  end: bigint;
}

/** The spans of a trace file's exports. */
export function spansOf(text: string): Span[] {
  const spans: Span[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const exported = JSON.parse(line) as {
      resourceSpans?: Array<{
        scopeSpans?: Array<{
          spans?: Array<{
            name: string;
            startTimeUnixNano: string;
            endTimeUnixNano: string;
            attributes?: Array<{ key: string; value: { stringValue?: string } }>;
          }>;
        }>;
      }>;
    };
    for (const r of exported.resourceSpans ?? [])
      for (const scope of r.scopeSpans ?? [])
        for (const s of scope.spans ?? [])
          spans.push({
            name: s.name,
            attributes: Object.fromEntries(
              (s.attributes ?? []).flatMap((a) =>
                a.value.stringValue === undefined ? [] : [[a.key, a.value.stringValue]],
              ),
            ),
            start: BigInt(s.startTimeUnixNano),
            end: BigInt(s.endTimeUnixNano),
          });
  }
  return spans;
}

/** The command a trace is of (`pulumi up`, `pulumi stack history`: the Automation API runs both for an up). */
export function commandOf(text: string): string | undefined {
  return spansOf(text).find((s) => s.name === "pulumi")?.attributes["cli.command"];
}

const CHECK_DIFF = new Set(["pulumirpc.ResourceProvider/Check", "pulumirpc.ResourceProvider/Diff"]);
const BLOB = "gocloud.dev/blob.";

/** The phases of a traced no-op up (see the top of this file for the spans it reads). */
export function phasesOf(text: string): Phases {
  const spans = spansOf(text);
  const one = (name: string): Span => {
    const found = spans.filter((s) => s.name === name);
    if (found.length !== 1) throw new Error(`the trace has ${found.length} spans named ${name}, not one`);
    return found[0]!;
  };
  const root = one("pulumi");
  const plan = one("pulumi-plan");
  const program = one("run-program");
  // (bigints: no Math.max)
  let lastWrite = plan.end;
  for (const x of spans) if (x.name.startsWith(BLOB) && x.end > lastWrite) lastWrite = x.end;
  const seconds = (ns: bigint) => Number(ns) / 1e9;
  return {
    total: seconds(root.end - root.start),
    startup: seconds(program.start - root.start),
    program: seconds(program.end - program.start),
    checkDiff: seconds(spans.filter((x) => CHECK_DIFF.has(x.name)).reduce((a, x) => a + (x.end - x.start), 0n)),
    checkpoint: seconds(lastWrite - plan.end),
  };
}
