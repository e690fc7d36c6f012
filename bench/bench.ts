// The performance benchmark (bench/run.sh runs it; see bench/README.md). For each size it deploys
// one director × 10 virtual services × N real servers three ways, with the real pulumi CLI against
// the lab: no-op dynamic resources (the engine floor), pulumi-lvs, and @pulumi/command
// remote.Command running ipvsadm. It times up, a no-op up, preview, refresh and destroy, counts the
// SSH connections the director accepted and the remote commands run there, checks the director's
// IPVS table against the declaration after each step, times the phases of a no-op up from the
// CLI's traces, and writes docs/benchmarks.{json,md,png}.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { lab, labConnection, labPrivateKey, sh } from "../test/e2e/harness/lab";
import { cacheDir, repoRoot } from "../test/e2e/harness/paths";
import { savedRules } from "../test/e2e/harness/setup";
import { TestStack } from "../test/e2e/harness/stack";
import { type ImportTiming, importSteps } from "./import";
import { commandOf, type Phases, phasesOf } from "./otel";

const SERVICES = 10;
const VIP = "10.77.0.1";
const VARIANTS = ["floor", "floor-skip", "lvs", "lvs-inline", "ipvsadm-restore", "command"] as const;
type Variant = (typeof VARIANTS)[number];
/** The largest size each variant runs at by default (BENCH_MAX_<VARIANT>, e.g. BENCH_MAX_LVS=200, overrides). */
const MAX_SIZE: Record<Variant, number> = {
  floor: 1000,
  "floor-skip": 1000,
  lvs: 1000,
  "lvs-inline": 10000,
  "ipvsadm-restore": 10000,
  command: 1000,
};
const maxSize = (v: Variant) => Number(process.env[`BENCH_MAX_${v.toUpperCase().replace(/-/g, "_")}`] ?? MAX_SIZE[v]);
/** The program each Pulumi variant runs (ipvsadm-restore runs none). */
const PROGRAM: Partial<Record<Variant, string>> = {
  floor: "floor",
  "floor-skip": "floor",
  lvs: "lvs",
  "lvs-inline": "lvs-inline",
  command: "command",
};
/** `noop-up-traced`: a no-op up again, with the CLI's --otel-traces, for its phases (its time includes the tracing's). */
const STEPS = ["up", "noop-up", "noop-up-traced", "preview", "refresh", "update-one", "destroy"] as const;
/** The steps of each variant, and the import row's (bench/import.ts: after ipvsadm-restore's up). */
type Step = (typeof STEPS)[number] | ImportTiming["step"];
/** --parallel of every CLI run (the CLI's default is 4 × the CPUs: 8 on a 2-core machine). */
const PARALLEL = Number(process.env.BENCH_PARALLEL ?? 32);
/** A step that takes longer is stopped and recorded as stalled (seconds). */
const STEP_TIMEOUT_S = Number(process.env.BENCH_STEP_TIMEOUT ?? 600);
/**
 * How long an up waits after a step deleted many real servers (seconds; 0: not at all). IPVS keeps
 * a deleted real server in a trash list until it has been idle for two minutes (a timer looks every
 * minute), and every real server added meanwhile is looked for in that list, one by one: on the
 * lab, `ipvsadm -R` of 10,000 real servers took 1.7 s with the list empty and 4.1 s with the
 * 10,000 of the step before in it. Waiting makes every variant's up start from an empty list.
 */
const TRASH_WAIT_S = Number(process.env.BENCH_TRASH_WAIT ?? 180);
/** Fewer deleted real servers than this are not waited for (their list costs an add little). */
const TRASH_MIN = 1000;
/** When the last step that deleted at least TRASH_MIN real servers ended, and how many. */
let lastDeletion: { at: number; count: number } | undefined;

/**
 * Before an up: waits until IPVS has freed the real servers the last large deletion left in its trash.
 * @returns the seconds waited
 */
async function waitForTrash(what: string): Promise<number> {
  if (!lastDeletion || lastDeletion.count < TRASH_MIN) return 0;
  const left = lastDeletion.at + TRASH_WAIT_S * 1000 - Date.now();
  if (left <= 0) return 0;
  console.log(
    `  (${what}: waiting ${Math.ceil(left / 1000)} s for IPVS to free the ${lastDeletion.count} real servers deleted before; it looks for each one added in that list)`,
  );
  await new Promise((r) => setTimeout(r, left));
  return left / 1000;
}

/** The @pulumi/command version of the baseline: its plugin is built by bench/command-plugin.sh. */
const COMMAND_VERSION = "1.2.1";

interface Service {
  name: string;
  address: string;
  port: number;
  realServers: Array<{ name: string; address: string; weight?: number }>;
}

interface Row {
  size: number;
  variant: Variant;
  step: Step;
  seconds: number;
  /** SSH connections the director accepted during the step. */
  connections: number;
  /** Remote commands run on the director during the step (lvs: the provider's count; command: the counter file). */
  commands: number | null;
  /** Resources the step changed (created, updated, deleted), from the CLI's summary. */
  changed: number;
  /**
   * Host CPU seconds the lab's QEMU process used during the step: the director's work, emulated,
   * on the same cores as the engine (absent in rows measured before it was recorded).
   */
  labCpu?: number;
  /** Most SSH connections open on the director at once during the step (its sshd's log). */
  maxOpen?: number;
  /**
   * Processes started on the director during the step (its PID namespace's last PID, before and
   * after, less the count's own), SSH sessions included (absent in rows measured before it was).
   */
  processes?: number;
  /**
   * The step did not finish within BENCH_STEP_TIMEOUT: it was stopped (its CLI and provider
   * processes killed) and the benchmark's VIP cleaned by hand; `seconds` is the timeout.
   */
  stalled?: string;
  /** Bytes the CLI's automatic log (PULUMI_HOME/logs) grew by during the step (absent in rows measured before it was). */
  logBytes?: number;
  /** noop-up-traced: the phases of the no-op up, from its --otel-traces (bench/otel.ts). */
  phases?: Phases;
  /** up: the seconds it waited, before its clock started, for IPVS to free deleted real servers ({@link waitForTrash}). */
  trashWait?: number;
}

/** CPU seconds used so far by the lab's QEMU process (user + system), from /proc. */
function labCpuSeconds(): number {
  const pid = Number(
    fs
      .readFileSync(path.join(process.env.PULUMI_LVS_LAB_WORK ?? "/var/tmp/pulumi-lvs-lab", "run", "qemu.pid"), "utf8")
      .trim(),
  );
  const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  // utime and stime are fields 14 and 15 of stat(5); fields[0] here is field 3
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Bytes of the files in a folder (0 when it does not exist). */
function folderBytes(dir: string): number {
  if (!fs.existsSync(dir)) return 0;
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .reduce((n, e) => n + fs.statSync(path.join(e.parentPath, e.name)).size, 0);
}

/**
 * Runs `fn` with `--otel-traces` added to the CLI commands of `stack`, each command's trace in a
 * file of its own in `dir` (emptied first), through the Automation API's hook for extra arguments
 * (it has no option for the flag).
 * @returns what `fn` returned, and the text of the trace of its `pulumi up`
 */
async function tracedUp<T>(stack: TestStack, dir: string, fn: () => Promise<T>): Promise<{ result: T; trace: string }> {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const ws = stack.stack.workspace;
  const plain = ws.serializeArgsForOp;
  let n = 0;
  ws.serializeArgsForOp = async (name) => [
    ...(await plain.call(ws, name)),
    "--otel-traces",
    `file://${path.join(dir, `${++n}.jsonl`)}`,
  ];
  let result: T;
  try {
    result = await fn();
  } finally {
    ws.serializeArgsForOp = plain;
  }
  const traces = fs.readdirSync(dir).map((f) => fs.readFileSync(path.join(dir, f), "utf8"));
  const trace = traces.find((t) => commandOf(t) === "pulumi up");
  if (trace === undefined) throw new Error(`no trace of pulumi up in ${dir}`);
  return { result, trace };
}

/** The declaration: real servers spread evenly over the services. */
function shape(services: number, realServers: number): Service[] {
  const out: Service[] = [];
  for (let s = 0; s < services; s++) out.push({ name: `svc-${s}`, address: VIP, port: 8000 + s, realServers: [] });
  for (let r = 0; r < realServers; r++) {
    const n = r + 1;
    out[r % services]!.realServers.push({ name: `rs-${r}`, address: `10.78.${n >> 8}.${n & 255}` });
  }
  return out;
}

/** What `ipvsadm -S -n` must print for the declaration (sorted), and nothing else on the VIP. */
function expectedRules(decl: Service[]): string[] {
  return rulesOf(decl).sort();
}

/** The declaration as ipvsadm rules, services first (what ipvsadm -R takes). */
function rulesOf(decl: Service[]): string[] {
  const lines: string[] = [];
  for (const s of decl) lines.push(`-A -t ${s.address}:${s.port} -s rr`);
  for (const s of decl)
    for (const r of s.realServers) lines.push(`-a -t ${s.address}:${s.port} -r ${r.address}:80 -m -w ${r.weight ?? 1}`);
  return lines;
}

/** The declaration with one weight changed (the update-one step): the first real server's, to 2. */
function withOneWeight(decl: Service[]): Service[] {
  const out = structuredClone(decl);
  out[0]!.realServers[0]!.weight = 2;
  return out;
}

async function benchRules(): Promise<string[]> {
  return (await retry(() => savedRules("director"))).filter((l) => l.includes(` ${VIP}:`));
}

/** Correctness: the director's table for the benchmark's VIP is exactly `want`. */
async function checkTable(want: string[], what: string): Promise<void> {
  const got = await benchRules();
  const missing = want.filter((l) => !got.includes(l));
  const extra = got.filter((l) => !want.includes(l));
  if (missing.length > 0 || extra.length > 0) {
    throw new Error(
      `${what}: the director's IPVS table does not match the declaration: ${missing.length} missing (${missing.slice(0, 3).join("; ")}), ${extra.length} extra (${extra.slice(0, 3).join("; ")})`,
    );
  }
}

function changedOf(summary: { resourceChanges?: Record<string, number> } | undefined): number {
  const c = summary?.resourceChanges ?? {};
  return (c.create ?? 0) + (c.update ?? 0) + (c.delete ?? 0) + (c.replace ?? 0);
}

/** Installs the locally built pulumi-resource-command into a PULUMI_HOME of the benchmark's own. */
function commandPluginHome(): string {
  const home = path.join(cacheDir, "bench", "pulumi-home");
  const bin = path.join(cacheDir, "build", `pulumi-command-v${COMMAND_VERSION}`, "pulumi-resource-command");
  if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: run bench/command-plugin.sh (bench/run.sh does)`);
  const installed = path.join(home, "plugins", `resource-command-v${COMMAND_VERSION}`, "pulumi-resource-command");
  if (!fs.existsSync(installed)) {
    execFileSync("pulumi", ["plugin", "install", "resource", "command", COMMAND_VERSION, "--file", bin], {
      env: { ...process.env, PULUMI_HOME: home },
      stdio: "inherit",
    });
  }
  return home;
}

/** Every row measured so far, one JSON object per line (`--report` renders them again). */
const rowsFile = path.join(cacheDir, "bench", "rows.jsonl");

/** Runs a command on the director with `input` on its standard input (OpenSSH, as the lab's `sh`). */
function onDirectorWithInput(command: string, input: string): void {
  execFileSync("ssh", ["-F", lab().sshConfig, "director", command], { input, stdio: ["pipe", "ignore", "inherit"] });
}

/**
 * The physical limit (variant ipvsadm-restore): the same rules applied on the director by one
 * `ipvsadm -R` (the rules file is copied there before the clock starts); refresh is one
 * `ipvsadm -S -n`, update-one one `ipvsadm -e`, destroy one `ipvsadm -D` per service, in one
 * command. There is no no-op up or preview to time.
 */
function restoreStep(decl: Service[], step: Step): (() => Promise<number>) | undefined {
  const vip = (s: Service) => `${s.address}:${s.port}`;
  const first = decl[0]!;
  const commands: Partial<Record<Step, string>> = {
    up: "ipvsadm -R < /tmp/pulumi-lvs-bench.rules",
    refresh: "ipvsadm -S -n > /dev/null",
    "update-one": `ipvsadm -e -t ${vip(first)} -r ${first.realServers[0]!.address}:80 -m -w 2`,
    destroy: decl.map((s) => `ipvsadm -D -t ${vip(s)}`).join("; "),
  };
  const command = commands[step];
  if (command === undefined) return undefined;
  return async () => {
    await sh("director", command, { timeoutMs: 1_200_000 });
    return 0;
  };
}

async function run(size: number, variant: Variant, statsFile: string): Promise<Row[]> {
  const decl = shape(SERVICES, size);
  let want = expectedRules(decl);
  const env: Record<string, string> = { PULUMI_LVS_STATS_FILE: statsFile };
  if (variant === "command") env.PULUMI_HOME = commandPluginHome();
  if (variant === "floor-skip") env.PULUMI_SKIP_CHECKPOINTS = "true";
  // e.g. BENCH_NODE_OPTIONS="--cpu-prof --cpu-prof-dir=/tmp/prof": profiles of the program and the provider
  if (process.env.BENCH_NODE_OPTIONS) env.NODE_OPTIONS = process.env.BENCH_NODE_OPTIONS;
  const program = PROGRAM[variant];
  const servicesFile = path.join(cacheDir, "bench", `services-${variant}-${size}.json`);
  fs.writeFileSync(servicesFile, JSON.stringify(decl));
  if (!program) onDirectorWithInput("cat > /tmp/pulumi-lvs-bench.rules", `${rulesOf(decl).join("\n")}\n`);
  const stack = program
    ? await TestStack.create(`bench-${variant}-${size}`, {
        program: `bench/programs/${program}`,
        config: {
          director: { value: JSON.stringify(labConnection("director")) },
          privateKey: { value: labPrivateKey(), secret: true },
          servicesFile: { value: servicesFile },
        },
        env,
        packages: variant === "command" ? { "@pulumi/command": COMMAND_VERSION } : {},
      })
    : undefined;
  const rows: Row[] = [];
  const counterFile = "/run/pulumi-lvs-bench.count";
  const log = "/var/log/lab-host-start.log";
  /**
   * SSH connections the director accepted so far (this one included), remote.Command's counter,
   * the log's length, the most connections open at once since line `since` of the log (tcpserver
   * logs "status: <open>/<limit>" on each change), and the last PID of the director's namespace
   * (read first) with its wrap-around.
   */
  const onDirector = async (since = 0) => {
    const script =
      `read -r _ _ _ _ pid < /proc/loadavg; echo "$pid"; cat /proc/sys/kernel/pid_max; ` +
      `grep -c 'tcpserver: ok' ${log}; cat ${counterFile} 2>/dev/null | wc -l; wc -l < ${log}; ` +
      `tail -n +${since + 1} ${log} | sed -n 's/^tcpserver: status: \\([0-9]*\\)\\/.*/\\1/p' | sort -n | tail -1`;
    const [pid, pidMax, conns, counted, lines, maxOpen] = (await retry(() => sh("director", script)))
      .trim()
      .split("\n")
      .map(Number);
    return {
      pid: pid ?? 0,
      pidMax: pidMax || 32768,
      conns: conns ?? 0,
      counted: counted ?? 0,
      lines: lines ?? 0,
      maxOpen: maxOpen ?? 0,
    };
  };
  const pidsBetween = (a: { pid: number; pidMax: number }, b: { pid: number }) => (b.pid - a.pid + a.pidMax) % a.pidMax;
  // what one count starts itself (its SSH session and tools), measured by two counts in a row
  const c0 = await onDirector();
  const probe = pidsBetween(c0, await onDirector());
  // the CLI's automatic log, which every step writes (the command variant's PULUMI_HOME is shared)
  const logs = stack ? path.join(stack.stack.workspace.envVars.PULUMI_HOME ?? "", "logs") : undefined;
  const traces = path.join(cacheDir, "bench", `traces-${variant}-${size}`);
  let phases: Phases | undefined;
  const providerCount = () =>
    fs.existsSync(statsFile)
      ? fs
          .readFileSync(statsFile, "utf8")
          .split("\n")
          .filter((l) => l.startsWith("command\t")).length
      : 0;
  try {
    for (const step of STEPS) {
      // remote.Command would replace its command, not edit it: no update-one to compare
      if (step === "update-one" && variant === "command") continue;
      const restore = stack ? undefined : restoreStep(decl, step);
      if (!stack && !restore) continue;
      if (step === "update-one") {
        want = expectedRules(withOneWeight(decl));
        fs.writeFileSync(servicesFile, JSON.stringify(withOneWeight(decl)));
      }
      const waited = step === "up" && !variant.startsWith("floor") ? await waitForTrash(`${variant} ${size} up`) : 0;
      const before = await onDirector();
      const provider0 = providerCount();
      const log0 = logs ? folderBytes(logs) : 0;
      const cpu0 = labCpuSeconds();
      const t0 = process.hrtime.bigint();
      let changed = 0;
      let stalled: string | undefined;
      const work = async () => {
        if (restore) return restore();
        if (!stack) return 0;
        if (step === "up" || step === "noop-up" || step === "update-one")
          return changedOf((await stack.up({ parallel: PARALLEL })).summary);
        if (step === "noop-up-traced") {
          const { result, trace } = await tracedUp(stack, traces, () => stack.up({ parallel: PARALLEL }));
          phases = phasesOf(trace);
          return changedOf(result.summary);
        }
        if (step === "preview") {
          const p = await stack.stack.preview({ parallel: PARALLEL });
          return Object.entries(p.changeSummary)
            .filter(([k]) => k !== "same")
            .reduce((a, [, v]) => a + (v ?? 0), 0);
        }
        if (step === "refresh") return changedOf((await stack.stack.refresh({ parallel: PARALLEL })).summary);
        return changedOf((await stack.stack.destroy({ parallel: PARALLEL })).summary);
      };
      const running = work();
      const timedOut = await Promise.race([
        running.then(() => false),
        new Promise<boolean>((r) => setTimeout(() => r(true), STEP_TIMEOUT_S * 1000).unref()),
      ]);
      if (timedOut) {
        // stop the CLI and the providers it started (their connections close with them), then look
        const kill = (pattern: string) => {
          try {
            execFileSync("pkill", ["-f", "--", pattern], { stdio: "ignore" });
          } catch {
            // no such process
          }
        };
        kill("pulumi-resource-command");
        if (stack) kill(`--stack ${stack.stack.name}`);
        await running.catch(() => undefined);
        const now = await onDirector(before.lines);
        stalled =
          `did not finish in ${STEP_TIMEOUT_S} s` +
          (variant === "floor"
            ? ""
            : `: ${variant === "command" ? now.counted - before.counted : providerCount() - provider0} commands had run; ${now.maxOpen} SSH connections open on the director at once`);
        console.log(`  ${variant} ${size} ${step}: ${stalled}; stopped`);
      } else changed = await running;
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const labCpu = labCpuSeconds() - cpu0;
      const after = await onDirector(before.lines);
      // the counting call is itself a connection
      const connections = after.conns - before.conns - 1;
      const commands = variant === "command" ? after.counted - before.counted : providerCount() - provider0;
      const row: Row = {
        size,
        variant,
        step,
        seconds,
        connections,
        commands,
        changed,
        labCpu,
        maxOpen: after.maxOpen,
        processes: pidsBetween(before, after) - probe,
        stalled,
      };
      if (logs) row.logBytes = folderBytes(logs) - log0;
      if (waited > 0) row.trashWait = waited;
      if (step === "noop-up-traced" && phases) row.phases = phases;
      rows.push(row);
      fs.appendFileSync(rowsFile, `${JSON.stringify(row)}\n`);
      console.log(
        `  ${variant.padEnd(15)} ${String(size).padStart(5)} ${step.padEnd(10)} ${seconds.toFixed(1).padStart(7)} s  connections ${connections}  commands ${commands}  changed ${changed}  lab CPU ${labCpu.toFixed(1)} s  processes ${row.processes}`,
      );
      if (stalled) {
        // the rest of this variant cannot run: remove the rules the stopped run made on the
        // benchmark's own VIP (its declared services; nothing else is touched)
        await sh("director", decl.map((d) => `ipvsadm -D -t ${d.address}:${d.port} 2>/dev/null;`).join(" ") + " true");
        lastDeletion = { at: Date.now(), count: size };
        await checkTable([], `${variant} ${size} after cleaning up`);
        break;
      }
      if (!variant.startsWith("floor"))
        await checkTable(step === "destroy" ? [] : want, `${variant} ${size} after ${step}`);
      if (step === "destroy" && !variant.startsWith("floor")) lastDeletion = { at: Date.now(), count: size };
      if (variant === "ipvsadm-restore" && step === "up") {
        // the table ipvsadm -R made, as a site's hand-made director: imported, then taken over
        const cpu = labCpuSeconds();
        for (const t of await importSteps(size, env)) {
          const r: Row = {
            size,
            variant,
            step: t.step,
            seconds: t.seconds,
            connections: 0,
            commands: null,
            changed: t.changed,
          };
          rows.push(r);
          fs.appendFileSync(rowsFile, `${JSON.stringify(r)}\n`);
          console.log(
            `  ${variant.padEnd(15)} ${String(size).padStart(5)} ${t.step.padEnd(10)} ${t.seconds.toFixed(1).padStart(7)} s  declared/taken over ${t.changed}`,
          );
        }
        console.log(
          `  (import and its first up: lab CPU ${(labCpuSeconds() - cpu).toFixed(1)} s; ipvsadm -S -n unchanged)`,
        );
        await checkTable(want, `${variant} ${size} after the import's first up`);
      }
      const mustChange = step === "update-one" ? 1 : 0;
      if (stack && step !== "up" && step !== "destroy" && changed !== mustChange) {
        throw new Error(`${variant} ${size}: ${step} changed ${changed} resources; it must change ${mustChange}`);
      }
    }
  } finally {
    await stack?.stack.workspace.removeStack(stack.stack.name).catch(() => undefined);
  }
  return rows;
}

/** The lab's director may be too busy to answer an SSH banner in time (remote.Command's many connections). */
async function retry<T>(fn: () => Promise<T>, attempts = 6): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (e) {
      if (i >= attempts) throw e;
      await new Promise((r) => setTimeout(r, 5000 * i));
    }
  }
}

function ratio(a: number, b: number): string {
  return b > 0 ? `${(a / b).toFixed(2)}×` : "–";
}

function report(rows: Row[], sizes: number[]): string {
  const get = (size: number, v: Variant, s: Step) =>
    rows.find((r) => r.size === size && r.variant === v && r.step === s && !r.stalled);
  const secs = (r: Row | undefined) => r?.seconds.toFixed(1) ?? "–";
  const stalls = rows.filter((r) => r.stalled);
  const out: string[] = [];
  out.push(
    `| real servers | step | ${VARIANTS.map((v) => `${v} (s)`).join(" | ")} | lvs ÷ floor | lvs-inline ÷ ipvsadm-restore | lvs / lvs-inline commands | lvs / lvs-inline processes | lab CPU lvs / lvs-inline (s) |`,
  );
  out.push(`|---:|---|${VARIANTS.map(() => "---:").join("|")}|---:|---:|---|---|---|`);
  for (const size of sizes) {
    for (const step of STEPS) {
      const r = Object.fromEntries(VARIANTS.map((v) => [v, get(size, v, step)])) as Record<Variant, Row | undefined>;
      if (VARIANTS.every((v) => !r[v])) continue;
      const floorRatio = r.floor && r.lvs ? ratio(r.lvs.seconds, r.floor.seconds) : "–";
      const restoreRatio =
        r["lvs-inline"] && r["ipvsadm-restore"] ? ratio(r["lvs-inline"].seconds, r["ipvsadm-restore"].seconds) : "–";
      out.push(
        `| ${size} | ${step} | ${VARIANTS.map((v) => secs(r[v])).join(" | ")} | ${floorRatio} | ${restoreRatio} | ${r.lvs?.commands ?? "–"} / ${r["lvs-inline"]?.commands ?? "–"} | ${r.lvs?.processes ?? "–"} / ${r["lvs-inline"]?.processes ?? "–"} | ${r.lvs?.labCpu?.toFixed(1) ?? "–"} / ${r["lvs-inline"]?.labCpu?.toFixed(1) ?? "–"} |`,
      );
    }
  }
  const lines: string[] = [];
  lines.push(out.join("\n"));
  lines.push("");
  const traced = rows.filter((r) => r.phases);
  if (traced.length > 0) {
    lines.push(
      "The no-op `up`, phase by phase (`noop-up-traced`: the same step again, with the CLI's `--otel-traces`; bench/otel.ts reads the spans):",
      "",
      "| real servers | variant | step (s) | `pulumi up` (s) | startup (s) | program (s) | Check/Diff, summed (s) | checkpoint (s) |",
      "|---:|---|---:|---:|---:|---:|---:|---:|",
      ...traced.map((r) => {
        const p = r.phases!;
        const f = (x: number) => x.toFixed(2);
        return `| ${r.size} | ${r.variant} | ${f(r.seconds)} | ${f(p.total)} | ${f(p.startup)} | ${f(p.program)} | ${f(p.checkDiff)} | ${f(p.checkpoint)} |`;
      }),
      "",
      "step: the wall time of the step, through the Automation API (which also runs other CLI commands); `pulumi up`: the CLI's root span; startup: from the command's start to the program's (plugins, the state read); program: the program's run (`run-program`), the engine's steps for its resources included; Check/Diff: every provider Check and Diff, summed (they overlap); checkpoint: from the end of the engine's run (`pulumi-plan`) to the file backend's last write.",
      "",
    );
  }
  const logged = rows.filter((r) => r.logBytes !== undefined);
  if (logged.length > 0)
    lines.push(
      `These figures include the CLI's automatic log: pulumi writes every command's log, at debug level, under PULUMI_HOME/logs (each stack here has a PULUMI_HOME of its own), and there is no switch to turn it off. The steps above wrote ${(logged.reduce((n, r) => n + r.logBytes!, 0) / 1e6).toFixed(1)} MB of it (per step: \`logBytes\` in docs/benchmarks.json).`,
      "",
    );
  const waits = rows.filter((r) => r.trashWait);
  if (waits.length > 0)
    lines.push(
      `Before ${waits.length} of the ups (${waits.map((r) => `${r.variant} ${r.size}`).join(", ")}) the run waited, ${Math.round(Math.min(...waits.map((r) => r.trashWait!)))}–${Math.round(Math.max(...waits.map((r) => r.trashWait!)))} s, until ${TRASH_WAIT_S} s after the step before deleted at least ${TRASH_MIN} real servers: IPVS keeps deleted real servers in a list for two minutes or more and looks for every real server added in it, so each up starts from an empty list (\`BENCH_TRASH_WAIT=0\`: no wait). The times do not include the wait.`,
      "",
    );
  if (process.env.BENCH_COMMAND_SKIPPED && !rows.some((r) => r.variant === "command"))
    lines.push(`- remote.Command: skipped, ${process.env.BENCH_COMMAND_SKIPPED}.`);
  for (const r of stalls) lines.push(`- ${r.variant}, ${r.size} real servers, ${r.step}: stalled, ${r.stalled}.`);
  if (stalls.length > 0) lines.push("");
  lines.push("Targets:");
  for (const size of sizes) {
    const f = get(size, "floor", "up");
    const l = get(size, "lvs", "up");
    const c = get(size, "command", "up");
    const fd = get(size, "floor", "destroy");
    const ld = get(size, "lvs", "destroy");
    const refresh = get(size, "lvs", "refresh");
    const maxConn = Math.max(
      0,
      ...rows.filter((r) => r.size === size && r.variant === "lvs").map((r) => r.connections),
    );
    if (l)
      lines.push(
        `- ${size} separate RealServers: up ${f ? ratio(l.seconds, f.seconds) : "–"} the floor, destroy ${fd && ld ? ratio(ld.seconds, fd.seconds) : "–"} (target ≤ 1.3× both); ` +
          `remote.Command ${c ? ratio(c.seconds, l.seconds) : "–"} slower (target ≥ 5×); ` +
          `refresh ${refresh?.commands ?? "–"} round trips to the one host (target ≤ 2); ` +
          `at most ${maxConn} SSH connection(s) per step (target 1); ` +
          `lab CPU per up round trip ${l.labCpu !== undefined && l.commands ? (l.labCpu / l.commands).toFixed(2) : "–"} s, ` +
          `processes started on the director per up round trip ${l.processes !== undefined && l.commands ? (l.processes / l.commands).toFixed(1) : "–"}.`,
      );
    const i = get(size, "lvs-inline", "up");
    const x = get(size, "ipvsadm-restore", "up");
    if (i) {
      const one = get(size, "lvs-inline", "update-one");
      const ir = get(size, "lvs-inline", "refresh");
      const noop = get(size, "lvs-inline", "noop-up");
      const pv = get(size, "lvs-inline", "preview");
      const phases = get(size, "lvs-inline", "noop-up-traced")?.phases;
      const cpu = (r: Row | undefined) => (r?.labCpu === undefined ? "–" : `${r.labCpu.toFixed(1)} s`);
      lines.push(
        `- ${size} inline real servers: up ${i.seconds.toFixed(1)} s${size === 10000 ? " (target ≤ 60 s)" : ""}, ${x ? ratio(i.seconds, x.seconds) : "–"} ipvsadm-restore (target ≤ 1.5×); ` +
          `the director's emulated CPU for it ${cpu(i)} against ipvsadm -R's ${cpu(x)} (${i.labCpu !== undefined && x?.labCpu ? ratio(i.labCpu, x.labCpu) : "–"}; aim ≤ 1.3×); ` +
          `no-op up ${noop?.seconds.toFixed(1) ?? "–"} s${phases ? ` (program ${phases.program.toFixed(1)} s, of which Check/Diff ${phases.checkDiff.toFixed(1)} s summed; checkpoint ${phases.checkpoint.toFixed(1)} s)` : ""} and preview ${pv?.seconds.toFixed(1) ?? "–"} s${size === 10000 ? " (target ≤ 5 s)" : ""}; ` +
          `update-one ${one?.seconds.toFixed(1) ?? "–"} s (target ≤ 5 s); refresh ${ir?.commands ?? "–"} round trip(s) to the director (target 1).`,
      );
    }
  }
  for (const size of sizes) {
    const imp = get(size, "ipvsadm-restore", "import");
    const took = get(size, "ipvsadm-restore", "import-up");
    if (imp)
      lines.push(
        `- import of the director ipvsadm -R made, ${size} real servers: ${imp.seconds.toFixed(1)} s${size === 10000 ? " (target ≤ 10 s)" : ""}, ${imp.changed} resources declared; the generated program's first up ${took?.seconds.toFixed(1) ?? "–"} s, ${took?.changed ?? "–"} taken over, ipvsadm -S -n unchanged.`,
      );
  }
  for (const v of VARIANTS) {
    const measured = sizes.filter((size) => get(size, v, "up"));
    const small = measured[0];
    const large = measured.at(-1);
    if (small === undefined || large === undefined || large === small) continue;
    const growth = get(large, v, "up")!.seconds / get(small, v, "up")!.seconds;
    lines.push(
      `- growth of ${v} up from ${small} to ${large} real servers: ${growth.toFixed(1)}× the time for ${(large / small).toFixed(0)}× the real servers (linear: ${(large / small).toFixed(0)}×)`,
    );
  }
  return lines.join("\n");
}

function plot(rows: Row[], sizes: number[], png: string): void {
  const dat = path.join(cacheDir, "bench", "up.dat");
  const n = VARIANTS.length;
  const lines = [
    `# size, then up (s) of ${VARIANTS.join(" ")}, then the same for steps stopped unfinished (lower bounds)`,
  ];
  for (const size of sizes) {
    const t = (v: Variant, stalled: boolean) =>
      rows.find((r) => r.size === size && r.variant === v && r.step === "up" && Boolean(r.stalled) === stalled)
        ?.seconds ?? Number.NaN;
    lines.push(`${size} ${VARIANTS.map((v) => t(v, false)).join(" ")} ${VARIANTS.map((v) => t(v, true)).join(" ")}`);
  }
  fs.writeFileSync(dat, `${lines.join("\n")}\n`);
  const titles: Record<Variant, string> = {
    floor: "engine floor (no-op dynamic resources)",
    "floor-skip": "engine floor, PULUMI_SKIP_CHECKPOINTS=true",
    lvs: "pulumi-lvs, a RealServer each",
    "lvs-inline": "pulumi-lvs, inline real servers",
    "ipvsadm-restore": "one ipvsadm -R on the director (the physical limit)",
    command: "@pulumi/command remote.Command",
  };
  const script = [
    "set terminal png size 1000,620 font ',11' noenhanced",
    `set output '${png}'`,
    `set title 'up, --parallel ${PARALLEL}: 1 director, 10 virtual services, N real servers (lab, real pulumi CLI)'`,
    "set xlabel 'real servers'",
    "set ylabel 'wall time (s)'",
    "set logscale xy",
    "set grid",
    "set key top left",
    `set xtics (${sizes.join(", ")})`,
    `plot ${VARIANTS.map((v, i) => `'${dat}' using 1:${i + 2} with linespoints lw 2 lc ${i + 1} pt 7 title '${titles[v]}'`).join(", ")}, ` +
      VARIANTS.map(
        (v, i) =>
          `'${dat}' using 1:${i + 2 + n} with points lc ${i + 1} pt 9 ps 2 title '${titles[v]}: stopped (lower bound)'`,
      ).join(", "),
  ].join("\n");
  execFileSync("gnuplot", [], { input: script });
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const reportOnly = args.includes("--report");
  const sizes = args.map(Number).filter((n) => n > 0);
  if (sizes.length === 0) sizes.push(20, 200, 1000, 3000, 10000);
  const only = (process.env.BENCH_VARIANTS ?? VARIANTS.join(",")).split(",") as Variant[];
  fs.mkdirSync(path.join(cacheDir, "bench"), { recursive: true });
  const started = Date.now();
  let rows: Row[] = [];
  if (reportOnly) {
    rows = fs
      .readFileSync(rowsFile, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Row);
    sizes.splice(0, sizes.length, ...[...new Set(rows.map((r) => r.size))].sort((a, b) => a - b));
  } else {
    const statsFile = path.join(cacheDir, "bench", "provider-stats.tsv");
    fs.rmSync(statsFile, { force: true });
    if (process.env.BENCH_APPEND !== "1") fs.rmSync(rowsFile, { force: true });
    // nothing of an earlier, interrupted run may remain on the VIP
    const left = await benchRules();
    if (left.length > 0) throw new Error(`the director already has rules on ${VIP}: ${left.slice(0, 3).join("; ")}`);
    for (const size of sizes) {
      for (const v of VARIANTS.filter((x) => only.includes(x))) {
        if (v === "command" && process.env.BENCH_COMMAND_SKIPPED) {
          console.log(`command, ${size} real servers: skipped (${process.env.BENCH_COMMAND_SKIPPED})`);
          continue;
        }
        if (size > maxSize(v)) {
          console.log(`${v}, ${size} real servers: skipped (above its largest size, ${maxSize(v)})`);
          continue;
        }
        console.log(`${v}, ${size} real servers:`);
        rows.push(...(await run(size, v, statsFile)));
      }
    }
  }
  const text = report(rows, sizes);
  console.log(`\n${text}\n`);
  const docs = path.join(repoRoot, "docs");
  fs.mkdirSync(docs, { recursive: true });
  const meta = {
    date: new Date().toISOString(),
    minutes: reportOnly ? undefined : (Date.now() - started) / 60000,
    services: SERVICES,
    sizes,
    parallel: PARALLEL,
    commandVersion: COMMAND_VERSION,
    machine: `${fs.readFileSync("/proc/cpuinfo", "utf8").match(/model name\s*:\s*(.*)/)?.[1] ?? "?"} × ${os.cpus().length}, lab under QEMU ${process.env.PULUMI_LVS_LAB_ACCEL ?? "tcg"}`,
  };
  fs.writeFileSync(path.join(docs, "benchmarks.json"), `${JSON.stringify({ ...meta, rows }, null, 2)}\n`);
  fs.writeFileSync(
    path.join(docs, "benchmarks-results.md"),
    `<!-- written by bench/run.sh on ${meta.date} -->\n${text}\n`,
  );
  plot(rows, sizes, path.join(docs, "benchmark-up.png"));
  console.log("wrote docs/benchmarks.json, docs/benchmarks-results.md and docs/benchmark-up.png");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
