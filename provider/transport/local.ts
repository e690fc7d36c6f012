import { spawn } from "node:child_process";
import {
  type ExecResult,
  Mutex,
  type RunOptions,
  type Transport,
  TransportError,
  type TransportStats,
} from "./transport";

/**
 * Runs commands on the machine the provider runs on, with `/bin/sh -c`. Used when the provider runs
 * on the director itself, and by tests.
 */
export class LocalTransport implements Transport {
  readonly label = "local";
  readonly stats: TransportStats = { connections: 0, commands: 0 };
  private readonly mutations = new Mutex();

  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.mutations.run(fn);
  }

  run(command: string, opts: RunOptions = {}): Promise<ExecResult> {
    this.stats.commands++;
    return new Promise((resolve, reject) => {
      const child = spawn("/bin/sh", ["-c", command], { stdio: ["pipe", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(
          new TransportError(
            "timeout",
            this.label,
            `command did not finish within ${(opts.timeoutMs ?? 120_000) / 1000} s: ${command}`,
          ),
        );
      }, opts.timeoutMs ?? 120_000);
      child.stdout.on("data", (d: Buffer) => {
        stdout += d.toString("utf8");
      });
      child.stderr.on("data", (d: Buffer) => {
        stderr += d.toString("utf8");
      });
      child.on("error", (e) => {
        clearTimeout(timer);
        reject(new TransportError("unsupported", this.label, `cannot run /bin/sh: ${e.message}`));
      });
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({ stdout, stderr, code: code ?? -1 });
      });
      // a command that exits without reading its input closes the pipe first (EPIPE): not an error
      child.stdin.on("error", () => undefined);
      child.stdin.end(opts.stdin ?? "");
    });
  }
}
