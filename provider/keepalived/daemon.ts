/**
 * keepalived on a director, through a Transport: writing and removing the files pulumi-lvs owns,
 * reloading (never restarting: a restart drops every IPVS rule keepalived made, and the VIPs), and
 * reading the files back with keepalived's state, without side effects.
 */
import { type InterfaceAddress, parseIpAddr } from "../host/addresses";
import { type PersistedFile, parseFiles, readFilesScript, writeFilesScript } from "../host/persist";
import { CommandError, shellQuote, type Transport } from "../transport/transport";
import { CONF_DIR, INCLUDE_LINE, MAIN_CONF, MAIN_CONF_TEXT, OWN_DIR } from "./render";

const PID_FILE = "/run/keepalived.pid";

/** Exit codes of the preparation step, for messages. */
const NO_KEEPALIVED = 71;
const NO_INCLUDE = 72;

/** Checks keepalived is installed and its main file reads conf.d; writes the main file if absent. */
function prepareScript(): string {
  const main = shellQuote(MAIN_CONF);
  return [
    `command -v keepalived >/dev/null 2>&1 || exit ${NO_KEEPALIVED}`,
    `mkdir -p ${shellQuote(CONF_DIR)} ${shellQuote(OWN_DIR)}`,
    `if [ ! -e ${main} ]; then printf %s ${shellQuote(MAIN_CONF_TEXT)} > ${main}.pulumi-lvs.tmp && mv ${main}.pulumi-lvs.tmp ${main}; fi`,
    `grep -qxF ${shellQuote(INCLUDE_LINE)} ${main} || exit ${NO_INCLUDE}`,
  ].join("\n");
}

/**
 * Reload if running (SIGHUP, or systemctl reload under systemd); start it otherwise. A start
 * returns once keepalived has written its pid file (it daemonizes first): a reload right after
 * must find it, or it would start a second keepalived.
 */
export const RELOAD_SCRIPT = `pid=$(cat ${PID_FILE} 2>/dev/null)
if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
  if [ -d /run/systemd/system ] && systemctl is-active -q keepalived 2>/dev/null; then systemctl reload keepalived; else kill -HUP "$pid"; fi
  exit
fi
if [ -d /run/systemd/system ]; then systemctl start keepalived || exit; else keepalived -f ${MAIN_CONF} || exit; fi
i=0
while [ $i -lt 100 ]; do
  pid=$(cat ${PID_FILE} 2>/dev/null)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then sleep 1; exit 0; fi
  sleep 0.1; i=$((i + 1))
done
echo "keepalived did not start: no live process in ${PID_FILE} after 10 s (see its log: journalctl -u keepalived or syslog)" >&2
exit 1`;

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
      const res = await t.run(RELOAD_SCRIPT);
      if (res.code !== 0) throw explain(t, "reload keepalived", res);
    })
    .finally(() => {
      if (state.running === p) state.running = undefined;
    });
  state.pending = p;
  return p;
}

/** Writes `files` and removes `remove` (all owned by one resource), then reloads keepalived. */
export async function apply(
  t: Transport,
  files: PersistedFile[],
  remove: string[] = [],
  dirs: { make?: string[]; removeIfEmpty?: string[] } = {},
): Promise<void> {
  const script = [
    prepareScript(),
    ...(dirs.make ?? []).map((d) => `mkdir -p ${shellQuote(d)}`),
    writeFilesScript(files),
    ...remove.map((p) => `rm -f ${shellQuote(p)}`),
    ...(dirs.removeIfEmpty ?? []).map((d) => `rmdir ${shellQuote(d)} 2>/dev/null || true`),
  ].join("\n");
  const r = await t.exclusive(() => t.run(script));
  if (r.code !== 0) throw explain(t, `write ${files.map((f) => f.path).join(", ")}`, r);
  await reload(t);
}

export interface Probe {
  /** Content by path (files that exist only). */
  files: Map<string, string>;
  /** Whether keepalived runs (its pid file names a live process). */
  running: boolean;
  /** How many files each glob matches. */
  counts: Map<string, number>;
  /** Addresses on the host. */
  addresses: InterfaceAddress[];
}

const MARK = "#pulumi-lvs:keepalived";

/** One round trip, reading only: files, keepalived's liveness, glob counts and addresses. */
export async function probe(t: Transport, paths: string[], globs: string[] = []): Promise<Probe> {
  const script = [
    `echo '${MARK} files'`,
    readFilesScript(paths),
    `echo '${MARK} counts'`,
    ...globs.map((g) => `echo "$(ls ${g} 2>/dev/null | wc -l) ${g}"`),
    `echo '${MARK} running'`,
    `pid=$(cat ${PID_FILE} 2>/dev/null); if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then echo yes; fi`,
    `echo '${MARK} addresses'`,
    "ip -o addr show",
    "exit 0",
  ].join("\n");
  const r = await t.run(script);
  if (r.code !== 0) throw new CommandError(t.label, "read keepalived files", r);
  return parseProbe(r.stdout);
}

/** Parses the output of {@link probe} (exported for tests). */
export function parseProbe(out: string): Probe {
  const sec: Record<string, string[]> = {};
  let cur = "";
  for (const line of out.split("\n")) {
    if (line.startsWith(`${MARK} `)) {
      cur = line.slice(MARK.length + 1);
      sec[cur] = [];
    } else sec[cur]?.push(line);
  }
  const counts = new Map<string, number>();
  for (const l of sec.counts ?? []) {
    const m = /^\s*(\d+) (.+)$/.exec(l);
    if (m) counts.set(m[2]!, Number(m[1]));
  }
  return {
    files: parseFiles((sec.files ?? []).join("\n")),
    running: (sec.running ?? []).some((l) => l.trim() === "yes"),
    counts,
    addresses: parseIpAddr((sec.addresses ?? []).join("\n")),
  };
}
