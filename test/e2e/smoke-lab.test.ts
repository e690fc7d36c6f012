import * as assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { requests, resetLab, sh } from "./harness/lab";
import { drByHand } from "./harness/setup";

// Smoke test: the lab is real. LVS-DR set up by hand with ipvsadm over SSH (no
// pulumi-lvs code involved), and real HTTP requests from the client answered by every real server.
describe("smoke: a hand-made LVS-DR in the lab balances real traffic", () => {
  before(() => resetLab());

  it("the director's kernel has IPVS and every scheduler module this kernel ships", async () => {
    const out = await sh("director", "ipvsadm --version && ls /lib/modules/$(uname -r)/kernel/net/netfilter/ipvs/");
    assert.match(out, /ipvsadm v1\.\d+/);
    for (const s of ["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh"]) {
      assert.match(out, new RegExp(`^ip_vs_${s}\\.ko`, "m"), `ip_vs_${s}`);
    }
  });

  it("HTTP requests to the VIP are answered by more than one real server", async () => {
    await drByHand("10.0.0.100", ["rs1", "rs2", "rs3"]);
    await sh(
      "director",
      "ipvsadm -A -t 10.0.0.100:80 -s rr && for r in 11 12 13; do ipvsadm -a -t 10.0.0.100:80 -r 10.0.0.$r:80 -g -w 1; done",
    );
    const counts = await requests("client", "http://10.0.0.100/", 12);
    assert.equal(counts.FAIL, undefined, JSON.stringify(counts));
    assert.ok(Object.keys(counts).length > 1, `answered by ${Object.keys(counts).join(", ")}`);
    assert.deepEqual(counts, { rs1: 4, rs2: 4, rs3: 4 });
    // DR: replies bypass the director (its OutPkts stays 0)
    await new Promise((r) => setTimeout(r, 2500)); // the kernel folds in the counters every 2 s
    assert.match(await sh("director", "ipvsadm -L -n --stats"), /TCP\s+10\.0\.0\.100:80\s+12\s+\d+\s+0\s/);
  });
});
