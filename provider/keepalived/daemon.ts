/**
 * keepalived on a director, through a Transport: writing and removing the files pulumi-lvs owns,
 * reloading (never restarting: a restart drops every IPVS rule keepalived made, and the VIPs), and
 * reading the files back with keepalived's state, without side effects.
 */
import type { InterfaceAddress } from "../host/addresses";
import { LIST_ADDRESSES, parseAddresses } from "../host/iproute";
import { type PersistedFile, parseFiles, readFilesScript, writeFilesScript } from "../host/persist";
import { shellScriptWith } from "../scripts";
import { sectionsScript, splitSections } from "../scripts/sections";
import { CommandError, shellQuote, type Transport } from "../transport/transport";
import { CONF_DIR, INCLUDE_LINE, MAIN_CONF, MAIN_CONF_TEXT, OWN_DIR } from "./render";

const PID_FILE = "/run/keepalived.pid";

/**
 * A drop-in for keepalived's unit that restarts a keepalived that died: Debian's and Ubuntu's units
 * have no `Restart=`, so a crashed (or `kill -9`ed) keepalived would stay down, with every IPVS
 * rule it made and its VIPs, until someone noticed.
 */
export const RESTART_DROPIN = "/etc/systemd/system/keepalived.service.d/pulumi-lvs-restart.conf";
const RESTART_DROPIN_TEXT =
  "# written by pulumi-lvs: keepalived comes back if it dies (removed with pulumi-lvs's last keepalived file)\n[Service]\nRestart=on-failure\nRestartSec=1s\n";

/**
 * What pulumi-lvs changed about keepalived on this host, one word a line: `enabled` (it enabled
 * keepalived's unit), `restart` (it added {@link RESTART_DROPIN}), `started` (it started keepalived). Written before the change is made; read
 * when pulumi-lvs's last file goes, to put keepalived back as it was.
 */
export const CHANGES_FILE = "/var/lib/pulumi-lvs/keepalived.changes";

/** Exit codes of the preparation step, for messages. */
const NO_KEEPALIVED = 71;
const NO_INCLUDE = 72;

/** Checks keepalived is installed and its main file reads conf.d; writes the main file if absent. */
function prepareScript(): string {
  return shellScriptWith("keepalived-prepare.sh", {
    NO_KEEPALIVED: String(NO_KEEPALIVED),
    NO_INCLUDE: String(NO_INCLUDE),
    CONF_DIR,
    OWN_DIR,
    MAIN_CONF,
    MAIN_CONF_TEXT,
    INCLUDE_LINE,
  });
}

/** What keepalived-state.sh reads (its functions: under_systemd, has_pid, running, enabled). */
const STATE_VARS = { PID_FILE };

/** keepalived-state.sh's functions, for scripts that read keepalived's state. */
export function keepalivedStateFunctions(): string {
  return shellScriptWith("keepalived-state.sh", STATE_VARS);
}

/**
 * Run after pulumi-lvs's files change: keepalived runs them, or, once the last one is gone, is put
 * back as it was (provider/scripts/keepalived-reload.sh).
 */
export function reloadScript(): string {
  return shellScriptWith("keepalived-reload.sh", {
    ...STATE_VARS,
    MAIN_CONF,
    MAIN_CONF_TEXT,
    CONF_DIR,
    OWN_DIR,
    CHANGES_FILE,
    RESTART_DROPIN,
    RESTART_DROPIN_TEXT,
  });
}

function explain(t: Transport, command: string, r: { code: number; stdout: string; stderr: string }): Error {
  if (r.code === NO_KEEPALIVED) {
    return new CommandError(
      t.label,
      "command -v keepalived",
      r,
      "install keepalived on this director (Debian/Ubuntu: apt-get install keepalived), then run `pulumi up` again",
    );
  }
  if (r.code === NO_INCLUDE) {
    return new CommandError(
      t.label,
      `grep ${INCLUDE_LINE} ${MAIN_CONF}`,
      { ...r, stderr: `${MAIN_CONF} exists and does not include ${CONF_DIR}` },
      `add the line \`${INCLUDE_LINE}\` to ${MAIN_CONF} (pulumi-lvs writes only its own files under ${CONF_DIR} and never edits yours), then run \`pulumi up\` again`,
    );
  }
  return new CommandError(t.label, command, r, "see the output above; fix the host, then run `pulumi up` again");
}

/**
 * Per host: reloads requested close together (one `up` writing many files) are done once. A
 * request made while a reload runs gets the next one, so every write is followed by a reload.
 */
const reloaders = new WeakMap<Transport, { pending?: Promise<void>; running?: Promise<void> }>();

export function reload(t: Transport): Promise<void> {
  let r = reloaders.get(t);
  if (!r) {
    r = {};
    reloaders.set(t, r);
  }
  const state = r;
  if (state.pending) return state.pending;
  const after = state.running ?? Promise.resolve();
  const p: Promise<void> = after
    .catch(() => undefined)
    .then(() => new Promise<void>((res) => setTimeout(res, 200)))
    .then(async () => {
      state.pending = undefined;
      state.running = p;
      // with the host's lock: a file written meanwhile would find keepalived half put back
      const res = await t.exclusive(() => t.run(reloadScript()));
      if (res.code !== 0) throw explain(t, "reload keepalived", res);
    })
    .finally(() => {
      if (state.running === p) state.running = undefined;
    });
  state.pending = p;
  return p;
}

/**
 * Writes `files` and removes `remove` (all owned by one resource), then reloads keepalived. Only
 * writing checks keepalived and its main file (and writes that file when there is none).
 */
export async function apply(
  t: Transport,
  files: PersistedFile[],
  remove: string[] = [],
  dirs: { make?: string[]; removeIfEmpty?: string[] } = {},
): Promise<void> {
  const writes = files.length > 0 || (dirs.make ?? []).length > 0;
  const script = [
    writes ? prepareScript() : ":",
    ...(dirs.make ?? []).map((d) => `mkdir -p ${shellQuote(d)}`),
    writeFilesScript(files),
    ...remove.map((p) => `rm -f ${shellQuote(p)}`),
    ...(dirs.removeIfEmpty ?? []).map((d) => `rmdir ${shellQuote(d)} 2>/dev/null || true`),
  ].join("\n");
  const r = await t.exclusive(() => t.run(script));
  if (r.code !== 0) throw explain(t, `write ${files.map((f) => f.path).join(", ")}`, r);
  await reload(t);
}

export interface KeepalivedHost {
  /** Content by path (files that exist only). */
  files: Map<string, string>;
  /** Whether keepalived runs (its pid file names a live process, or its unit is active). */
  running: boolean;
  /** Under systemd, whether keepalived's unit is enabled; undefined without systemd. */
  enabled?: boolean;
  /** How many files each glob matches. */
  counts: Map<string, number>;
  /** Addresses on the host. */
  addresses: InterfaceAddress[];
}

const MARK = "#pulumi-lvs:keepalived";

/**
 * Prints how many files `glob` matches, then the glob: its directory a quoted word, its last part
 * (a file name pattern such as `*.conf`) left for the shell to expand.
 */
function countScript(glob: string): string {
  const slash = glob.lastIndexOf("/");
  const matches = `${shellQuote(glob.slice(0, slash))}/${glob.slice(slash + 1)}`;
  return `echo "$(ls ${matches} 2>/dev/null | wc -l)" ${shellQuote(glob)}`;
}

/** One round trip, reading only: files, keepalived's liveness, glob counts and addresses. */
export async function readKeepalivedHost(t: Transport, paths: string[], globs: string[] = []): Promise<KeepalivedHost> {
  const script = [
    sectionsScript(MARK, [
      ["files", readFilesScript(paths)],
      ["counts", globs.map(countScript).join("\n")],
    ]),
    keepalivedStateFunctions(),
    sectionsScript(MARK, [
      ["running", "if running; then echo yes; fi"],
      ["enabled", "if ! under_systemd; then echo no-systemd; elif enabled; then echo yes; else echo no; fi"],
      ["addresses", LIST_ADDRESSES],
    ]),
    "exit 0",
  ].join("\n");
  const r = await t.run(script);
  if (r.code !== 0) throw new CommandError(t.label, "read keepalived files", r);
  return parseKeepalivedHost(r.stdout);
}

/** Parses the output of {@link probe} (exported for tests). */
export function parseKeepalivedHost(out: string): KeepalivedHost {
  const sec = splitSections(out, MARK);
  const counts = new Map<string, number>();
  for (const l of sec.counts ?? []) {
    const m = /^\s*(\d+) (.+)$/.exec(l);
    if (m) counts.set(m[2]!, Number(m[1]));
  }
  const p: KeepalivedHost = {
    files: parseFiles((sec.files ?? []).join("\n")),
    running: (sec.running ?? []).some((l) => l.trim() === "yes"),
    counts,
    addresses: parseAddresses((sec.addresses ?? []).join("\n")),
  };
  const enabled = (sec.enabled ?? []).map((l) => l.trim()).find(Boolean);
  if (enabled === "yes" || enabled === "no") p.enabled = enabled === "yes";
  return p;
}

/**
 * keepalived as pulumi-lvs needs it: running and, under systemd, enabled; or what is wrong
 * ("not enabled": it would not come back after a reboot).
 */
export type DaemonState = "running" | "stopped" | "not enabled";

export function daemonState(p: Pick<KeepalivedHost, "running" | "enabled">): DaemonState {
  if (!p.running) return "stopped";
  return p.enabled === false ? "not enabled" : "running";
}
