/**
 * keepalived on a director, through a Transport: writing and removing the files pulumi-lvs owns,
 * reloading (never restarting: a restart drops every IPVS rule keepalived made, and the VIPs), and
 * reading the files back with keepalived's state, without side effects.
 */
import { CommandError, shellQuote, type Transport } from "../transport/transport";
import { CONF_DIR, INCLUDE_LINE, MAIN_CONF, MAIN_CONF_TEXT, OWN_DIR } from "./render";

const PID_FILE = "/run/keepalived.pid";

export interface OwnedFile {
  path: string;
  content: string;
  /** Octal mode; default 0644. */
  mode?: string;
}

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

function writeScript(f: OwnedFile): string {
  const p = shellQuote(f.path);
  const dir = shellQuote(f.path.slice(0, f.path.lastIndexOf("/")));
  return `mkdir -p ${dir} && printf %s ${shellQuote(f.content)} > ${p}.pulumi-lvs.tmp && chmod ${f.mode ?? "0644"} ${p}.pulumi-lvs.tmp && mv ${p}.pulumi-lvs.tmp ${p}`;
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
  files: OwnedFile[],
  remove: string[] = [],
  dirs: { make?: string[]; removeIfEmpty?: string[] } = {},
): Promise<void> {
  const script = [
    prepareScript(),
    ...(dirs.make ?? []).map((d) => `mkdir -p ${shellQuote(d)}`),
    ...files.map(writeScript),
    ...remove.map((p) => `rm -f ${shellQuote(p)}`),
    ...(dirs.removeIfEmpty ?? []).map((d) => `rmdir ${shellQuote(d)} 2>/dev/null || true`),
  ].join("\n");
  const r = await t.exclusive(() => t.run(script));
  if (r.code !== 0) throw explain(t, `write ${files.map((f) => f.path).join(", ")}`, r);
  await reload(t);
}

export interface Probe {
  /** Content by path; undefined when the file is missing. */
  files: Map<string, string | undefined>;
  /** Whether keepalived runs (its pid file names a live process). */
  running: boolean;
  /** How many files each glob matches. */
  counts: Map<string, number>;
  /** Addresses on the host, as `address/prefix dev`. */
  addresses: Set<string>;
}

const MARK = "@@pulumi-lvs@@";

/** One round trip, reading only: files, keepalived's liveness, glob counts and addresses. */
export async function probe(t: Transport, paths: string[], globs: string[] = []): Promise<Probe> {
  const script = [
    ...paths.map((p) => {
      const q = shellQuote(p);
      return `if [ -f ${q} ]; then echo '${MARK} file ${p}'; cat ${q}; echo; echo '${MARK} end'; else echo '${MARK} missing ${p}'; fi`;
    }),
    ...globs.map((g) => `echo "${MARK} count ${g} $(ls ${g} 2>/dev/null | wc -l)"`),
    `pid=$(cat ${PID_FILE} 2>/dev/null); if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then echo '${MARK} running'; fi`,
    `echo '${MARK} addresses'; ip -o addr show 2>/dev/null | awk '{print $4, $2}'`,
  ].join("\n");
  const r = await t.run(script);
  if (r.code !== 0) throw new CommandError(t.label, "read keepalived files", r);
  return parseProbe(r.stdout);
}

/** Parses the output of {@link probe} (exported for tests). */
export function parseProbe(out: string): Probe {
  const p: Probe = { files: new Map(), running: false, counts: new Map(), addresses: new Set() };
  const lines = out.split("\n");
  let file: string | undefined;
  let body: string[] = [];
  let inAddresses = false;
  for (const line of lines) {
    if (file !== undefined) {
      if (line === `${MARK} end`) {
        // cat's output, then echo's newline: joining the lines gives the content back exactly
        p.files.set(file, body.join("\n"));
        file = undefined;
        body = [];
      } else body.push(line);
      continue;
    }
    if (line.startsWith(`${MARK} file `)) {
      file = line.slice(`${MARK} file `.length);
      inAddresses = false;
    } else if (line.startsWith(`${MARK} missing `)) p.files.set(line.slice(`${MARK} missing `.length), undefined);
    else if (line.startsWith(`${MARK} count `)) {
      const rest = line.slice(`${MARK} count `.length);
      const i = rest.lastIndexOf(" ");
      p.counts.set(rest.slice(0, i), Number(rest.slice(i + 1)));
    } else if (line === `${MARK} running`) p.running = true;
    else if (line === `${MARK} addresses`) inAddresses = true;
    else if (inAddresses && line.trim()) {
      const [addr, dev] = line.trim().split(/\s+/);
      if (addr && dev) p.addresses.add(`${addr} ${dev.replace(/@.*$/, "")}`);
    }
  }
  return p;
}
