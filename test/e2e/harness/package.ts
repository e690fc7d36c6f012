import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { cacheDir, repoRoot } from "./paths";

const installed = new Map<string, Promise<string>>();

/**
 * Packs this repository with `npm pack` (from the built dist/) and installs the tarball, with the
 * pinned @pulumi/pulumi, into a directory under the cache. Test programs live below that directory,
 * so they resolve `pulumi-lvs` exactly as a user's program does: from an installed package, not
 * from source. (Dynamic providers serialize local files by value, so testing from source would
 * test something else.) The install is keyed by the tarball's hash and reused while it is unchanged.
 *
 * @param extra more packages to install alongside (name → version), e.g. for the benchmark's baselines
 * @returns the directory whose node_modules holds the installed package.
 */
export function installedPackage(extra: Record<string, string> = {}): Promise<string> {
  const key = JSON.stringify(extra);
  let p = installed.get(key);
  if (!p) {
    p = Promise.resolve().then(() => install(extra));
    installed.set(key, p);
  }
  return p;
}

function install(extra: Record<string, string>): string {
  const packDir = path.join(cacheDir, "e2e", "pack");
  fs.mkdirSync(packDir, { recursive: true });
  const out = execFileSync("npm", ["pack", "--json", "--pack-destination", packDir], {
    cwd: repoRoot,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  const tarball = path.join(packDir, JSON.parse(out)[0].filename as string);
  const hash = createHash("sha256")
    .update(fs.readFileSync(tarball))
    .update(JSON.stringify(extra))
    .digest("hex")
    .slice(0, 16);
  const dir = path.join(cacheDir, "e2e", `install-${hash}`);
  const marker = path.join(dir, ".installed");
  if (fs.existsSync(marker)) return dir;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const stable = path.join(dir, "pulumi-lvs.tgz");
  fs.copyFileSync(tarball, stable);
  const pulumiVersion = JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")).devDependencies[
    "@pulumi/pulumi"
  ];
  const pkg = {
    name: "pulumi-lvs-e2e",
    private: true,
    dependencies: {
      "pulumi-lvs": `file:${stable}`,
      "@pulumi/pulumi": pulumiVersion,
      ...extra,
    },
  };
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify(pkg, null, 2));
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"], {
    cwd: dir,
    stdio: ["ignore", "inherit", "inherit"],
  });
  fs.writeFileSync(marker, new Date().toISOString());
  return dir;
}
