/**
 * `virtual_server` blocks (and their `real_server` blocks) onto VirtualService inputs with engine
 * keepalived and inline `realServers`, in pulumi-lvs's names.
 */
import { FORWARDING_METHODS, SCHEDULER_FLAGS, TUNNEL_CHECKSUMS, TUNNEL_TYPES } from "../../ipvs/types";
import { canonicalAddress, formatHostPort, isAddress } from "../../net/address";
import { RS_NOTIFY } from "../render";
import { CHECKER_KEYWORDS, mapChecker, TIMING, type Timing } from "./checks";
import {
  type FieldHandler,
  flagField,
  intField,
  intOf,
  type MapContext,
  mapBlock,
  noField,
  type ReadBlock,
  unsupported,
  used,
} from "./context";
import type { ConfNode } from "./parse";

interface VsAcc {
  inputs: Record<string, unknown>;
  timing: Timing;
  forwarding?: string;
  realServers: ConfNode[];
  flags: string[];
}

/** `lb_kind` / `lvs_method` in any case: NAT, DR, TUN. */
function forwardingOf(word: string | undefined): string | undefined {
  const f = word?.toLowerCase();
  return (FORWARDING_METHODS as readonly string[]).includes(f ?? "") ? f : undefined;
}

const forwarding: FieldHandler<{ forwarding?: string }> = (n, a) => {
  a.forwarding = forwardingOf(n.args[0]);
  return a.forwarding === undefined || n.args.length !== 1 ? "expects NAT, DR or TUN" : undefined;
};

const scheduler: FieldHandler<VsAcc> = (n, a) => {
  if (n.args.length !== 1) return "expects one scheduler";
  a.inputs.scheduler = n.args[0]!.toLowerCase();
  return undefined;
};

const schedulerFlag: FieldHandler<VsAcc> = (n, a) => {
  if (n.args.length > 0) return "expects no value";
  a.flags.push(n.keyword);
  return undefined;
};

const VS_FIELDS: Record<string, FieldHandler<VsAcc>> = {
  ...TIMING,
  lb_algo: scheduler,
  lvs_sched: scheduler,
  lb_kind: forwarding,
  lvs_method: forwarding,
  ...Object.fromEntries(SCHEDULER_FLAGS.map((f) => [f, schedulerFlag])),
  hashed: noField(
    "the hashed flag has no field in pulumi-lvs (scheduler flags: sh-port, sh-fallback, mh-port, mh-fallback)",
  ),
  protocol: (n, a) => {
    const p = n.args[0]?.toLowerCase();
    if (p === undefined || n.args.length !== 1) return "expects TCP, UDP or SCTP";
    if (a.inputs.fwmark !== undefined)
      return "a fwmark service has no protocol in IPVS (keepalived uses it for checks only)";
    a.inputs.protocol = p;
    return undefined;
  },
  persistence_timeout: intField((a, v) => (a.inputs.persistence = { ...(a.inputs.persistence as object), timeout: v })),
  persistence_granularity: (n, a) => {
    if (n.args.length !== 1) return "expects one netmask";
    const m = n.args[0]!;
    a.inputs.persistence = { ...(a.inputs.persistence as object), netmask: /^\d+$/.test(m) ? Number(m) : m };
    return undefined;
  },
  ops: flagField((a) => (a.inputs.onePacket = true)),
  ip_family: (n, a) => {
    const fam = { inet: "ipv4", inet6: "ipv6" }[n.args[0] ?? ""];
    if (fam === undefined) return "expects inet or inet6";
    a.inputs.family = fam;
    return undefined;
  },
  sorry_server: (n, a) => {
    const [address, port] = n.args;
    if (address === undefined || !isAddress(address) || n.args.length > 2) return "expects an address and a port";
    const p = intOf(port);
    a.inputs.sorryServer = { address: canonicalAddress(address), ...(p ? { port: p } : {}) };
    return undefined;
  },
  real_server: (n, a) => {
    a.realServers.push(n);
    return undefined;
  },
};

/** The head of a `virtual_server`: `<address> <port>` or `fwmark <mark>`; a string says why not. */
function headOf(n: ConfNode): Record<string, unknown> | string {
  const [a, b] = n.args;
  if (n.args.length !== 2) return "expects <address> <port> or fwmark <mark>";
  if (a === "group")
    return "virtual_server_group has no equivalent in pulumi-lvs: one VirtualService per address and port";
  if (a === "fwmark") {
    const mark = intOf(b);
    return mark === undefined ? "expects fwmark <mark>" : { fwmark: mark };
  }
  const port = intOf(b);
  if (a === undefined || !isAddress(a) || port === undefined) return "expects <address> <port> or fwmark <mark>";
  return { address: canonicalAddress(a), port };
}

/**
 * A `virtual_server` block as VirtualService inputs (engine keepalived), or undefined when its head
 * cannot be (the block is listed). Statements it cannot take over are listed.
 */
export function mapVirtualServer(ctx: MapContext, n: ConfNode): ReadBlock | undefined {
  const head = headOf(n);
  if (typeof head === "string") {
    unsupported(ctx, n, head);
    return undefined;
  }
  used(ctx, n);
  const acc: VsAcc = { inputs: { ...head, engine: "keepalived" }, timing: {}, realServers: [], flags: [] };
  mapBlock(ctx, n.block, VS_FIELDS, acc, "virtual_server");
  if (acc.flags.length) acc.inputs.schedulerFlags = acc.flags;
  if (head.address !== undefined && acc.inputs.protocol === undefined) {
    // check/check_data.c: "no protocol set - defaulting to UDP"
    acc.inputs.protocol = "udp";
    ctx.warnings.push({
      file: n.file,
      line: n.line,
      what: "virtual_server without protocol",
      why: "keepalived makes it UDP",
    });
  }
  if (acc.inputs.persistence && (acc.inputs.persistence as { timeout?: number }).timeout === undefined) {
    delete acc.inputs.persistence;
    ctx.warnings.push({
      file: n.file,
      line: n.line,
      what: "persistence_granularity",
      why: "without persistence_timeout the service is not persistent: ignored, as keepalived does",
    });
  }
  const addresses = [head.address, (acc.inputs.sorryServer as { address?: string })?.address];
  const realServers: Record<string, unknown> = {};
  for (const rs of acc.realServers) {
    const r = mapRealServer(ctx, rs, acc, head.port as number | undefined);
    if (!r) continue;
    realServers[r.key] = r.settings;
    addresses.push(r.address);
  }
  if (acc.realServers.length) acc.inputs.realServers = realServers;
  return { inputs: acc.inputs, addresses: addresses.filter((x): x is string => x !== undefined) };
}

interface RsAcc {
  settings: Record<string, unknown>;
  timing: Timing;
  forwarding?: string;
  tunnel: Record<string, unknown>;
  checkers: ConfNode[];
}

const ownNotify: FieldHandler<RsAcc> = (n) =>
  n.args[0]?.startsWith(`${RS_NOTIFY} `) ? undefined : "pulumi-lvs runs its own notify script (it records the verdict)";

const RS_FIELDS: Record<string, FieldHandler<RsAcc>> = {
  ...TIMING,
  weight: intField((a, v) => (a.settings.weight = v)),
  uthreshold: intField((a, v) => (a.settings.upperThreshold = v)),
  lthreshold: intField((a, v) => (a.settings.lowerThreshold = v)),
  inhibit_on_failure: flagField((a) => (a.settings.inhibitOnFailure = true)),
  lvs_method: forwarding,
  lb_kind: forwarding,
  tun_type: (n, a) => {
    if (!(TUNNEL_TYPES as readonly string[]).includes(n.args[0] ?? "")) return `expects ${TUNNEL_TYPES.join(", ")}`;
    a.tunnel.type = n.args[0];
    return undefined;
  },
  tun_port: intField((a, v) => (a.tunnel.port = v)),
  ...Object.fromEntries(TUNNEL_CHECKSUMS.map((c) => [`tun_${c}`, flagField<RsAcc>((a) => (a.tunnel.checksum = c))])),
  notify_up: ownNotify,
  notify_down: ownNotify,
};

/** A `real_server` block as an inline real server: its key in `realServers` and its settings. */
function mapRealServer(
  ctx: MapContext,
  n: ConfNode,
  vs: VsAcc,
  servicePort: number | undefined,
): { key: string; address: string; settings: Record<string, unknown> } | undefined {
  const [address, portText] = n.args;
  const port = intOf(portText);
  if (
    address === undefined ||
    !isAddress(address) ||
    n.args.length > 2 ||
    (portText !== undefined && port === undefined)
  ) {
    unsupported(ctx, n, "expects <address> [<port>]");
    return undefined;
  }
  used(ctx, n);
  const acc: RsAcc = { settings: {}, timing: {}, tunnel: {}, checkers: [] };
  const fields = { ...RS_FIELDS, ...Object.fromEntries(CHECKER_KEYWORDS.map((k) => [k, collectChecker])) };
  mapBlock(ctx, n.block, fields, acc, "real_server");
  // keepalived: the real server's method, else the virtual server's, else NAT (check/check_data.c)
  acc.settings.forwarding = acc.forwarding ?? vs.forwarding ?? "nat";
  if (Object.keys(acc.tunnel).length) acc.settings.tunnel = acc.tunnel;
  const [first, ...more] = acc.checkers;
  for (const c of more) unsupported(ctx, c, "pulumi-lvs runs one health check per real server");
  const check = first && mapChecker(ctx, first, { ...vs.timing, ...acc.timing }, vs.timing.interval);
  if (check) acc.settings.healthCheck = check;
  const a = canonicalAddress(address);
  const key = port === undefined || port === 0 || port === servicePort ? a : formatHostPort(a, port);
  return { key, address: a, settings: acc.settings };
}

const collectChecker: FieldHandler<RsAcc> = (n, a) => {
  a.checkers.push(n);
  return undefined;
};
