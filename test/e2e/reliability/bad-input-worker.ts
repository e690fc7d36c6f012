/**
 * The bad-input previews of the reliability suite, run in a child process of their own: node
 * dist/test/e2e/reliability/bad-input-worker.js FROM TO previews BAD_INPUTS[FROM..TO) through the
 * real CLI and prints one JSON line, the problems found (empty: every case was rejected as it
 * should be). See reliability.test.ts for why a fresh process per batch.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type * as automation from "@pulumi/pulumi/automation";
import { labConnection, labPrivateKey } from "../harness/lab";
import { TestStack } from "../harness/stack";
import { BAD_INPUTS, type BadInput } from "./bad-inputs";

const execFileP = promisify(execFile);
const RESULT = "#bad-input-result ";

/** Runs cases [from, to) in a child process. @returns the problems found */
export async function previewInWorker(from: number, to: number): Promise<string[]> {
  const r = await execFileP(process.execPath, [__filename, String(from), String(to)], {
    env: process.env,
    maxBuffer: 64 * 1024 * 1024,
    timeout: 30 * 60_000,
  }).catch((e: { stdout?: string; stderr?: string; message: string }) => ({
    stdout: e.stdout ?? "",
    stderr: `${e.message}\n${e.stderr ?? ""}`,
  }));
  if (process.env.PULUMI_LVS_E2E_QUIET !== "1") process.stdout.write(r.stdout.replace(/^(?=.)/gm, "    │ "));
  const line = r.stdout.split("\n").find((l) => l.startsWith(RESULT));
  if (!line) return [`cases ${from}..${to - 1}: the worker printed no result:\n${r.stderr.slice(-2000)}`];
  return JSON.parse(line.slice(RESULT.length)) as string[];
}

async function main(): Promise<void> {
  const [from, to] = process.argv.slice(2).map(Number) as [number, number];
  const s = await TestStack.create(`bad-input-${from}`, { program: "test/e2e/programs/cases" });
  const failures: string[] = [];
  try {
    await s.stack.setConfig("director", { value: JSON.stringify(labConnection("director")) });
    await s.stack.setConfig("privateKey", { value: labPrivateKey(), secret: true });
    for (const c of BAD_INPUTS.slice(from, to)) {
      const problem = await rejectedAtPreview(s, c);
      if (problem) failures.push(`${c.name}: ${problem}`);
    }
  } finally {
    await s.stack.workspace.removeStack(s.stack.name).catch(() => undefined);
  }
  console.log(`${RESULT}${JSON.stringify(failures)}`);
}

/**
 * Previews one invalid case. @returns what is wrong with the outcome (undefined: rejected as it
 * should be: an error on the case's resource naming the field and the reason).
 */
async function rejectedAtPreview(s: TestStack, c: BadInput): Promise<string | undefined> {
  await s.stack.setConfig("cases", { value: JSON.stringify([{ name: c.name, kind: c.kind, args: c.args }]) });
  let text = "";
  for (let attempt = 1; ; attempt++) {
    text = "";
    const runs = s.programRuns;
    try {
      await s.stack.preview({
        onOutput: (o) => {
          text += o;
        },
      });
    } catch (e) {
      text += String((e as automation.CommandError).message ?? e);
      break;
    }
    // A preview that succeeded while the engine never ran the inline program declared nothing
    // (seen once in a long CI run; see TestStack.up): that is the harness, not the check under
    // test, so it is asked once more. A preview that ran the program and found no error is a
    // real failure.
    if (s.programRuns > runs || attempt === 2) {
      return `preview succeeded (the program ran ${s.programRuns - runs} time(s)):\n${text.slice(-1500)}`;
    }
    console.warn(`[reliability] ${c.name}: the program did not run during its preview; previewing again`);
  }
  const resource = c.resource ?? new RegExp(`'${c.name}'`);
  const errors = text.split("\n").filter((l) => /error: /.test(l) && resource.test(l));
  if (errors.length === 0) return `no error on its resource:\n${text.slice(-1500)}`;
  const named = errors.find((l) => l.includes(`${c.field}: `) && c.reason.test(l));
  return named ? undefined : `error does not name ${c.field} with ${c.reason}: ${errors[0]}`;
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
