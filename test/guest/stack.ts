/**
 * Runs in the lab guest, in a host's namespace (the director's), as root: drives one program with
 * the real pulumi CLI through the Automation API (inline program, local file backend, passphrase
 * secrets), the way test/e2e drives programs on the machine. Used for the local connection, which
 * must run where it deploys.
 *
 *   node stack.js <program dir> <op> [<op>...]
 *     op: up | up-refresh (up --refresh) | refresh-preview (preview --refresh --expect-no-changes;
 *         reports whether there were changes) | destroy | sh:<command> (a shell command, e.g.
 *         drift made by hand between two operations)
 *   <program dir>: a JavaScript program (index.js, Pulumi.yaml), built on the machine (the guest
 *   has no time to load the TypeScript compiler)
 *   env: PULUMI_LVS_GUEST_CONFIG  JSON {key: {value, secret?}} (stack config)
 *        PULUMI_LVS_GUEST_WORK    working directory (default /tmp/pulumi-lvs-guest)
 * Prints the CLI's output, and after each operation one line `#result <op> {json}`.
 * The guest's read-only shares: /mnt/project (this checkout, built), /mnt/node, /mnt/pulumi.
 */
import { execSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { LocalWorkspace } from "@pulumi/pulumi/automation";

const project = path.resolve(__dirname, "../../..");

async function main(): Promise<void> {
  const [programArg, ...ops] = process.argv.slice(2);
  if (!programArg || ops.length === 0) throw new Error("usage: stack.js <program dir> <op> [<op>...]");
  const work = process.env.PULUMI_LVS_GUEST_WORK ?? "/tmp/pulumi-lvs-guest";
  const src = path.resolve(project, programArg);
  const dir = path.join(work, path.basename(src));
  const modules = path.join(work, "node_path");
  for (const d of [dir, path.join(work, "home"), path.join(work, "state")]) fs.mkdirSync(d, { recursive: true });
  // the program's imports resolve through NODE_PATH to this checkout: one copy of each package
  // (realpaths under /mnt/project), in this process and in the dynamic provider's
  if (!fs.existsSync(modules)) {
    fs.mkdirSync(modules);
    fs.symlinkSync(project, path.join(modules, "pulumi-lvs"));
    fs.symlinkSync(path.join(project, "node_modules/@pulumi"), path.join(modules, "@pulumi"));
  }
  process.env.NODE_PATH = modules;
  require("node:module").Module._initPaths();
  for (const f of ["Pulumi.yaml", "index.js"]) fs.copyFileSync(path.join(src, f), path.join(dir, f));
  const projectName = /^name:\s*(\S+)/m.exec(fs.readFileSync(path.join(dir, "Pulumi.yaml"), "utf8"))![1]!;
  const stack = await LocalWorkspace.createOrSelectStack(
    {
      stackName: "lab",
      projectName,
      program: async () => {
        delete require.cache[path.join(dir, "index.js")];
        return require(path.join(dir, "index.js"));
      },
    },
    {
      workDir: dir,
      envVars: {
        PULUMI_HOME: path.join(work, "home"),
        PULUMI_BACKEND_URL: `file://${path.join(work, "state")}`,
        PULUMI_CONFIG_PASSPHRASE: "pulumi-lvs-lab",
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        NODE_PATH: modules,
      },
    },
  );
  const config = JSON.parse(process.env.PULUMI_LVS_GUEST_CONFIG ?? "{}") as Record<
    string,
    { value: string; secret?: boolean }
  >;
  if (Object.keys(config).length > 0) await stack.setAllConfig(config);
  const onOutput = (s: string) => process.stdout.write(s);
  for (const op of ops) {
    const t0 = Date.now();
    let result: Record<string, unknown>;
    if (op === "up" || op === "up-refresh") {
      const r = await stack.up({ onOutput, refresh: op === "up-refresh" });
      result = {
        summary: r.summary.resourceChanges,
        outputs: Object.fromEntries(Object.entries(r.outputs).map(([k, v]) => [k, v.value])),
      };
    } else if (op === "refresh-preview") {
      // `pulumi preview --refresh --expect-no-changes`: what drift shows as (refresh differences
      // are not in a preview's change summary)
      result = await stack.preview({ onOutput, refresh: true, expectNoChanges: true }).then(
        (r) => ({ changes: false, changeSummary: r.changeSummary }),
        (e: Error) => {
          if (/no changes were expected/i.test(String(e.message))) return { changes: true };
          throw e;
        },
      );
    } else if (op === "destroy") {
      const r = await stack.destroy({ onOutput });
      result = { summary: r.summary.resourceChanges };
      await stack.workspace.removeStack("lab");
    } else if (op.startsWith("sh:")) {
      result = { output: execSync(op.slice(3), { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }) };
    } else throw new Error(`unknown operation ${op}`);
    console.log(`#result ${op.split(":")[0]} ${JSON.stringify({ ...result, seconds: (Date.now() - t0) / 1000 })}`);
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(String((e as Error).message ?? e));
    process.exit(1);
  },
);
