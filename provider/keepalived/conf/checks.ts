/**
 * keepalived checkers (TCP_CHECK, HTTP_GET, MISC_CHECK) onto pulumi-lvs's healthCheck shapes. Timing
 * is inherited as keepalived does it: checker, then real_server, then virtual_server, then
 * keepalived's defaults (delay_loop 60 s, connect_timeout 5 s, retry 1, delay_before_retry 1 s;
 * keepalived/include/check_data.h KEEPALIVED_DEFAULT_DELAY, check/check_api.c). Each is written out,
 * since pulumi-lvs's own defaults differ.
 */
import { type FieldHandler, intField, type MapContext, mapBlock, noField, unsupported, used } from "./context";
import type { ConfNode } from "./parse";

/** Check timing as keepalived's keywords set it, at any level. */
export interface Timing {
  interval?: number;
  timeout?: number;
  retries?: number;
  retryDelay?: number;
}

/** The handlers of the timing keywords, shared by virtual_server, real_server and the checkers. */
export const TIMING: Record<string, FieldHandler<{ timing: Timing }>> = {
  delay_loop: intField((a, v) => (a.timing.interval = v)),
  connect_timeout: intField((a, v) => (a.timing.timeout = v)),
  retry: intField((a, v) => (a.timing.retries = v)),
  nb_get_retry: intField((a, v) => (a.timing.retries = v)),
  delay_before_retry: intField((a, v) => (a.timing.retryDelay = v)),
};

const KEEPALIVED_TIMING = { interval: 60, timeout: 5, retries: 1, retryDelay: 1 } as const;

interface CheckAcc {
  timing: Timing;
  port?: number;
  path?: string;
  status?: number;
  command?: string;
  miscTimeout?: number;
  urls: number;
  /** The virtual server's delay_loop: keepalived's misc_timeout default (check/check_misc.c). */
  vsInterval: number;
}

const URL: Record<string, FieldHandler<CheckAcc>> = {
  path: (n, a) => {
    if (n.args.length !== 1) return "expects one path";
    a.path = n.args[0];
    return undefined;
  },
  status_code: intField((a, v) => (a.status = v)),
  digest: noField("pulumi-lvs's HTTP check compares the status code only, not a digest of the page"),
  regex: noField("pulumi-lvs's HTTP check compares the status code only, not the page's text"),
  regex_no_match: noField("pulumi-lvs's HTTP check compares the status code only, not the page's text"),
};

const COMMON: Record<string, FieldHandler<CheckAcc>> = {
  ...TIMING,
  connect_port: intField((a, v) => (a.port = v)),
};

const HTTP: Record<string, FieldHandler<CheckAcc>> = {
  ...COMMON,
  url: (n, a, ctx) => {
    if (++a.urls > 1) return "pulumi-lvs's HTTP check asks for one URL";
    mapBlock(ctx, n.block, URL, a, "url");
    return undefined;
  },
};

const MISC: Record<string, FieldHandler<CheckAcc>> = {
  delay_loop: TIMING.delay_loop!,
  misc_path: (n, a) => {
    if (n.args.length !== 1) return "expects one command line (in quotes)";
    a.command = n.args[0];
    return undefined;
  },
  misc_timeout: intField((a, v) => (a.miscTimeout = v)),
  misc_dynamic: noField("pulumi-lvs's script check is up or down; it does not set weights from the exit code"),
};

/** The checkers pulumi-lvs has, by keepalived's name: their keywords and how the result is shaped. */
const CHECKERS: Record<
  string,
  {
    fields: Record<string, FieldHandler<CheckAcc>>;
    shape: (a: CheckAcc, t: Required<Timing>) => Record<string, unknown>;
  }
> = {
  TCP_CHECK: { fields: COMMON, shape: (a, t) => ({ type: "tcp", ...portOf(a), ...t }) },
  HTTP_GET: {
    fields: HTTP,
    shape: (a, t) => ({
      type: "http",
      ...portOf(a),
      ...(a.path !== undefined ? { path: a.path } : {}),
      ...(a.status !== undefined ? { status: a.status } : {}),
      ...t,
    }),
  },
  MISC_CHECK: {
    fields: MISC,
    shape: (a, t) => ({
      type: "script",
      command: a.command,
      interval: t.interval,
      timeout: a.miscTimeout ?? a.vsInterval,
    }),
  },
};

/** The checkers keepalived has and pulumi-lvs does not, and why. */
const OTHER_CHECKERS: Record<string, string> = {
  SSL_GET: "pulumi-lvs has no HTTPS check (tcp, http or script)",
  SMTP_CHECK: "pulumi-lvs has no SMTP check (tcp, http or script)",
  DNS_CHECK: "pulumi-lvs has no DNS check (tcp, http or script)",
  UDP_CHECK: "pulumi-lvs has no UDP check (tcp, http or script)",
  PING_CHECK: "pulumi-lvs has no ICMP check (tcp, http or script)",
  FILE_CHECK: "pulumi-lvs has no file check (tcp, http or script)",
  BFD_CHECK: "pulumi-lvs has no BFD check (tcp, http or script)",
};

function portOf(a: CheckAcc): { port?: number } {
  return a.port !== undefined ? { port: a.port } : {};
}

/** keepalived's checker keywords (those pulumi-lvs maps and the others). */
export const CHECKER_KEYWORDS: readonly string[] = [...Object.keys(CHECKERS), ...Object.keys(OTHER_CHECKERS)];

/**
 * A checker block as a healthCheck input, timing inherited from `outer` (real server over virtual
 * server); undefined (and the block listed) when pulumi-lvs has no such check.
 */
export function mapChecker(
  ctx: MapContext,
  n: ConfNode,
  outer: Timing,
  vsInterval: number = KEEPALIVED_TIMING.interval,
): Record<string, unknown> | undefined {
  const checker = CHECKERS[n.keyword];
  if (!checker) {
    unsupported(ctx, n, OTHER_CHECKERS[n.keyword] ?? "not a checker");
    return undefined;
  }
  used(ctx, n);
  const acc: CheckAcc = { timing: {}, urls: 0, vsInterval };
  mapBlock(ctx, n.block, checker.fields, acc, n.keyword);
  if (n.keyword === "HTTP_GET" && acc.status === undefined)
    ctx.warnings.push({
      file: n.file,
      line: n.line,
      what: "HTTP_GET without status_code",
      why: "keepalived accepts any status from 200 to 299 there; pulumi-lvs's check wants one code: 200",
    });
  const timing = { ...KEEPALIVED_TIMING, ...outer, ...acc.timing };
  return checker.shape(acc, timing);
}
