import { execSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { LocalTransport } from "../../../provider/transport/local";
import type { ExecResult, RunOptions, Transport, TransportStats } from "../../../provider/transport/transport";

/**
 * A host in a temporary directory, for running the provider's real host scripts in a real shell:
 * the system paths they use (/etc/keepalived, /etc/pulumi-lvs, /etc/systemd, /etc/sysctl.d,
 * /etc/modules-load.d, /etc/default/ipvsadm, /run,
 * /var/lib/pulumi-lvs, /sys/class/net, /proc/sys) are moved under `root`, and `bin` comes first on
 * PATH, for stand-ins of commands (keepalived, systemctl, ipvsadm, ip, arping, modprobe) that log
 * their calls to `log`.
 */
export class Sandbox {
  readonly root = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-lvs-sandbox-"));
  readonly bin = path.join(this.root, "bin");
  readonly log = path.join(this.root, "calls.log");
  private static readonly PATHS = [
    "/etc/keepalived",
    "/etc/pulumi-lvs",
    "/etc/systemd",
    "/etc/sysctl.d",
    "/etc/modules-load.d",
    "/etc/default/ipvsadm",
    "/run/",
    "/var/lib/pulumi-lvs",
    "/sys/class/net",
    "/proc/sys",
  ];

  constructor() {
    fs.mkdirSync(this.bin);
    for (const d of ["etc", "run", "var/lib", "sys/class/net", "proc/sys"])
      fs.mkdirSync(path.join(this.root, d), { recursive: true });
    fs.writeFileSync(this.log, "");
  }

  /** The script as it runs in the sandbox: system paths moved under the root (once). */
  rewrite(script: string): string {
    const literal = (t: string) => t.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
    const paths = new RegExp(`(?<!${literal(this.root)})(${Sandbox.PATHS.map(literal).join("|")})`, "g");
    return script.replace(paths, `${this.root}$1`);
  }

  path(p: string): string {
    return path.join(this.root, p);
  }

  /** Adds a stand-in command: `body` is shell; every call is logged as `name args`. */
  command(name: string, body: string): void {
    const f = path.join(this.bin, name);
    fs.writeFileSync(f, `#!/bin/sh\necho "${name} $*" >> ${this.log}\n${body}\n`, { mode: 0o755 });
  }

  calls(): string[] {
    return fs.readFileSync(this.log, "utf8").split("\n").filter(Boolean);
  }

  /**
   * A stand-in `ip` that keeps the host's addresses in a file, one a line as `ip -o addr show`
   * prints them, and shows them as `ip -j addr show` does, one interface object an address
   * (`replace`, `del`; `link` and `route` print nothing).
   */
  addresses(initial: string[] = []): { list: () => string[] } {
    const file = this.path("addresses");
    fs.writeFileSync(file, initial.map((l) => `${l}\n`).join(""));
    this.command(
      "ip",
      [
        '[ "$1" = -6 ] && shift',
        '[ "$1" = -j ] && shift',
        'case "$1 $2" in',
        `"addr show") awk 'BEGIN { printf "[" } { split($4, a, "/"); printf "%s{\\"ifname\\":\\"%s\\",\\"addr_info\\":[{\\"family\\":\\"%s\\",\\"local\\":\\"%s\\",\\"prefixlen\\":%s}]}", s, $2, $3, a[1], a[2]; s = "," } END { print "]" }' ${file} ;;`,
        `"link show") awk 'BEGIN { printf "[" } !seen[$2]++ { printf "%s{\\"ifname\\":\\"%s\\",\\"flags\\":[\\"UP\\"]}", s, $2; s = "," } END { print "]" }' ${file} ;;`,
        `"addr replace") grep -q " inet6\\? $3 " ${file} || echo "1: $5    inet $3 scope global $5" >> ${file} ;;`,
        `"addr del") grep -v " inet6\\? $3 " ${file} > ${file}.new; mv ${file}.new ${file} ;;`,
        "*) ;;",
        "esac",
      ].join("\n"),
    );
    return {
      list: () =>
        fs
          .readFileSync(file, "utf8")
          .split("\n")
          .filter(Boolean)
          .map((l) => l.split(/\s+/)[3]!),
    };
  }

  /** Runs a script as the host would (sh -c), in the sandbox. */
  run(script: string): Promise<ExecResult> {
    return new LocalTransport().run(this.env(script));
  }

  env(script: string): string {
    return `PATH=${this.bin}:$PATH; export PATH\n${this.rewrite(script)}`;
  }

  transport(): Transport {
    return new SandboxTransport(this);
  }

  /** Stops what the stand-ins started and removes the sandbox. */
  close(): void {
    for (const pid of fs.readdirSync(this.root).filter((f) => f.startsWith("daemon-"))) {
      try {
        process.kill(Number(fs.readFileSync(path.join(this.root, pid), "utf8")), "SIGKILL");
      } catch {}
    }
    fs.rmSync(this.root, { recursive: true, force: true });
  }

  /**
   * Stand-ins for keepalived and, with `systemd`, for systemctl (with /run/systemd/system, as
   * systemd makes it). keepalived is a shell loop that logs SIGHUP (a reload) and exits on SIGTERM;
   * it writes /run/keepalived.pid, as the real one does whether it forks or not.
   */
  keepalived(opts: { systemd: boolean; enabled?: boolean; active?: boolean }): void {
    const pidFile = this.path("run/keepalived.pid");
    // the daemon is the child of a shell that waits for it (this machine's init may not reap
    // orphans, and a zombie would still answer kill -0)
    const daemon = [
      "(",
      `  sh -c 'trap "echo keepalived-reloaded >> ${this.log}" HUP; while :; do sleep 0.1; done' &`,
      `  echo $! > ${this.path("daemon-$!")}; echo $! > ${pidFile}.tmp; mv ${pidFile}.tmp ${pidFile}`,
      "  wait",
      ") </dev/null >/dev/null 2>&1 &",
      `while [ ! -s ${pidFile} ]; do sleep 0.01; done`,
    ].join("\n");
    this.command("keepalived", daemon);
    if (!opts.systemd) return;
    fs.mkdirSync(this.path("run/systemd/system"), { recursive: true });
    const state = this.path("var/lib/fake-systemd");
    fs.mkdirSync(state, { recursive: true });
    if (opts.enabled) fs.writeFileSync(`${state}/enabled`, "");
    this.command(
      "systemctl",
      [
        'for a in "$@"; do case "$a" in -*) ;; *) set -- "$@" "$a" ;; esac; shift; done',
        `live() { [ -e ${state}/active ] && kill -0 "$(cat ${pidFile})" 2>/dev/null; }`,
        'case "$1" in',
        `is-enabled) [ -e ${state}/enabled ] ;;`,
        "is-active) live ;;",
        `enable) touch ${state}/enabled ;;`,
        `disable) rm -f ${state}/enabled ;;`,
        `start) live || { PATH=${this.bin}:$PATH keepalived --dont-fork && touch ${state}/active; } ;;`,
        `reload) kill -HUP "$(cat ${pidFile})" ;;`,
        "daemon-reload) ;;",
        `stop) if live; then kill "$(cat ${pidFile})"; fi; rm -f ${state}/active ${pidFile} ;;`,
        "*) exit 1 ;;",
        "esac",
      ].join("\n"),
    );
    if (opts.active) {
      execSync(this.env("keepalived --dont-fork"), { shell: "/bin/sh" });
      fs.writeFileSync(`${state}/active`, "");
      fs.writeFileSync(this.log, "");
    }
  }

  /** The enabled state of the systemd stand-in. */
  keepalivedEnabled(): boolean {
    return fs.existsSync(this.path("var/lib/fake-systemd/enabled"));
  }

  /** Whether the keepalived stand-in runs. */
  keepalivedRunning(): boolean {
    try {
      process.kill(Number(fs.readFileSync(this.path("run/keepalived.pid"), "utf8")), 0);
      return true;
    } catch {
      return false;
    }
  }

  /** A reboot: every process gone, /run emptied (systemd's own /run/systemd/system comes back). */
  reboot(): void {
    for (const f of fs.readdirSync(this.root).filter((n) => n.startsWith("daemon-"))) {
      try {
        process.kill(Number(fs.readFileSync(path.join(this.root, f), "utf8")), "SIGKILL");
      } catch {}
      fs.rmSync(path.join(this.root, f));
    }
    const systemd = fs.existsSync(this.path("run/systemd/system"));
    fs.rmSync(this.path("run"), { recursive: true, force: true });
    fs.mkdirSync(this.path("run"));
    if (systemd) fs.mkdirSync(this.path("run/systemd/system"), { recursive: true });
    fs.rmSync(this.path("var/lib/fake-systemd/active"), { force: true });
  }
}

/** A Transport into a {@link Sandbox}. */
class SandboxTransport implements Transport {
  readonly label = "root@sandbox:22";
  private readonly inner = new LocalTransport();
  constructor(private readonly box: Sandbox) {}
  get stats(): TransportStats {
    return this.inner.stats;
  }
  /** Runs in the sandbox; what the command prints names the paths as the host would. */
  async run(command: string, opts: RunOptions = {}): Promise<ExecResult> {
    const o: RunOptions = { ...opts };
    if (opts.stdin !== undefined) o.stdin = this.box.rewrite(opts.stdin);
    const r = await this.inner.run(this.box.env(command), o);
    const back = (t: string) => t.replaceAll(this.box.root, "");
    return { ...r, stdout: back(r.stdout), stderr: back(r.stderr) };
  }
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.inner.exclusive(fn);
  }
}

/** Runs `test` with a new Sandbox, and closes the sandbox after it, whether it passed or threw. */
export async function inSandbox<T>(test: (box: Sandbox) => Promise<T>): Promise<T> {
  const box = new Sandbox();
  try {
    return await test(box);
  } finally {
    box.close();
  }
}
