import { execFile } from "node:child_process";
import * as path from "node:path";
import { promisify } from "node:util";
import { lab } from "./lab";
import { installedPackage } from "./package";

const execFileP = promisify(execFile);

/** Runs `pulumi-lvs doctor` as a user would: the bin of the installed npm package. */
export async function doctor(host: string, ...args: string[]): Promise<{ code: number; out: string }> {
  const bin = path.join(await installedPackage(), "node_modules", ".bin", "pulumi-lvs");
  const h = lab().hosts[host]!;
  const argv = [
    "doctor",
    "--host",
    h.host,
    "--port",
    String(h.port),
    "--key",
    lab().privateKeyPath,
    "--host-key",
    h.hostKey,
    ...args,
  ];
  try {
    const r = await execFileP(bin, argv, { encoding: "utf8", timeout: 60_000 });
    return { code: 0, out: r.stdout };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? -1, out: `${err.stdout ?? ""}${err.stderr ?? ""}` };
  }
}
