import { createHash } from "node:crypto";

import { LocalTransport } from "./local";
import { SshTransport } from "./ssh";
import { isLocal, type Target } from "./target";
import type { Transport } from "./transport";

/**
 * One transport per host per provider process, i.e. per deployment: every resource on a host
 * shares one SSH connection. The local connection has one transport: this machine's shell. The pool lives here, in the implementation module that the SDK's
 * shims `require` at run time, never in serialized closures.
 */
const pool = new Map<string, SshTransport>();
let local: LocalTransport | undefined;

function keyOf(c: object): string {
  return createHash("sha256").update(JSON.stringify(c)).digest("hex");
}

export function transportFor(c: Target): Transport {
  if (isLocal(c)) {
    local ??= new LocalTransport();
    return local;
  }
  const key = keyOf(c);
  let t = pool.get(key);
  if (!t) {
    let via: SshTransport | undefined;
    if (c.proxy) {
      const pk = keyOf({ proxy: c.proxy });
      via = pool.get(pk);
      if (!via) {
        via = new SshTransport(c.proxy);
        pool.set(pk, via);
      }
    }
    t = new SshTransport(c, via, c.sudo);
    pool.set(key, t);
  }
  return t;
}

/** Counters over every transport of this process (tests, benchmarks). */
export function poolStats(): { hosts: number; connections: number; commands: number } {
  let connections = 0;
  let commands = 0;
  for (const t of pool.values()) {
    connections += t.stats.connections;
    commands += t.stats.commands;
  }
  return { hosts: pool.size, connections, commands };
}

/** Closes every connection (tests). */
export function closeAll(): void {
  for (const t of pool.values()) t.close();
  pool.clear();
}
