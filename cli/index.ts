#!/usr/bin/env node
/**
 * The pulumi-lvs command line: `doctor` (can pulumi-lvs manage this host?) and `import` (write the
 * program of a running director).
 *
 * Exit status: 0 on success, 1 when a check or the import failed, 2 for bad arguments.
 */
import { parseArgs } from "node:util";
import { doctor, report } from "./doctor";
import { ImportError, runImport } from "./import/run";

const DOCTOR_USAGE = `usage: pulumi-lvs doctor --host HOST [--port 22] [--user root] [--key FILE]
                         [--host-key 'ssh-ed25519 AAAA…' | --host-key-file FILE] [--sudo]
                         [--role director|real-server] [--vip VIP]... [--mode dr|tun] [--timeout SECONDS]`;

const IMPORT_USAGE = `usage: pulumi-lvs import --host [USER@]HOST[:PORT] [--host …] [--real-server [USER@]HOST[:PORT] …]
                         --key FILE [--known-hosts FILE | --host-key KEY …] [--sudo]
                         --out DIR [--force] [--project NAME] [--timeout SECONDS]

Reads running LVS directors (one, or a pair: two --host) and their real servers over SSH, read-only,
and writes a Pulumi program folder that declares exactly what is there: the IPVS table, the
director's settings, the real servers' VIPs and ARP settings, and keepalived's virtual servers and
VRRP instances (a pair: what the two directors share once, what differs per director). Every
resource is marked adopt: "exact", so the program's first \`pulumi up\` takes each one over without
changing it (keepalived's blocks move into pulumi-lvs's files with a reload, never a restart), or
fails naming what differs. What cannot be represented stays where it is, listed in IMPORT.md with
file and line. Nothing is written on a host.

  --host HOST          a director (USER defaults to root, PORT to 22)
  --real-server HOST   a real-server host to import too (its VIPs, ARP settings, tunnels)
  --key FILE           the SSH private key (the program reads it from the secret config key privateKey)
  --known-hosts FILE   where the host keys are checked (default ~/.ssh/known_hosts)
  --host-key KEY       a pinned key ('ssh-ed25519 AAAA…' for every host, or a known_hosts line)
  --sudo               run the reads through sudo -n (a non-root user with passwordless sudo)
  --out DIR            the program folder to write (refused if it exists, unless --force)
  --project NAME       the Pulumi project's name (default: DIR's name)
  --timeout SECONDS    how long to wait for each SSH connection (default 10)

Then, in DIR: read IMPORT.md; npm install; pulumi stack init; pulumi config set --secret privateKey < FILE;
pulumi preview (take-overs only); pulumi up; pulumi preview --refresh --expect-no-changes.`;

type Values = Record<string, string | boolean | string[] | undefined>;

type Options = NonNullable<NonNullable<Parameters<typeof parseArgs>[0]>["options"]>;

function parse(rest: string[], options: Options, usage: string): Values | number {
  try {
    const v = parseArgs({ args: rest, options: { ...options, help: { type: "boolean", short: "h" } } })
      .values as Values;
    if (v.help) {
      console.log(usage);
      return 0;
    }
    return v;
  } catch (e) {
    console.error(`${(e as Error).message}\n${usage}`);
    return 2;
  }
}

async function doctorCommand(rest: string[]): Promise<number> {
  const values = parse(
    rest,
    {
      host: { type: "string" },
      port: { type: "string", default: "22" },
      user: { type: "string", default: "root" },
      key: { type: "string" },
      "host-key": { type: "string" },
      "host-key-file": { type: "string" },
      sudo: { type: "boolean", default: false },
      role: { type: "string", default: "director" },
      vip: { type: "string", multiple: true, default: [] },
      mode: { type: "string", default: "dr" },
      timeout: { type: "string", default: "10" },
    },
    DOCTOR_USAGE,
  );
  if (typeof values === "number") return values;
  const role = values.role as string;
  const mode = values.mode as string;
  if (!values.host || (role !== "director" && role !== "real-server") || (mode !== "dr" && mode !== "tun")) {
    console.error(DOCTOR_USAGE);
    return 2;
  }
  const findings = await doctor({
    host: values.host as string,
    port: Number(values.port),
    user: values.user as string,
    keyFile: values.key as string | undefined,
    hostKey: values["host-key"] as string | undefined,
    hostKeyFile: values["host-key-file"] as string | undefined,
    sudo: values.sudo as boolean,
    role,
    vips: values.vip as string[],
    mode,
    dialTimeout: Number(values.timeout),
  });
  console.log(
    `pulumi-lvs doctor: ${values.user}@${values.host}:${values.port} (${role}${role === "real-server" ? `, ${mode}` : ""})\n`,
  );
  console.log(report(findings));
  return findings.every((f) => f.ok) ? 0 : 1;
}

async function importCommand(rest: string[]): Promise<number> {
  const values = parse(
    rest,
    {
      host: { type: "string", multiple: true, default: [] },
      "real-server": { type: "string", multiple: true, default: [] },
      key: { type: "string" },
      "known-hosts": { type: "string" },
      "host-key": { type: "string", multiple: true, default: [] },
      sudo: { type: "boolean", default: false },
      out: { type: "string" },
      force: { type: "boolean", default: false },
      project: { type: "string" },
      timeout: { type: "string", default: "10" },
    },
    IMPORT_USAGE,
  );
  if (typeof values === "number") return values;
  const missing = (["host", "key", "out"] as const).filter((k) =>
    Array.isArray(values[k]) ? (values[k] as string[]).length === 0 : !values[k],
  );
  const timeout = Number(values.timeout);
  if (missing.length > 0 || !(timeout > 0)) {
    console.error(
      `pulumi-lvs import: ${missing.length > 0 ? `missing ${missing.map((m) => `--${m}`).join(", ")}` : "--timeout must be a number of seconds"}\n${IMPORT_USAGE}`,
    );
    return 2;
  }
  try {
    await runImport({
      hosts: values.host as string[],
      realServers: values["real-server"] as string[],
      keyFile: values.key as string,
      hostKeys: values["host-key"] as string[],
      knownHosts: values["known-hosts"] as string | undefined,
      sudo: values.sudo as boolean,
      out: values.out as string,
      force: values.force as boolean,
      project: values.project as string | undefined,
      dialTimeout: timeout,
      progress: (line) => console.error(`pulumi-lvs import: ${line}`),
    });
    return 0;
  } catch (e) {
    console.error(`pulumi-lvs import: ${e instanceof ImportError ? e.message : ((e as Error).stack ?? e)}`);
    console.error("nothing was written");
    return 1;
  }
}

/** The commands, by name. */
const COMMANDS: Record<string, (rest: string[]) => Promise<number>> = {
  doctor: doctorCommand,
  import: importCommand,
};

async function main(argv: string[]): Promise<number> {
  const [command = "", ...rest] = argv;
  const run = COMMANDS[command];
  if (!run) {
    console.error(`usage: pulumi-lvs doctor|import [--help]\n\n${DOCTOR_USAGE}\n\n${IMPORT_USAGE}`);
    return command === "--help" || command === "-h" ? 0 : 2;
  }
  return run(rest);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    console.error(`pulumi-lvs: ${(e as Error).message}`);
    process.exit(1);
  },
);
