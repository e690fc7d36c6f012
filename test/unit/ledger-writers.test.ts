import * as assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { replayLedger } from "../../provider/ipvs/ledger";

/** A stand-in ipvsadm that takes every change: the writers here race on the ledger, not the kernel. */
const STAND_IN_IPVSADM = `#!/bin/sh
case "$1" in
  -R) while read -r l; do [ "$l" = "-L -n --timeout" ] && echo "Timeout (tcp tcpfin udp): 900 120 300"; done;;
esac
exit 0
`;

/** Runs one writer process (test/unit/fakes/ledger-writer.ts) to its end: the lines it expects in the ledger. */
function writer(kind: "ipvsadm" | "netlink", ledger: string, n: number, rounds: number, env: NodeJS.ProcessEnv) {
  const script = path.join(__dirname, "fakes", "ledger-writer.js");
  return new Promise<string[]>((resolve, reject) => {
    const p = spawn(process.execPath, [script, kind, ledger, String(n), String(rounds)], { env });
    let out = "";
    let err = "";
    p.stdout.on("data", (d: Buffer) => {
      out += d;
    });
    p.stderr.on("data", (d: Buffer) => {
      err += d;
    });
    p.on("close", (code) =>
      code === 0 ? resolve(JSON.parse(out) as string[]) : reject(new Error(`${kind} ${n}: ${err}`)),
    );
  });
}

describe("the ledger under concurrent writers", () => {
  it("two stacks through each client at once, compacting as they go, lose no record", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lvs-writers-"));
    try {
      fs.writeFileSync(path.join(dir, "ipvsadm"), STAND_IN_IPVSADM, { mode: 0o755 });
      // compactions counted (each ends with its mv, whether the journal was compacted as read or
      // by awk): the test is only worth something if compactions ran while the others wrote
      const mv = execFileSync("sh", ["-c", "command -v mv"], { encoding: "utf8" }).trim();
      fs.writeFileSync(path.join(dir, "mv"), `#!/bin/sh\necho x >> '${dir}/compactions'\nexec ${mv} "$@"\n`, {
        mode: 0o755,
      });
      const env = { ...process.env, PATH: `${dir}:${process.env.PATH}` };
      const ledger = path.join(dir, "state", "ipvs.rules");
      const kinds = ["ipvsadm", "netlink", "ipvsadm", "netlink"] as const;
      const expected = await Promise.all(kinds.map((k, n) => writer(k, ledger, n, 12, env)));
      const compactions = fs.readFileSync(path.join(dir, "compactions"), "utf8").split("\n").length - 1;
      assert.ok(compactions >= 4, `only ${compactions} compactions ran`);
      const held = replayLedger(fs.readFileSync(ledger, "utf8"));
      expected.forEach((lines, n) => {
        const mine = held.filter((l) => l.includes(`#owner=p%2Fs%2Fwriter%20${n}`));
        assert.deepEqual(mine.sort(), [...lines].sort(), `writer ${n} (${kinds[n]}): its records, all of them`);
      });
      assert.equal(held.length, expected.flat().length, "nothing else");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
