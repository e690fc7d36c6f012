/**
 * `pulumi-lvs import`: reads running directors (and their real servers) over SSH, read-only, and
 * writes a program folder that declares exactly what is there. One read-only round trip per host
 * (provider/scripts/import-facts.sh) through the provider's own SSH transport with pinned host
 * keys; the readers (director.ts, real-server.ts) make resources of the facts; the generator
 * (program.ts) writes the files. Nothing is written anywhere unless every host was read.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { sshConnection } from "../../provider/model/connection";
import { AddressError, parseSshTarget } from "../../provider/net/address";
import { SshTransport } from "../../provider/transport/ssh";
import type { Transport } from "../../provider/transport/transport";
import { type HostImport, importDirector } from "./director";
import { type DirectorFacts, importFactsScript, parseImportFacts, readsOf } from "./facts";
import { knownHostKeys } from "./known-hosts";
import type { ImportHost, ImportResult } from "./model";
import { generateProgram } from "./program";
import { importRealServer } from "./real-server";

export interface ImportOptions {
  /** Directors, `[user@]host[:port]`. */
  hosts: string[];
  /** Real-server hosts, `[user@]host[:port]`. */
  realServers: string[];
  /** The SSH private key file. */
  keyFile: string;
  /** Pinned host keys: a plain key line pins it for every host, a known_hosts line for the hosts it names. */
  hostKeys: string[];
  /** A known_hosts file (default ~/.ssh/known_hosts, when no --host-key is given). */
  knownHosts?: string;
  sudo: boolean;
  /** The program folder to write. */
  out: string;
  /** Replace `out` when it exists. */
  force: boolean;
  /** The Pulumi project's name (default: the folder's name). */
  project?: string;
  /** Seconds to wait for each SSH connection. */
  dialTimeout: number;
  /** Progress lines (standard error). */
  progress: (line: string) => void;
}

/** A failure the user can act on: printed as it is, no stack. */
export class ImportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ImportError";
  }
}

interface Target {
  role: ImportHost["role"];
  /** As given on the command line. */
  given: string;
  user: string;
  host: string;
  port: number;
}

function targetsOf(o: ImportOptions): Target[] {
  const parse = (role: Target["role"]) => (given: string) => {
    try {
      const t = parseSshTarget(given);
      return { role, given, user: t.user ?? "root", host: t.host, port: t.port ?? 22 };
    } catch (e) {
      if (e instanceof AddressError)
        throw new ImportError(`--${role === "director" ? "host" : "real-server"} ${given}: ${e.message}`);
      throw e;
    }
  };
  const out = [...o.hosts.map(parse("director")), ...o.realServers.map(parse("real-server"))];
  const seen = new Set<string>();
  for (const t of out) {
    const k = `${t.host}:${t.port}`;
    if (seen.has(k)) throw new ImportError(`${t.given} is given twice`);
    seen.add(k);
  }
  return out;
}

/** The host keys pinned for `t`: from --host-key, else from the known_hosts file. */
function hostKeysFor(t: Target, o: ImportOptions, knownHosts: string | undefined): string {
  const given = o.hostKeys.join("\n");
  const named = knownHostKeys(given, t.host, t.port);
  const plain = o.hostKeys
    .filter((k) => /^(ssh-|ecdsa-|sk-)/.test(k.trim()))
    .map((k) => k.trim().split(/\s+/).slice(0, 2).join(" "));
  const keys = [...named, ...plain, ...(knownHosts ? knownHostKeys(knownHosts, t.host, t.port) : [])];
  if (keys.length === 0)
    throw new ImportError(
      `${t.given}: no host key to check it by: ${o.knownHosts ?? "~/.ssh/known_hosts"} has none for ${t.host} port ${t.port}. ` +
        `pulumi-lvs pins host keys: pass --known-hosts FILE, or --host-key "$(ssh-keyscan -p ${t.port} ${t.host} 2>/dev/null | grep ed25519 | cut -d' ' -f2-)" after checking it`,
    );
  return [...new Set(keys)].join("\n");
}

function readKnownHosts(o: ImportOptions): string | undefined {
  const file = o.knownHosts ?? (o.hostKeys.length === 0 ? path.join(os.homedir(), ".ssh", "known_hosts") : undefined);
  if (!file) return undefined;
  try {
    return fs.readFileSync(file, "utf8");
  } catch (e) {
    if (o.knownHosts) throw new ImportError(`--known-hosts ${file}: ${(e as Error).message}`);
    return undefined;
  }
}

/** The facts of one host: one read-only round trip. */
async function readHost(t: Transport, target: Target, o: ImportOptions): Promise<DirectorFacts> {
  const t0 = Date.now();
  o.progress(`${target.given}: reading (${target.role})…`);
  let r: Awaited<ReturnType<Transport["run"]>>;
  try {
    r = await t.run(importFactsScript());
  } catch (e) {
    throw new ImportError(`${target.given}: ${(e as Error).message}`);
  }
  if (r.code !== 0) {
    const err = (r.stderr || r.stdout).trim();
    const sudo = /password is required|not in the sudoers|may not run sudo/i.test(err);
    throw new ImportError(
      sudo
        ? `${target.given}: sudo refused (${err.split("\n")[0]}): the import needs passwordless sudo (NOPASSWD) for ipvsadm, sysctl, ip and reading keepalived's files, or log in as root`
        : `${target.given}: reading the host failed (exit ${r.code}): ${err}`,
    );
  }
  const facts = parseImportFacts(r.stdout);
  const rules = facts.table.services.reduce((n, s) => n + s.realServers.length, 0);
  const seconds = ((Date.now() - t0) / 1000).toFixed(1);
  o.progress(
    target.role === "director"
      ? `${target.given}: read in ${seconds} s: ${facts.table.services.length} virtual services, ${rules} real servers, keepalived ${facts.keepalived.pids.length > 0 ? "running" : "not running"}`
      : `${target.given}: read in ${seconds} s: ${facts.addresses.length} addresses`,
  );
  return facts;
}

/** A name for each host in the program: its host name, made unique. */
function hostNames(targets: Target[], facts: DirectorFacts[]): string[] {
  const base = targets.map((t, i) => {
    const n = (facts[i]!.hostname || t.host)
      .split(".")[0]!
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-|-$/g, "");
    return n === "" || /^\d/.test(n) ? `host-${n || i + 1}` : n;
  });
  return base.map((n, i) => (base.indexOf(n) === i && base.lastIndexOf(n) === i ? n : `${n}-${targets[i]!.port}`));
}

function packageVersions(): { pulumi: string; pulumiLvs: string } {
  const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, "../../../package.json"), "utf8")) as {
    version: string;
    peerDependencies: Record<string, string>;
  };
  // the peer range's lower bound (">=3.259.0 <4"): the oldest @pulumi/pulumi the package supports
  const pulumiMin = (pkg.peerDependencies["@pulumi/pulumi"] ?? "").split(" ")[0]!.replace(">=", "");
  return { pulumi: `^${pulumiMin}`, pulumiLvs: `^${pkg.version}` };
}

/**
 * Reads every host, then writes the program folder: into a temporary folder beside `out`, renamed
 * into place once complete, so that a failure leaves nothing written.
 * @returns the files written
 */
export async function runImport(o: ImportOptions): Promise<string[]> {
  if (o.hosts.length === 0) throw new ImportError("--host: name at least one director ([user@]host[:port])");
  if (o.hosts.length > 2) throw new ImportError("--host: one director, or a pair of them (two --host)");
  const out = path.resolve(o.out);
  if (fs.existsSync(out) && !o.force)
    throw new ImportError(`--out ${o.out} exists: pass --force to replace it (nothing was read or written)`);
  const targets = targetsOf(o);
  let privateKey: string;
  try {
    privateKey = fs.readFileSync(o.keyFile, "utf8");
  } catch (e) {
    throw new ImportError(`--key ${o.keyFile}: ${(e as Error).message}`);
  }
  const knownHosts = readKnownHosts(o);
  const pinned = targets.map((t) => hostKeysFor(t, o, knownHosts));
  const transports = targets.map((t, i) => {
    const conn = sshConnection.safeParse({
      host: t.host,
      port: t.port,
      user: t.user,
      privateKey,
      hostKey: pinned[i],
      sudo: o.sudo,
      dialTimeout: o.dialTimeout,
      dialAttempts: 1,
    });
    if (!conn.success)
      throw new ImportError(
        `${t.given}: ${conn.error.issues.map((x) => `${x.path.join(".")}: ${x.message}`).join("; ")}`,
      );
    return new SshTransport(conn.data, undefined, o.sudo);
  });
  let facts: DirectorFacts[];
  try {
    facts = await Promise.all(targets.map((t, i) => readHost(transports[i]!, t, o)));
  } finally {
    for (const t of transports) (t as { close?: () => void }).close?.();
  }
  const names = hostNames(targets, facts);
  const hosts: ImportHost[] = targets.map((t, i) => ({
    name: names[i]!,
    role: t.role,
    host: t.host,
    port: t.port,
    user: t.user,
    hostKey: pinned[i]!,
    sudo: o.sudo,
  }));
  const result: ImportResult = { hosts, resources: [], findings: [], secrets: [], reads: [] };
  const add = (h: HostImport, i: number) => {
    if (h.refusal) throw new ImportError(`${targets[i]!.given}: ${h.refusal}`);
    result.resources.push(...h.resources);
    result.findings.push(...h.findings);
    result.secrets.push(...h.secrets);
  };
  targets.forEach((t, i) => {
    if (t.role === "director") add(importDirector(names[i]!, facts[i]!), i);
  });
  const services = result.resources.filter((r) => r.kind === "VirtualService");
  targets.forEach((t, i) => {
    if (t.role === "real-server") add(importRealServer(names[i]!, facts[i]!, services), i);
  });
  result.reads = facts.map((f, i) => ({ host: names[i]!, what: readsOf(f) }));
  const files = generateProgram(result, {
    project: o.project ?? path.basename(out),
    versions: packageVersions(),
    keyFile: o.keyFile,
  });
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const tmp = fs.mkdtempSync(path.join(path.dirname(out), `.${path.basename(out)}.import-`));
  try {
    for (const [name, text] of files) fs.writeFileSync(path.join(tmp, name), text);
    if (fs.existsSync(out)) fs.rmSync(out, { recursive: true });
    fs.renameSync(tmp, out);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  for (const f of result.findings.filter((x) => x.kind !== "note"))
    o.progress(
      `${f.kind}: ${f.source.host}${f.source.file ? `:${f.source.file}:${f.source.line ?? ""}` : ""}: ${f.message}`,
    );
  o.progress(
    `wrote ${out}: ${result.resources.length} resources (${[...new Set(result.resources.map((r) => r.kind))].join(", ")}); read IMPORT.md next`,
  );
  return [...files.keys()].map((f) => path.join(out, f));
}
