import { appendFileSync } from "node:fs";
/**
 * A transport runs shell commands on one host. Implementations: SSH (ssh.ts) and, when the provider
 * runs on the director itself, local (local.ts).
 *
 * Error semantics:
 * - `run` resolves with the exit code for any command that ran, whatever its exit code.
 * - It rejects with a {@link TransportError} when the command could not be run or its result is
 *   unknown (host unreachable, authentication refused, host key mismatch, connection lost, timeout).
 *   Such an error is never a sign that an object is absent: callers must not turn it into "deleted".
 */
export interface Transport {
  /** `user@host:port` (or `local`), for messages. Never contains a secret. */
  readonly label: string;
  /** Runs `command` with `sh -c` semantics (through `sudo -n` when the connection asks for it). */
  run(command: string, opts?: RunOptions): Promise<ExecResult>;
  /** Runs `fn` while holding this host's mutation lock: mutations on one host are serialized. */
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
  /**
   * Resolves once a command can start at once (SSH: the connection is open, opened if need be);
   * rejects as {@link run} would when the host cannot be reached. Absent: always ready.
   */
  ready?(): Promise<void>;
  /** Counters, for tests and benchmarks. */
  readonly stats: TransportStats;
}

export interface RunOptions {
  /** Written to the command's standard input. */
  stdin?: string;
  /** Milliseconds before the command is abandoned (default 120000). */
  timeoutMs?: number;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** Exit status; -1 when the command was killed by a signal. */
  code: number;
}

export interface TransportStats {
  /** SSH handshakes completed (0 for local). */
  connections: number;
  /** Commands run. */
  commands: number;
}

export type TransportErrorKind = "unreachable" | "auth" | "host-key" | "connection-lost" | "timeout" | "unsupported";

/**
 * For benchmarks and diagnostics: with PULUMI_LVS_STATS_FILE set, every SSH connection opened
 * and every remote command run is appended to that file as `<kind>\t<host>`.
 */
export function recordEvent(host: string, kind: "connection" | "command"): void {
  const file = process.env.PULUMI_LVS_STATS_FILE;
  if (file) appendFileSync(file, `${kind}\t${host}\n`);
}

/** The host could not be reached or the command's outcome is unknown. Never means "not found". */
export class TransportError extends Error {
  constructor(
    readonly kind: TransportErrorKind,
    readonly host: string,
    message: string,
  ) {
    super(message);
    this.name = "TransportError";
  }
}

/** A command that ran and failed, for callers that need it to succeed. */
export class CommandError extends Error {
  constructor(
    readonly host: string,
    readonly command: string,
    readonly result: ExecResult,
    remedy?: string,
  ) {
    const detail = (result.stderr || result.stdout).trim().split("\n").slice(-5).join("\n");
    super(
      `on ${host}: command failed (exit ${result.code}): ${command}\n${detail}` +
        (remedy ? `\nWhat to do: ${remedy}` : ""),
    );
    this.name = "CommandError";
  }
}

/** What to do when a command failed for lack of privileges (root, or sudo without a password). */
export function privilegeRemedy(stderr: string): string | undefined {
  if (/Permission denied|must be root|Operation not permitted/i.test(stderr)) {
    return "this needs root: connect as root, or set connection.sudo: true for a user with passwordless sudo";
  }
  if (/sudo/i.test(stderr)) {
    return "the user cannot run sudo without a password: add a NOPASSWD sudoers rule for it, or connect as root";
  }
  return undefined;
}

/**
 * Runs a shell script given on standard input (`sh -s`), for scripts of any length: sshd limits
 * command lines (dropbear refuses commands over 9000 bytes and drops the connection).
 */
export function runScript(t: Transport, script: string): Promise<ExecResult> {
  return t.run("sh -s", { stdin: script });
}

/** Quotes one word for a POSIX shell. */
export function shellQuote(word: string): string {
  if (word !== "" && /^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'"'"'`)}'`;
}

/** Joins argv into a shell command line, quoting every word that needs it. */
export function shellJoin(argv: readonly string[]): string {
  return argv.map(shellQuote).join(" ");
}

/** A counting semaphore. */
export class Semaphore {
  private waiting: Array<() => void> = [];
  private active = 0;
  constructor(private readonly limit: number) {}
  async use<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

/** A promise-chain mutex. */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
  }
}
