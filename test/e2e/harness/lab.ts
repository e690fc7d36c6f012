import { execFile, execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { replayLedger } from "../../../provider/ipvs/ledger";
import { repoRoot } from "./paths";

const execFileP = promisify(execFile);

export interface LabHost {
  host: string;
  port: number;
  hostKey: string;
  addresses: Record<string, string[]>;
  gateway: string[];
}

export interface LabEnv {
  work: string;
  privateKeyPath: string;
  knownHostsPath: string;
  sshConfig: string;
  hosts: Record<string, LabHost>;
}

let cached: LabEnv | undefined;

/** The lab's description (test/lab/lab env): hosts, ports, host keys, the client key. */
export function lab(): LabEnv {
  cached ??= JSON.parse(execFileSync(path.join(repoRoot, "test/lab/lab"), ["env"], { encoding: "utf8" })) as LabEnv;
  return cached;
}

/** A lab host's first address on its segment (eth0), e.g. 10.0.0.11 for rs1. */
export function labAddress(name: string): string {
  return lab().hosts[name]!.addresses.eth0![0]!.split("/")[0]!;
}

/** The lab's client private key (text). */
export function labPrivateKey(): string {
  return fs.readFileSync(lab().privateKeyPath, "utf8");
}

/** A pulumi-lvs connection to a lab host, as a program's config would carry it (without the key). */
export function labConnection(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const h = lab().hosts[name];
  if (!h) throw new Error(`no lab host ${name}`);
  return { host: h.host, port: h.port, user: "root", hostKey: h.hostKey, dialTimeout: 10, ...extra };
}

/**
 * Runs a shell command on a lab host with the system's OpenSSH client (independent of the code
 * under test). Rejects when the command fails, unless `allowFail`.
 */
export async function sh(
  host: string,
  command: string,
  opts: { allowFail?: boolean; timeoutMs?: number } = {},
): Promise<string> {
  try {
    const r = await execFileP("ssh", ["-F", lab().sshConfig, host, command], {
      encoding: "utf8",
      timeout: opts.timeoutMs ?? 60_000,
      maxBuffer: 64 << 20,
    });
    return r.stdout;
  } catch (e) {
    if (opts.allowFail) return (e as { stdout?: string }).stdout ?? "";
    const err = e as { stderr?: string; message: string };
    throw new Error(`lab ssh ${host} failed: ${command}\n${err.stderr ?? err.message}`);
  }
}

/** The rules a host's ledger holds (its journal replayed), each with its owner tag. */
export async function ledgerRules(host: string): Promise<string[]> {
  return replayLedger(await sh(host, "cat /var/lib/pulumi-lvs/ipvs.rules 2>/dev/null || true"));
}

/**
 * Sends `n` HTTP requests from a lab host to `url` (one TCP connection each, in sequence) and counts
 * the answers by body (each real server answers with its name). Failures count under "FAIL".
 */
export async function requests(from: string, url: string, n: number): Promise<Record<string, number>> {
  const out = await sh(
    from,
    `i=0; while [ $i -lt ${n} ]; do timeout 5 wget -q -O - '${url}' 2>/dev/null || echo FAIL; i=$((i+1)); done`,
    { timeoutMs: 10_000 + n * 6000 },
  );
  const counts: Record<string, number> = {};
  for (const line of out
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean))
    counts[line] = (counts[line] ?? 0) + 1;
  return counts;
}

/** Restores a clean lab (no IPVS rules, addresses or sysctls beyond the base setup). */
export function resetLab(): void {
  execFileSync(path.join(repoRoot, "test/lab/lab"), ["reset"], { stdio: "inherit" });
}

/** The guest's shares: this checkout, a Node that runs there, and the pulumi CLI (as scripts/test.sh sets them). */
export function guestShares(): string {
  const node = process.env.PULUMI_LVS_GUEST_NODE;
  if (!node || !fs.existsSync(path.join(node, "node"))) {
    throw new Error(
      "PULUMI_LVS_GUEST_NODE is not set: run the tests through scripts/test.sh (it installs the guest's Node)",
    );
  }
  const pulumi = path.dirname(execFileSync("sh", ["-c", "command -v pulumi"], { encoding: "utf8" }).trim());
  return `project=${repoRoot},node=${node},pulumi=${pulumi}`;
}

/** The lab with the guest's shares (restarted once if it runs without them). */
export function ensureGuestShares(): void {
  execFileSync(path.join(repoRoot, "test/lab/lab"), ["up"], {
    stdio: "inherit",
    env: { ...process.env, PULUMI_LVS_LAB_SHARES: guestShares() },
  });
}
