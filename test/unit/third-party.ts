import * as fs from "node:fs";
import * as path from "node:path";

/**
 * Material nobody here wrote, which tests read when it is there and skip, saying why, when it is
 * not: the folder PULUMI_LVS_THIRD_PARTY names, by default `shared/third_party` beside the
 * repository (as scripts/toolchain.sh finds it). The repository never carries a copy.
 * @returns the folder of `name`, and the reason to skip when it is missing (false when present)
 */
export function thirdParty(name: string): { dir: string; missing: string | false } {
  const root = process.env.PULUMI_LVS_THIRD_PARTY ?? path.resolve(__dirname, "../../../..", "shared", "third_party");
  const dir = path.join(root, name);
  return { dir, missing: fs.existsSync(dir) ? false : `${name} is not at ${dir} (PULUMI_LVS_THIRD_PARTY): skipped` };
}
