/**
 * The benchmark's import row: `pulumi-lvs import` of the director as `ipvsadm -R` left it (the
 * ipvsadm-restore variant's table, made by hand as far as pulumi-lvs knows), timed; then the
 * generated program's first `pulumi up`, which must leave `ipvsadm -S -n` byte-identical.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { lab, labPrivateKey, sh } from "../test/e2e/harness/lab";
import { installedPackage } from "../test/e2e/harness/package";
import { cacheDir } from "../test/e2e/harness/paths";
import { TestStack } from "../test/e2e/harness/stack";

const execFileP = promisify(execFile);

export interface ImportTiming {
  /** The step: `import` (the CLI's read and write), `import-up` (the program's first up). */
  step: "import" | "import-up";
  seconds: number;
  /** Resources the step declared (import) or created (import-up: take-overs). */
  changed: number;
}

const saved = () => sh("director", "ipvsadm -S -n", { timeoutMs: 600_000 });

/**
 * Imports the director, then takes it over with the generated program, checking that the table is
 * as it was; the stack is then forgotten (its state removed, the director's ledger records with it)
 * so that the variant's own steps go on with the table as `ipvsadm -R` made it.
 */
export async function importSteps(size: number, env: Record<string, string>): Promise<ImportTiming[]> {
  const before = await saved();
  const out = path.join(fs.mkdtempSync(path.join(cacheDir, "bench", "import-")), `import-${size}`);
  const bin = path.join(await installedPackage(), "node_modules", ".bin", "pulumi-lvs");
  const args = ["import", "--host", `root@127.0.0.1:${lab().hosts.director!.port}`, "--key", lab().privateKeyPath];
  const t0 = process.hrtime.bigint();
  await execFileP(bin, [...args, "--known-hosts", lab().knownHostsPath, "--out", out], { maxBuffer: 64 << 20 });
  const importSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const declared = (fs.readFileSync(path.join(out, "index.ts"), "utf8").match(/new lvs\.\w+\(/g) ?? []).length;
  const stack = await TestStack.create(`bench-import-${size}`, {
    program: out,
    config: { privateKey: { value: labPrivateKey(), secret: true } },
    env,
  });
  const t1 = process.hrtime.bigint();
  const up = await stack.stack.up();
  const upSeconds = Number(process.hrtime.bigint() - t1) / 1e9;
  const after = await saved();
  if (after !== before) throw new Error(`import ${size}: the first up of the imported program changed the table`);
  await stack.stack.workspace.removeStack(stack.stack.name, { force: true });
  await sh("director", "rm -f /var/lib/pulumi-lvs/ipvs.rules /var/lib/pulumi-lvs/director.baseline");
  return [
    { step: "import", seconds: importSeconds, changed: declared },
    { step: "import-up", seconds: upSeconds, changed: up.summary.resourceChanges?.create ?? 0 },
  ];
}
