import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import type { IpvsClient } from "../../provider/ipvs/client";
import { NetlinkIpvsClient } from "../../provider/ipvs/netlink/client";
import { SCHEDULERS, type Scheduler } from "../../provider/ipvs/types";
import { runSuite } from "../conformance/suite";
import { FakeIpvs } from "./fakes/ipvs";
import { FakeIpvsKernel, KERNEL_SCHEDULERS } from "./fakes/ipvs-kernel";

/** The conformance suite's failures with `clients` (none: the contract is kept). */
async function failures(
  clients: () => Record<string, IpvsClient>,
  schedulers: readonly Scheduler[] = SCHEDULERS,
): Promise<string[]> {
  const outcomes = await runSuite(clients, schedulers, () => undefined);
  assert.ok(outcomes.length > 10, `only ${outcomes.length} cases ran`);
  return outcomes.filter((o) => !o.ok).map((o) => `${o.case} (${o.by}): ${o.detail}`);
}

// The unit tests stand on fakes: each must keep the IpvsClient contract that the real clients keep
// on the real kernel (the same conformance suite, run there by test/e2e/local-netlink.test.ts).
describe("the fakes keep the IpvsClient contract", () => {
  it("FakeIpvs (the resource tests' host) passes the conformance suite", async () => {
    const fake = new FakeIpvs();
    assert.deepEqual(await failures(() => ({ fake })), []);
  });

  it("the netlink client on FakeIpvsKernel (the netlink tests' kernel) passes it too, with that kernel's schedulers", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lvs-conformance-"));
    try {
      const kernel = new FakeIpvsKernel();
      const ledger = path.join(dir, "ipvs.rules");
      const clients = () => ({ netlink: new NetlinkIpvsClient({ ledger, open: async () => kernel }) });
      assert.deepEqual(await failures(clients, KERNEL_SCHEDULERS), []);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
