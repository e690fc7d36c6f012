import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type * as automation from "@pulumi/pulumi/automation";
import { installedPackage } from "./package";
import { cacheDir, repoRoot } from "./paths";
import { PASSPHRASE, type ProgramStack, stackStateFiles, TestStack } from "./stack";

/** Where the language host is, when scripts/toolchain.sh could build it (empty otherwise). */
export function languageHost(): string {
  return process.env.PULUMI_LVS_LANGUAGE_HOST ?? "";
}

let saidSkipped = false;

/**
 * A stack for one of `examples/`, run the way its user runs it when this machine has the Node.js
 * language host ({@link FolderStack}), and otherwise as an Automation API inline program
 * ({@link TestStack}), saying once which folder-run steps that skips and why.
 */
export async function exampleStack(name: string, example: string): Promise<ProgramStack> {
  if (languageHost()) return FolderStack.create(name, { program: example });
  if (!saidSkipped) {
    saidSkipped = true;
    console.log(
      "[harness] no pulumi-language-nodejs (scripts/toolchain.sh builds it from shared/third_party beside the repository):" +
        " the examples run as Automation API inline programs; the folder runs (npm install, pulumi config set," +
        " `pulumi up` typed in the folder) are skipped",
    );
  }
  return TestStack.create(name, { program: example });
}

export interface FolderStackOptions {
  /** The program folder (Pulumi.yaml, package.json, index.ts), relative to the repository root (or absolute). */
  program: string;
  /** A fixed folder to run in (kept across runs, e.g. the demo's), instead of a new one. */
  home?: string;
  /** Extra environment for the CLI. */
  env?: Record<string, string>;
  /**
   * false: only copy the folder and set the environment; the test runs the user's own commands
   * (`npm install`, `pulumi stack init`) with {@link FolderStack.shell}. Default: install the
   * package and select (or create) the stack.
   */
  prepared?: boolean;
}

/**
 * A program run the way a user runs it: the folder copied as it is in the repository, `npm install`
 * of the packed pulumi-lvs tarball into it, config set with `pulumi config set`, and every
 * operation the `pulumi` CLI binary typed in the folder. The CLI starts the Node.js language host,
 * which compiles index.ts with the folder's TypeScript and tsconfig.json and resolves pulumi-lvs
 * from the folder's node_modules. File backend and passphrase secrets, in the run's own folder.
 */
export class FolderStack implements ProgramStack {
  private constructor(
    readonly name: string,
    readonly dir: string,
    readonly stateDir: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  static async create(name: string, opts: FolderStackOptions): Promise<FolderStack> {
    const tarball = path.join(await installedPackage(), "pulumi-lvs.tgz");
    const runDir = opts.home ?? fs.mkdtempSync(path.join(cacheDir, "e2e", "folder-"));
    const dir = path.join(runDir, path.basename(opts.program));
    fs.mkdirSync(dir, { recursive: true });
    const program = path.resolve(repoRoot, opts.program);
    for (const f of fs.readdirSync(program))
      if (!/^(node_modules|Pulumi\..+\.yaml|bin)$/.test(f))
        fs.cpSync(path.join(program, f), path.join(dir, f), { recursive: true });
    const stateDir = path.join(runDir, "state");
    fs.mkdirSync(stateDir, { recursive: true });
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PULUMI_BACKEND_URL: `file://${stateDir}`,
      PULUMI_CONFIG_PASSPHRASE: PASSPHRASE,
      PULUMI_HOME: path.join(runDir, "pulumi-home"),
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      // `pulumi up` and `pulumi destroy` typed as they are, without a terminal to confirm on
      PULUMI_SKIP_CONFIRMATIONS: "true",
      ...opts.env,
    };
    const s = new FolderStack(name, dir, stateDir, env);
    if (opts.prepared === false) return s;
    await s.npmInstall(tarball);
    await s.pulumi(["stack", "select", "--create", name]);
    return s;
  }

  /** Runs a bash script (a user's commands) with the stack's environment, in the folder's parent. */
  shell(script: string): Promise<string> {
    return run("bash", ["-euo", "pipefail", "-c", script], { cwd: path.dirname(this.dir), env: this.env });
  }

  /**
   * `npm install` of the packed tarball (and the pinned @pulumi/pulumi) into the folder, as a user
   * installs a package; skipped when this tarball is installed there already.
   */
  private async npmInstall(tarball: string): Promise<void> {
    const stamp = path.join(this.dir, "node_modules", ".pulumi-lvs-tarball");
    const hash = fs.statSync(tarball).mtimeMs.toString() + tarball;
    if (fs.existsSync(stamp) && fs.readFileSync(stamp, "utf8") === hash) return;
    const pinned = JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")).devDependencies[
      "@pulumi/pulumi"
    ];
    await run(
      "npm",
      [
        "install",
        "--no-audit",
        "--no-fund",
        "--prefer-offline",
        "--loglevel=error",
        tarball,
        `@pulumi/pulumi@${pinned}`,
      ],
      {
        cwd: this.dir,
        env: this.env,
      },
    );
    fs.writeFileSync(stamp, hash);
  }

  /** Runs `pulumi ARGS` in the folder; rejects with the output when it fails. */
  pulumi(args: string[], opts: { input?: string; quiet?: boolean } = {}): Promise<string> {
    return run("pulumi", args, { cwd: this.dir, env: this.env, input: opts.input, quiet: opts.quiet });
  }

  /** `pulumi config set KEY` for each entry, the value on standard input (`--secret` for secrets). */
  async setConfig(config: automation.ConfigMap): Promise<void> {
    for (const [key, v] of Object.entries(config))
      await this.pulumi(["config", "set", ...(v.secret ? ["--secret"] : []), key], { input: v.value, quiet: true });
  }

  async up(
    opts: { refresh?: boolean; parallel?: number } = {},
  ): Promise<{ summary: automation.UpdateSummary; stdout: string }> {
    const stdout = await this.pulumi([
      "up",
      "--yes",
      "--non-interactive",
      "--skip-preview",
      ...(opts.refresh ? ["--refresh"] : []),
      ...(opts.parallel ? ["--parallel", String(opts.parallel)] : []),
    ]);
    return { summary: await this.lastUpdate(), stdout };
  }

  async preview(opts: { refresh?: boolean; expectNoChanges?: boolean; diff?: boolean } = {}): Promise<string> {
    return this.pulumi(["preview", "--non-interactive", ...flags(opts)]);
  }

  async previewDrift(opts: { diff?: boolean } = {}): Promise<string> {
    let text = "";
    await assert.rejects(
      this.preview({ refresh: true, expectNoChanges: true, ...opts }).then((t) => {
        text = t;
      }),
      (e: Error) => {
        text = e.message;
        return /no changes were expected/i.test(e.message);
      },
    );
    return text;
  }

  async refresh(opts: { expectNoChanges?: boolean } = {}): Promise<string> {
    return this.pulumi(["refresh", "--yes", "--non-interactive", "--skip-preview", ...flags(opts)]);
  }

  async destroy(): Promise<{ summary: automation.UpdateSummary }> {
    await this.pulumi(["destroy", "--yes", "--non-interactive", "--skip-preview"]);
    return { summary: await this.lastUpdate() };
  }

  /** The last update's record from `pulumi stack history --json` (kind, result, resourceChanges). */
  private async lastUpdate(): Promise<automation.UpdateSummary> {
    const history = JSON.parse(await this.pulumi(["stack", "history", "--json"], { quiet: true })) as Array<
      Record<string, unknown>
    >;
    const last = history[0];
    if (!last) throw new Error(`stack ${this.name} has no history`);
    return last as unknown as automation.UpdateSummary;
  }

  stateFileText(): string {
    return stackStateFiles(this.stateDir)
      .map((f) => fs.readFileSync(f, "utf8"))
      .join("\n");
  }

  checkpoint(): any {
    const files = stackStateFiles(this.stateDir).filter((f) => path.basename(f) === `${this.name}.json`);
    if (files.length !== 1) throw new Error(`expected one checkpoint file for ${this.name}, found ${files.length}`);
    return JSON.parse(fs.readFileSync(files[0]!, "utf8"));
  }

  async dispose(): Promise<void> {
    try {
      await this.pulumi(["destroy", "--yes", "--non-interactive", "--skip-preview"]);
    } finally {
      await this.pulumi(["stack", "rm", "--yes", "--force", this.name], { quiet: true }).catch(() => undefined);
    }
  }
}

function flags(opts: { refresh?: boolean; expectNoChanges?: boolean; diff?: boolean }): string[] {
  return [
    ...(opts.refresh ? ["--refresh"] : []),
    ...(opts.expectNoChanges ? ["--expect-no-changes"] : []),
    ...(opts.diff ? ["--diff"] : []),
  ];
}

/**
 * Runs a command, its output shown indented as it comes (unless quiet or PULUMI_LVS_E2E_QUIET=1);
 * resolves with standard output, rejects with both streams when it exits non-zero.
 */
export function run(
  cmd: string,
  args: string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv; input?: string; quiet?: boolean },
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    const show = !opts.quiet && process.env.PULUMI_LVS_E2E_QUIET !== "1";
    if (show) process.stdout.write(`    │ $ ${cmd} ${args.join(" ")}\n`);
    child.stdout.on("data", (d: Buffer) => {
      out += d;
      if (show) process.stdout.write(d.toString().replace(/^(?=.)/gm, "    │ "));
    });
    child.stderr.on("data", (d: Buffer) => {
      err += d;
      if (show) process.stdout.write(d.toString().replace(/^(?=.)/gm, "    │ "));
    });
    child.stdin.end(opts.input ?? "");
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(" ")} exited with ${code}\n${out}\n${err}`));
    });
  });
}
