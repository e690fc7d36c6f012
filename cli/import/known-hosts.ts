/**
 * The host keys a known_hosts file (OpenSSH's format, sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT") holds
 * for one host and port: plain patterns (`host`, `[host]:port`, `*` and `?` wildcards, `!`
 * negation) and hashed ones (`|1|salt|hmac`, HashKnownHosts). `@revoked` and `@cert-authority`
 * lines are not host keys and are skipped. Pure.
 */
import { createHmac } from "node:crypto";
import { knownHostsName } from "../../provider/net/address";

function wildcard(pattern: string): RegExp {
  const body = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${body}$`, "i");
}

/** Whether one entry's host field (comma-separated patterns, or one hashed name) names `name`. */
function matches(field: string, name: string): boolean {
  if (field.startsWith("|1|")) {
    const [, , salt, hash] = field.split("|");
    if (!salt || !hash) return false;
    return createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64") === hash;
  }
  let hit = false;
  for (const p of field.split(",")) {
    if (p.startsWith("!")) {
      if (wildcard(p.slice(1)).test(name)) return false;
    } else if (wildcard(p).test(name)) hit = true;
  }
  return hit;
}

/**
 * The keys (`type base64`, one per line, in the file's order) that `text` holds for `host` on
 * `port`: empty when it has none.
 */
export function knownHostKeys(text: string, host: string, port: number): string[] {
  const name = knownHostsName(host, port);
  const out: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith("@")) continue;
    const [field, type, key] = line.split(/\s+/);
    if (field && type && key && matches(field, name)) out.push(`${type} ${key}`);
  }
  return [...new Set(out)];
}
