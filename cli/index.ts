#!/usr/bin/env node
/**
 * The pulumi-lvs command line.
 *
 *   pulumi-lvs doctor --host HOST [--port 22] [--user root] [--key FILE] [--host-key 'ssh-ed25519 AAAA…' | --host-key-file FILE]
 *                     [--sudo] [--role director|real-server] [--vip VIP]... [--mode dr|tun] [--timeout SECONDS]
 *
 * Exit status: 0 when every check passed, 1 when a check failed, 2 for bad arguments.
 */
import { parseArgs } from "node:util";
import { doctor, report } from "./doctor";

const USAGE = `usage: pulumi-lvs doctor --host HOST [--port 22] [--user root] [--key FILE]
                         [--host-key 'ssh-ed25519 AAAA…' | --host-key-file FILE] [--sudo]
                         [--role director|real-server] [--vip VIP]... [--mode dr|tun] [--timeout SECONDS]`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command !== "doctor") {
    console.error(USAGE);
    return 2;
  }
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    values = parseArgs({
      args: rest,
      options: {
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
    }).values;
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const role = values.role as string;
  const mode = values.mode as string;
  if (!values.host || (role !== "director" && role !== "real-server") || (mode !== "dr" && mode !== "tun")) {
    console.error(USAGE);
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

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    console.error(`pulumi-lvs doctor: ${(e as Error).message}`);
    process.exit(1);
  },
);
