import * as assert from "node:assert/strict";
import { sh } from "./lab";

/** Polls until `cond` holds; returns the milliseconds it took, or fails after `ms`. */
export async function waitFor(what: string, cond: () => Promise<boolean>, ms: number): Promise<number> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > ms) assert.fail(`${what}: not after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return Date.now() - t0;
}

/** The real servers of a TCP service in a director's table: address → weight. */
export async function table(host: string, service: string): Promise<Record<string, number>> {
  const out = await sh(host, `ipvsadm -L -n -t ${service} 2>/dev/null || true`);
  const t: Record<string, number> = {};
  for (const m of out.matchAll(/->\s+([\d.]+):\d+\s+\S+\s+(\d+)/g)) t[m[1]!] = Number(m[2]);
  return t;
}

/** Starts, in the background on `host`, a script whose output goes to `file`. */
export async function background(host: string, script: string, file: string): Promise<void> {
  await sh(host, `rm -f ${file}; sh -c '${script}' > ${file} 2>&1 < /dev/null &`);
}

/**
 * Opens, from the lab's client, an HTTP request that stays in progress for `seconds` (its first
 * line now, the end later), writing the response to `file`; returns the real server the director
 * gave it (from the director's connection table: the client's new ESTABLISHED entry).
 */
export async function longRequest(director: string, vip: string, seconds: number, file: string): Promise<string> {
  // LVS-DR directors see one direction only: entries of connections that ended elsewhere linger
  const established = async () =>
    new Set(
      (await sh(director, "ipvsadm -L -n -c"))
        .split("\n")
        .filter((l) => l.includes("ESTABLISHED") && l.includes("10.0.0.50:") && l.includes(` ${vip}:`))
        .map((l) => l.trim().split(/\s+/).slice(3).join(" ")),
    );
  const before = await established();
  await background(
    "client",
    `(printf "GET / HTTP/1.0\\r\\n"; sleep ${seconds}; printf "\\r\\n"; sleep 3) | nc ${vip} 80`,
    file,
  );
  let held = "";
  await waitFor(
    "the long request in the director's connection table",
    async () => {
      const fresh = [...(await established())].filter((e) => !before.has(e));
      held = fresh[0]?.split(" ")[2]?.replace(/:\d+$/, "") ?? "";
      return held !== "";
    },
    10_000,
  );
  return held;
}
