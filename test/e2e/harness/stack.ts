import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import type * as automation from "@pulumi/pulumi/automation";
import { installedPackage } from "./package";
import { repoRoot } from "./paths";

export const PASSPHRASE = "pulumi-lvs-e2e-passphrase";

/**
 * What the tests do with a stack, whichever way its program runs: typed in its folder
 * (`FolderStack` in folder.ts) or as an Automation API inline program ({@link TestStack}).
 */
export interface ProgramStack {
  /** The folder the program runs in. */
  readonly dir: string;
  /** Sets stack config (keys without a namespace belong to the project). */
  setConfig(config: automation.ConfigMap): Promise<void>;
  /** `stdout`: what the CLI printed (the progress display and Diagnostics). */
  up(opts?: { refresh?: boolean; parallel?: number }): Promise<{ summary: automation.UpdateSummary; stdout: string }>;
  preview(opts?: { refresh?: boolean; expectNoChanges?: boolean }): Promise<unknown>;
  /** `pulumi preview --refresh --expect-no-changes`, which must fail; returns what it printed. */
  previewDrift(opts?: { diff?: boolean }): Promise<string>;
  refresh(opts?: { expectNoChanges?: boolean }): Promise<unknown>;
  destroy(): Promise<{ summary: automation.UpdateSummary }>;
  /** The stack's checkpoint files as stored by the file backend (for secret checks). */
  stateFileText(): string;
  /** The stack's checkpoint, parsed (`checkpoint.latest.resources`, …). */
  checkpoint(): any;
  /** Destroys whatever is left, then removes the stack. */
  dispose(): Promise<void>;
}

export interface TestStackOptions {
  /** A folder holding Pulumi.yaml and index.js (a normal Pulumi program), relative to the repository root (or absolute). */
  program: string;
  /** Stack config. Keys without a namespace belong to the project. */
  config?: automation.ConfigMap;
  /** Extra environment for the pulumi CLI and so for the dynamic provider process. */
  env?: Record<string, string>;
  /** A fixed directory for the program and the state (kept across runs), instead of a new one. */
  home?: string;
  /** More npm packages the program needs (name → version), installed next to pulumi-lvs. */
  packages?: Record<string, string>;
}

/**
 * A Pulumi stack driven by the real `pulumi` CLI (built from the Go module proxy at the pinned
 * version) through the Automation API, on a local file backend with passphrase secrets.
 *
 * The program folder is copied below the directory where the packed pulumi-lvs tarball is
 * installed, so the program, the engine and the dynamic-provider process all see the package as a
 * user's program does. The program runs as an Automation API inline program: the Automation API of
 * that installed @pulumi/pulumi hosts the language runtime, and the CLI connects to it. Tests that
 * need the program in this process (a count of program runs, many stacks in one process) use
 * this; the examples run typed in their folders where the language host is built
 * (`exampleStack` in folder.ts).
 */
export class TestStack implements ProgramStack {
  private constructor(
    readonly stack: automation.Stack,
    readonly dir: string,
    readonly stateDir: string,
    /** How many times the engine has run the program (see {@link up}). */
    private readonly runs: { count: number },
  ) {}

  static async create(name: string, opts: TestStackOptions): Promise<TestStack> {
    const base = await installedPackage(opts.packages);
    const runDir = opts.home ?? fs.mkdtempSync(path.join(base, "run-"));
    const dir = path.join(runDir, "program");
    if (opts.home) {
      // the program must resolve pulumi-lvs from the current install
      fs.mkdirSync(runDir, { recursive: true });
      fs.rmSync(path.join(runDir, "node_modules"), { force: true, recursive: true });
      fs.symlinkSync(path.join(base, "node_modules"), path.join(runDir, "node_modules"));
      fs.rmSync(dir, { recursive: true, force: true });
    }
    fs.cpSync(path.resolve(repoRoot, opts.program), dir, {
      recursive: true,
      filter: (src) =>
        !/^(node_modules|Pulumi\..+\.yaml|tsconfig\.json|package(-lock)?\.json)$/.test(path.basename(src)),
    });
    transpileTypeScript(dir);
    const stateDir = path.join(runDir, "state");
    fs.mkdirSync(stateDir, { recursive: true });
    const env: Record<string, string> = {
      PULUMI_BACKEND_URL: `file://${stateDir}`,
      PULUMI_CONFIG_PASSPHRASE: PASSPHRASE,
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      PULUMI_HOME: path.join(runDir, "pulumi-home"),
      ...opts.env,
    };
    // the installed copy of @pulumi/pulumi: the one that pulumi-lvs registers its resources with
    const auto: typeof automation = require(path.join(base, "node_modules", "@pulumi", "pulumi", "automation"));
    const projectName = /^name:\s*(\S+)/m.exec(fs.readFileSync(path.join(dir, "Pulumi.yaml"), "utf8"))?.[1];
    if (!projectName) throw new Error(`no name in ${opts.program}/Pulumi.yaml`);
    const entry = path.join(dir, "index.js");
    const runs = { count: 0 };
    const program = async () => {
      runs.count++;
      // a fresh evaluation of the program for every operation, as `pulumi up` would do
      for (const k of Object.keys(require.cache)) if (k.startsWith(dir + path.sep)) delete require.cache[k];
      return require(entry);
    };
    const stack = await auto.LocalWorkspace.createOrSelectStack(
      { stackName: name, projectName, program },
      { workDir: dir, envVars: env },
    );
    if (opts.config) await stack.setAllConfig(opts.config);
    return new TestStack(stack, dir, stateDir, runs);
  }

  setConfig(config: automation.ConfigMap): Promise<void> {
    return this.stack.setAllConfig(config);
  }

  /** How many times the engine has run the program so far. */
  get programRuns(): number {
    return this.runs.count;
  }

  /**
   * `pulumi up`. Once in a long run of inline programs in one process (after an `up` that failed),
   * the Automation API completed an `up` without ever calling the program: the engine saw no
   * resources at all ("1 unchanged"). That is the test harness, not the code under test, so such
   * an `up` is run once more, and said so.
   */
  async up(opts: { refresh?: boolean; parallel?: number } = {}): Promise<automation.UpResult> {
    const before = this.runs.count;
    const result = await this.stack.up({ ...opts, onOutput: log });
    if (this.runs.count > before) return result;
    console.warn(`[harness] the program of stack ${this.stack.name} did not run during its up: running up again`);
    return this.stack.up({ ...opts, onOutput: log });
  }

  preview(opts: { refresh?: boolean; expectNoChanges?: boolean } = {}): Promise<automation.PreviewResult> {
    return this.stack.preview({ ...opts, onOutput: log });
  }

  /**
   * `pulumi preview --refresh --expect-no-changes`, which must fail because something drifted.
   * @returns what the preview printed (with `diff`, the values that changed)
   */
  async previewDrift(opts: { diff?: boolean } = {}): Promise<string> {
    let text = "";
    await assert.rejects(
      this.stack.preview({
        refresh: true,
        expectNoChanges: true,
        ...opts,
        onOutput: (o) => {
          text += o;
        },
      }),
      /no changes were expected/i,
    );
    return text;
  }

  refresh(opts: { expectNoChanges?: boolean } = {}): Promise<automation.RefreshResult> {
    return this.stack.refresh({ ...opts, onOutput: log });
  }

  destroy(): Promise<automation.DestroyResult> {
    return this.stack.destroy({ onOutput: log });
  }

  /** The stack's checkpoint as stored by the file backend (for secret checks). */
  stateFileText(): string {
    return this.stateFiles()
      .map((f) => fs.readFileSync(f, "utf8"))
      .join("\n");
  }

  /** The stack's checkpoint, parsed (`checkpoint.latest.resources`, …). */
  checkpoint(): any {
    const files = this.stateFiles().filter((f) => path.basename(f) === `${this.stack.name}.json`);
    if (files.length !== 1)
      throw new Error(`expected one checkpoint file for ${this.stack.name}, found ${files.length}`);
    return JSON.parse(fs.readFileSync(files[0]!, "utf8"));
  }

  private stateFiles(): string[] {
    return stackStateFiles(this.stateDir);
  }

  /** Destroys whatever is left and removes the stack. */
  async dispose(): Promise<void> {
    try {
      await this.stack.destroy({ onOutput: log });
    } finally {
      await this.stack.workspace.removeStack(this.stack.name).catch(() => undefined);
    }
  }
}

/** The stacks' checkpoint files below a file backend's folder. */
export function stackStateFiles(stateDir: string): string[] {
  const files: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.json$/.test(e.name) && !/\.bak$/.test(e.name) && p.includes(`${path.sep}stacks${path.sep}`))
        files.push(p);
    }
  };
  walk(stateDir);
  return files;
}

/** Compiles a TypeScript program (index.ts and its siblings) to CommonJS next to the sources. */
function transpileTypeScript(dir: string): void {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"));
  if (files.length === 0) return;
  const ts: typeof import("typescript") = require("typescript");
  for (const f of files) {
    const src = fs.readFileSync(path.join(dir, f), "utf8");
    const out = ts.transpileModule(src, {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
      fileName: f,
    });
    fs.writeFileSync(path.join(dir, f.replace(/\.ts$/, ".js")), out.outputText);
  }
}

function log(s: string): void {
  if (process.env.PULUMI_LVS_E2E_QUIET !== "1") process.stdout.write(s.replace(/^(?=.)/gm, "    │ "));
}
