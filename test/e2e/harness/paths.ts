import * as os from "node:os";
import * as path from "node:path";

/** The repository root (this file is compiled to dist/test/e2e/harness/). */
export const repoRoot = path.resolve(__dirname, "../../../..");

/** Where heavy, reusable test artifacts live: outside the repo, shared with scripts/toolchain.sh. */
export const cacheDir = process.env.PULUMI_LVS_CACHE ?? path.join(os.homedir(), ".cache", "pulumi-lvs");
