/**
 * Every kernel scheduler on a real kernel. The main lab boots Debian bookworm's own kernel (6.1),
 * which has no ip_vs_twos; this file boots a second lab, the same image around Debian's 6.12 from
 * bookworm's security archive (`PULUMI_LVS_LAB_KERNEL=6.12`, its own work dir), in place of the
 * main one, and runs the conformance suite's scheduler cases there, through ipvsadm and through
 * netlink. The main lab is put back afterwards for the files that follow.
 */
import * as assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { SCHEDULERS } from "../../provider/ipvs/types";
import { Figures } from "./harness/figures";
import { ensureGuestShares, guestShares } from "./harness/lab";
import { repoRoot } from "./harness/paths";

const SERIES = "6.12";
const LAB = path.join(repoRoot, "test/lab/lab");
const figures = new Figures("newer-kernel");

interface Line {
  case?: string;
  by?: string;
  ok?: boolean;
  detail?: string;
  summary?: boolean;
  kernel?: string;
  missing?: string[];
}

describe(`every scheduler, twos included, on Debian's ${SERIES} kernel (a second lab)`, () => {
  const env = () => ({ ...process.env, PULUMI_LVS_LAB_KERNEL: SERIES, PULUMI_LVS_LAB_SHARES: guestShares() });
  let t0 = 0;
  before(() => {
    execFileSync(LAB, ["down"], { stdio: "inherit" });
    t0 = Date.now();
    execFileSync(LAB, ["up"], { stdio: "inherit", env: env() });
  });
  after(() => {
    execFileSync(LAB, ["down"], { stdio: "inherit", env: env() });
    ensureGuestShares();
    figures.print();
  });

  it("ipvsadm and netlink make and read back each of the 14 schedulers", async () => {
    const up = Date.now() - t0;
    const sshConfig = (
      JSON.parse(execFileSync(LAB, ["env"], { encoding: "utf8", env: env() })) as { sshConfig: string }
    ).sshConfig;
    const t1 = Date.now();
    const { stdout } = await promisify(execFile)(
      "ssh",
      ["-F", sshConfig, "director", "/mnt/node/node /mnt/project/dist/test/conformance/run.js --only 'scheduler '"],
      { encoding: "utf8", timeout: 15 * 60_000, maxBuffer: 16 << 20 },
    );
    const lines = stdout
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Line);
    const summary = lines.find((l) => l.summary);
    assert.ok(summary, stdout);
    assert.match(
      summary.kernel ?? "",
      new RegExp(`^${SERIES.replace(".", "\\.")}\\.`),
      "the second lab runs the newer kernel",
    );
    assert.deepEqual(summary.missing, [], "the kernel has every scheduler");
    const results = lines.filter((l) => l.case);
    const failed = results.filter((r) => !r.ok);
    assert.deepEqual(failed, [], failed.map((f) => `${f.by} ${f.case}: ${f.detail}`).join("\n"));
    // one case per scheduler (and the scheduler flags case, which the prefix selects too)
    for (const by of ["ipvsadm", "netlink"]) {
      const ran = results.filter((r) => r.by === by).map((r) => r.case);
      for (const s of SCHEDULERS) assert.ok(ran.includes(`scheduler ${s}`), `${by} ran scheduler ${s}: ${ran}`);
    }
    figures.record({
      area: `schedulers on ${summary.kernel}`,
      tried: results.length,
      failed: failed.length,
      measured: `lab up ${(up / 1000).toFixed(0)} s (with the image build when it changed), cases ${((Date.now() - t1) / 1000).toFixed(0)} s`,
    });
  });
});
