/**
 * Where a transport goes, as plain data: the model's connection schema (model/connection.ts)
 * validates users' input into these shapes; the transport needs nothing else from the model.
 */
import { formatHostPort } from "../net/address";

/** An SSH server and how to log in (secrets included: never print one of these). */
export interface SshTarget {
  host: string;
  port: number;
  user: string;
  privateKey?: string;
  privateKeyPassphrase?: string;
  password?: string;
  /** true: $SSH_AUTH_SOCK; a string: that agent socket. */
  agent?: boolean | string;
  /** Pinned host keys (see {@link parseHostKeys}). */
  hostKey?: string;
  insecureIgnoreHostKey: boolean;
  /** Seconds per dial attempt. */
  dialTimeout: number;
  dialAttempts: number;
}

/** A director reached over SSH: maybe through a jump host, maybe with sudo. */
export interface DirectorTarget extends SshTarget {
  sudo: boolean;
  proxy?: SshTarget;
}

/** The machine the provider runs on. */
export interface LocalTarget {
  local: true;
}

export type Target = DirectorTarget | LocalTarget;

export function isLocal(c: Target): c is LocalTarget {
  return "local" in c && c.local === true;
}

/** `user@host:port` of a connection: safe for messages (no secret). */
export function connectionLabel(c: { user: string; host: string; port: number }): string {
  return `${c.user}@${formatHostPort(c.host, c.port)}`;
}

const KEY_TYPES =
  /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com|ssh-dss)$/;

/** A public key: its type and its wire blob. */
export interface PublicKey {
  type: string;
  blob: Buffer;
}

/**
 * Reads pinned host keys from `hostKey`: one or more lines, each either a public key
 * (`ssh-ed25519 AAAA… [comment]`, as in a host's /etc/ssh/ssh_host_*_key.pub) or a known_hosts line
 * (`host1,[host2]:2222 ssh-ed25519 AAAA…`). Host patterns in known_hosts lines are not matched: the
 * keys are pinned for this one connection. `@revoked` lines are refused.
 */
export function parseHostKeys(text: string): { keys: PublicKey[]; errors: string[] } {
  const keys: PublicKey[] = [];
  const errors: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const words = line.split(/\s+/);
    if (words[0] === "@revoked") {
      errors.push(`line ${i + 1}: @revoked lines are not supported: remove the revoked key instead`);
      return;
    }
    if (words[0] === "@cert-authority") {
      errors.push(`line ${i + 1}: @cert-authority lines are not supported: pin the host's own key`);
      return;
    }
    const at = words.findIndex((w) => KEY_TYPES.test(w));
    if (at < 0 || at > 1 || !words[at + 1]) {
      errors.push(`line ${i + 1}: expected "<key-type> <base64>" or a known_hosts line, got "${line.slice(0, 40)}…"`);
      return;
    }
    const blob = Buffer.from(words[at + 1]!, "base64");
    // the blob starts with the key type as an SSH string
    const len = blob.length >= 4 ? blob.readUInt32BE(0) : -1;
    if (len <= 0 || blob.subarray(4, 4 + len).toString() !== words[at]) {
      errors.push(`line ${i + 1}: the base64 key data is not a ${words[at]} public key`);
      return;
    }
    keys.push({ type: words[at]!, blob });
  });
  return { keys, errors };
}
