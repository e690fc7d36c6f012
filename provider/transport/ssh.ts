import { createHash } from "node:crypto";
import { Client, type ClientChannel, type ConnectConfig } from "ssh2";
import { say } from "./progress";
import { connectionLabel, parseHostKeys, type SshTarget } from "./target";
import {
  type ExecResult,
  Mutex,
  type RunOptions,
  recordEvent,
  Semaphore,
  shellQuote,
  type Transport,
  TransportError,
  type TransportStats,
} from "./transport";

/**
 * Channels open at once on one SSH connection. OpenSSH's sshd refuses more than MaxSessions
 * (default 10) sessions per connection; we stay below it.
 */
export const MAX_CHANNELS = 8;

/** An SSH transport to one host: one connection, reused by every command, opened on first use. */
export class SshTransport implements Transport {
  readonly label: string;
  readonly stats: TransportStats = { connections: 0, commands: 0 };
  private client?: Promise<Client>;
  private readonly channels = new Semaphore(MAX_CHANNELS);
  private readonly mutations = new Mutex();

  constructor(
    private readonly conn: SshTarget,
    private readonly via?: SshTransport,
    private readonly sudo = false,
  ) {
    this.label = connectionLabel(conn) + (via ? ` (via ${via.label})` : "");
  }

  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.mutations.run(fn);
  }

  async ready(): Promise<void> {
    await this.connect();
  }

  async run(command: string, opts: RunOptions = {}): Promise<ExecResult> {
    const line = this.sudo ? `sudo -n -- sh -c ${shellQuote(command)}` : command;
    let reconnected = false;
    for (let refusals = 0; ; ) {
      const pending = this.connect();
      const client = await pending;
      try {
        return await this.channels.use(() => this.exec(client, line, opts));
      } catch (e) {
        // the connection died before the command was sent (no channel): it did not run, so it is
        // safe to run it once more on a new connection
        if (e instanceof NotStartedError && !reconnected) {
          reconnected = true;
          if (this.client === pending) this.client = undefined;
          client.end();
          continue;
        }
        // the server refused the channel or the exec request (a busy server: out of sessions,
        // processes or memory for a moment): the command did not run; wait and ask again
        if (e instanceof RefusedError && refusals < REFUSAL_BACKOFF_MS.length) {
          await sleep(REFUSAL_BACKOFF_MS[refusals++]);
          continue;
        }
        throw e;
      }
    }
  }

  private exec(client: Client, line: string, opts: RunOptions): Promise<ExecResult> {
    const timeoutMs = opts.timeoutMs ?? 120_000;
    return new Promise<ExecResult>((resolve, reject) => {
      client.exec(line, (err: Error | undefined, stream: ClientChannel) => {
        if (err) {
          reject(this.notStarted(err));
          return;
        }
        this.stats.commands++;
        recordEvent(this.label, "command");
        let stdout = "";
        let stderr = "";
        let code: number | undefined;
        const timer = setTimeout(() => {
          stream.close();
          reject(
            new TransportError(
              "timeout",
              this.label,
              `on ${this.label}: command did not finish within ${timeoutMs / 1000} s: ${line}`,
            ),
          );
        }, timeoutMs);
        stream.on("data", (d: Buffer) => {
          stdout += d.toString("utf8");
        });
        stream.stderr.on("data", (d: Buffer) => {
          stderr += d.toString("utf8");
        });
        stream.on("exit", (c: number | null) => {
          code = c ?? -1;
        });
        stream.on("close", () => {
          clearTimeout(timer);
          if (code === undefined) {
            reject(
              new TransportError(
                "connection-lost",
                this.label,
                `on ${this.label}: the connection was lost while running: ${line}. The command may or may not have run; run pulumi up again once the host is reachable.`,
              ),
            );
          } else resolve({ stdout, stderr, code });
        });
        if (opts.stdin !== undefined) stream.end(opts.stdin);
        else stream.end();
      });
    });
  }

  /** Why a command never started: the connection is gone, or the server said no. */
  private notStarted(err: Error): TransportError {
    const head = `on ${this.label}: could not start a command: ${err.message}. The command did not run.`;
    if (/No response from server|Not connected|closed/i.test(err.message)) {
      return new NotStartedError(
        this.label,
        `${head} The connection was lost: run pulumi up again once the host is reachable.`,
      );
    }
    if (/Unable to exec/i.test(err.message)) {
      return new RefusedError(
        this.label,
        `${head} The server refused to run it ${REFUSAL_BACKOFF_MS.length + 1} times (an exec request is refused when the server cannot start a process): check the host's free memory and process limits, and its SSH server's log.`,
      );
    }
    return new RefusedError(
      this.label,
      `${head} The server refused another session ${REFUSAL_BACKOFF_MS.length + 1} times: raise MaxSessions in sshd_config (pulumi-lvs opens at most ${MAX_CHANNELS} per connection).`,
    );
  }

  /** The open connection, opened (with retries) if needed. */
  private connect(): Promise<Client> {
    if (!this.client) {
      this.client = this.dialWithRetries();
      this.client.catch(() => {
        this.client = undefined;
      });
    }
    return this.client;
  }

  private async dialWithRetries(): Promise<Client> {
    const attempts = this.conn.dialAttempts;
    let last: TransportError | undefined;
    for (let i = 1; i <= attempts; i++) {
      try {
        return await this.dial();
      } catch (e) {
        last = e as TransportError;
        if (last.kind === "host-key" || last.kind === "auth") throw last;
        if (i < attempts) {
          const ms = Math.min(500 * 2 ** (i - 1), 8000);
          say(
            `cannot reach ${this.label} yet (attempt ${i} of ${attempts}: ${last.message}); trying again in ${ms / 1000} s`,
          );
          await sleep(ms);
        }
      }
    }
    throw new TransportError(
      "unreachable",
      this.label,
      `could not connect to ${this.label} after ${attempts} attempt${attempts > 1 ? "s" : ""} (dial timeout ${this.conn.dialTimeout} s each): ${last?.message}. ` +
        `Check that the host is up and that sshd listens on port ${this.conn.port}, or raise connection.dialTimeout / connection.dialAttempts.`,
    );
  }

  /** One dial: the config, host-key pinning, the jump host's forwarded stream, then the handshake. */
  private async dial(): Promise<Client> {
    const cfg = connectConfig(this.conn, this.label);
    const verify = this.conn.insecureIgnoreHostKey ? undefined : pinnedHostKeys(this.conn.hostKey ?? "");
    if (verify) cfg.hostVerifier = verify.check;
    if (this.via) cfg.sock = await this.forwardedStream();
    return this.handshake(cfg, () => verify?.rejected);
  }

  /** A stream to this host through the jump host. */
  private async forwardedStream(): Promise<NonNullable<ConnectConfig["sock"]>> {
    const via = this.via!;
    const c = this.conn;
    const proxy = await via.connect();
    return new Promise((resolve, reject) =>
      proxy.forwardOut("127.0.0.1", 0, c.host, c.port, (err, stream) =>
        err
          ? reject(
              new TransportError(
                "unreachable",
                this.label,
                `jump host ${via.label} could not reach ${c.host}:${c.port}: ${err.message}`,
              ),
            )
          : resolve(stream),
      ),
    );
  }

  /** The SSH handshake; its failures told apart: host key, authentication, or the network. */
  private handshake(cfg: ConnectConfig, keyRejected: () => string | undefined): Promise<Client> {
    return new Promise<Client>((resolve, reject) => {
      const client = new Client();
      let ready = false;
      client.on("ready", () => {
        ready = true;
        this.stats.connections++;
        recordEvent(this.label, "connection");
        resolve(client);
      });
      client.on("error", (err: Error & { level?: string }) => {
        if (ready) return; // reported by the channel that was running
        client.end();
        reject(this.dialError(err, cfg, keyRejected()));
      });
      client.on("close", () => {
        if (ready && this.client) this.client = undefined; // reconnect on next use
      });
      client.connect(cfg);
      // Nagle's algorithm off: without its native crypto binding (not built, or built for another
      // Node than the one running), ssh2 writes each packet in pieces, and every piece waited for
      // the host's delayed ACK: 1.2 MB of rules took 2.3 s to send instead of 0.15 s
      client.setNoDelay(true);
    });
  }

  private dialError(err: Error & { level?: string }, cfg: ConnectConfig, keyRejected: string | undefined): Error {
    if (keyRejected)
      return new TransportError(
        "host-key",
        this.label,
        `host key verification failed for ${this.label}: it presented ${keyRejected}, which is not among the pinned keys in connection.hostKey. ` +
          "Nothing was run on it. If the host was legitimately reinstalled, update connection.hostKey (ssh-keyscan); otherwise treat it as an attack.",
      );
    if (err.level === "client-authentication")
      return new TransportError(
        "auth",
        this.label,
        `authentication failed for ${this.label} (methods tried: ${[cfg.privateKey && "publickey", cfg.password && "password", cfg.agent && "agent"].filter(Boolean).join(", ")}). Check connection.user and the key or password.`,
      );
    return new TransportError("unreachable", this.label, redact(err.message, this.conn));
  }

  /** Closes the connection (tests; the provider process simply exits). */
  close(): void {
    void this.client?.then(
      (c) => c.end(),
      () => undefined,
    );
    this.client = undefined;
  }
}

/** The connection was gone before a channel opened: the command was never sent. */
class NotStartedError extends TransportError {
  constructor(host: string, message: string) {
    super("connection-lost", host, message);
  }
}

/** The server refused the channel or the command (nothing ran); worth asking again shortly. */
class RefusedError extends TransportError {
  constructor(host: string, message: string) {
    super("connection-lost", host, message);
  }
}

/** Waits before asking again a server that refused a channel or an exec request. */
const REFUSAL_BACKOFF_MS = [100, 400, 1500];

/** ssh2's configuration for a target: timeouts, keepalives and the login methods it has. */
export function connectConfig(c: SshTarget, label: string): ConnectConfig {
  const cfg: ConnectConfig = {
    host: c.host,
    port: c.port,
    username: c.user,
    readyTimeout: c.dialTimeout * 1000,
    // a connection that stops answering (a cut link, a hung host) is declared lost after about
    // 3 keepalives, each dialTimeout (at most 15 s) apart, and the command running on it fails
    keepaliveInterval: Math.min(c.dialTimeout, 15) * 1000,
    keepaliveCountMax: 3,
  };
  if (c.privateKey !== undefined) cfg.privateKey = c.privateKey;
  if (c.privateKeyPassphrase !== undefined) cfg.passphrase = c.privateKeyPassphrase;
  if (c.password !== undefined) cfg.password = c.password;
  const agent =
    c.agent === true || (c.agent === undefined && !c.privateKey && !c.password) ? process.env.SSH_AUTH_SOCK : c.agent;
  if (typeof agent === "string") cfg.agent = agent;
  if (!cfg.privateKey && !cfg.password && !cfg.agent) {
    throw new TransportError(
      "auth",
      label,
      `cannot log in to ${label}: the connection has no privateKey or password, and no SSH agent (SSH_AUTH_SOCK is not set).`,
    );
  }
  return cfg;
}

/**
 * Host-key pinning: `check` accepts only the pinned keys; `rejected` then names the key the host
 * presented (type and SHA256 fingerprint), for the error.
 */
export function pinnedHostKeys(hostKey: string): { check: (key: Buffer) => boolean; rejected?: string } {
  const pinned = parseHostKeys(hostKey).keys;
  const v: { check: (key: Buffer) => boolean; rejected?: string } = {
    check: (key) => {
      if (pinned.some((k) => k.blob.equals(key))) return true;
      const type = key.subarray(4, 4 + key.readUInt32BE(0)).toString();
      const fp = createHash("sha256").update(key).digest("base64").replace(/=+$/, "");
      v.rejected = `${type} SHA256:${fp}`;
      return false;
    },
  };
  return v;
}

/** Never let a secret into a message, even if a library echoes it. */
export function redact(
  message: string,
  c: { privateKey?: string; privateKeyPassphrase?: string; password?: string },
): string {
  let m = message;
  for (const s of [c.privateKey, c.privateKeyPassphrase, c.password]) {
    if (s && s.length >= 4) m = m.split(s).join("[secret]");
  }
  return m;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
