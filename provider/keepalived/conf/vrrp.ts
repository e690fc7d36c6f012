/**
 * `vrrp_instance` blocks onto VrrpInstance inputs, and the `global_defs` statements pulumi-lvs
 * writes for them (the notify FIFO, `lvs_sync_daemon`). The authentication password goes to the
 * secrets, not to the inputs.
 */
import { canonicalAddress, isAddress } from "../../net/address";
import { VRRP_FIFO, VRRP_FIFO_SCRIPT } from "../render";
import {
  blockField,
  eachField,
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

interface VrrpAcc {
  inputs: Record<string, unknown>;
  name: string;
  vips: Array<{ address: string; prefix?: number; interface?: string }>;
  peers: string[];
}

/** One `virtual_ipaddress` line: `<address>[/<prefix>] [dev <interface>]`. */
const vip: FieldHandler<VrrpAcc> = (n, a) => {
  const [address, prefixText] = n.keyword.split("/");
  const prefix = intOf(prefixText);
  if (address === undefined || !isAddress(address) || (prefixText !== undefined && prefix === undefined))
    return "expects <address>[/<prefix>]";
  const rest = n.args;
  if (rest.length !== 0 && !(rest.length === 2 && rest[0] === "dev"))
    return "pulumi-lvs's VIPs take an address, a prefix and a device only (no brd, scope, label…)";
  a.vips.push({
    address: canonicalAddress(address),
    ...(prefix !== undefined ? { prefix } : {}),
    ...(rest[1] !== undefined ? { interface: rest[1] } : {}),
  });
  return undefined;
};

const peer: FieldHandler<VrrpAcc> = (n, a) => {
  if (!isAddress(n.keyword) || n.args.length > 0) return "expects an address (pulumi-lvs has no per-peer settings)";
  a.peers.push(canonicalAddress(n.keyword));
  return undefined;
};

const AUTH: Record<string, FieldHandler<VrrpAcc>> = {
  auth_type: (n) =>
    n.args[0]?.toUpperCase() === "PASS" ? undefined : "pulumi-lvs has simple password authentication (PASS) only",
  auth_pass: (n, a, ctx) => {
    // never a reason: a listed statement would print its words, and these are the password
    if (n.args.length !== 1) {
      ctx.warnings.push({ file: n.file, line: n.line, what: "auth_pass", why: "expects one password: not read" });
      return undefined;
    }
    ctx.secrets.push({ file: n.file, line: n.line, instance: a.name, field: "authPass", value: n.args[0]! });
    return undefined;
  },
};

const text =
  (field: string): FieldHandler<VrrpAcc> =>
  (n, a) => {
    if (n.args.length !== 1) return "expects one word";
    a.inputs[field] = n.args[0];
    return undefined;
  };

const VRRP_FIELDS: Record<string, FieldHandler<VrrpAcc>> = {
  state: (n, a) => {
    if (n.args.length !== 1 || !["MASTER", "BACKUP"].includes(n.args[0]!)) return "expects MASTER or BACKUP";
    // BACKUP is pulumi-lvs's default: written only when it is MASTER
    if (n.args[0] === "MASTER") a.inputs.initialState = "MASTER";
    return undefined;
  },
  interface: text("interface"),
  virtual_router_id: intField((a, v) => (a.inputs.virtualRouterId = v)),
  priority: intField((a, v) => (a.inputs.priority = v)),
  advert_int: (n, a) => {
    a.inputs.advertInterval = Number(n.args[0]);
    return n.args.length === 1 && Number.isFinite(a.inputs.advertInterval) ? undefined : "expects seconds";
  },
  nopreempt: flagField((a) => (a.inputs.preempt = false)),
  preempt_delay: intField((a, v) => (a.inputs.preemptDelay = v)),
  unicast_src_ip: (n, a) => {
    if (n.args.length !== 1 || !isAddress(n.args[0]!)) return "expects an address";
    a.inputs.unicastSourceAddress = canonicalAddress(n.args[0]!);
    return undefined;
  },
  unicast_peer: eachField(peer),
  virtual_ipaddress: eachField(vip),
  authentication: blockField(AUTH, "authentication"),
  track_script: noField("pulumi-lvs has no tracked scripts: VRRP priority is fixed"),
  track_interface: noField("pulumi-lvs has no tracked interfaces: VRRP priority is fixed"),
  track_file: noField("pulumi-lvs has no tracked files: VRRP priority is fixed"),
  track_process: noField("pulumi-lvs has no tracked processes: VRRP priority is fixed"),
  ...Object.fromEntries(
    ["notify", "notify_master", "notify_backup", "notify_fault", "notify_stop"].map((k) => [
      k,
      noField(
        "pulumi-lvs runs its own notify FIFO reader (it records the role); other notify scripts are not carried over",
      ),
    ]),
  ),
};

/** A `vrrp_instance` block as VrrpInstance inputs, or undefined when it has no name (listed). */
export function mapVrrpInstance(ctx: MapContext, n: ConfNode): ReadBlock | undefined {
  const name = n.args[0];
  if (name === undefined || n.args.length !== 1) {
    unsupported(ctx, n, "expects vrrp_instance <name>");
    return undefined;
  }
  used(ctx, n);
  const acc: VrrpAcc = { inputs: { name }, name, vips: [], peers: [] };
  mapBlock(ctx, n.block, VRRP_FIELDS, acc, "vrrp_instance");
  acc.inputs.vips = acc.vips
    .map((v) => (v.interface === acc.inputs.interface ? { ...v, interface: undefined } : v))
    .map(stripUndefined);
  if (acc.peers.length) acc.inputs.unicastPeers = acc.peers;
  const addresses = acc.vips.map((v) => v.address);
  return { inputs: acc.inputs, addresses };
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** `lvs_sync_daemon <interface> <instance> [id <n>] [port <p>] [group <address>]` as a VrrpInstance's `sync`. */
function syncOf(n: ConfNode): { instance: string; sync: Record<string, unknown> } | string {
  const [iface, instance, ...rest] = n.args;
  if (iface === undefined || instance === undefined)
    return "expects <interface> <vrrp_instance> [id n] [port p] [group address]";
  const sync: Record<string, unknown> = { interface: iface, syncId: 0 };
  const KEYS: Record<string, (v: string) => unknown> = { id: Number, port: Number, group: (v) => v };
  const NAMES: Record<string, string> = { id: "syncId", port: "port", group: "group" };
  for (let i = 0; i < rest.length; i += 2) {
    const k = rest[i]!;
    const v = rest[i + 1];
    if (!Object.hasOwn(KEYS, k) || v === undefined)
      return `pulumi-lvs's sync daemon takes id, port and group only (not ${k})`;
    sync[NAMES[k]!] = KEYS[k]!(v);
  }
  return { instance, sync };
}

/**
 * `global_defs`: the notify FIFO pulumi-lvs writes is its own; `lvs_sync_daemon` becomes the named
 * instance's `sync`; every other global setting is listed (pulumi-lvs does not manage them).
 */
export function mapGlobalDefs(ctx: MapContext, n: ConfNode, instances: Map<string, ReadBlock>): void {
  used(ctx, n);
  const own: Record<string, string> = { vrrp_notify_fifo: VRRP_FIFO, vrrp_notify_fifo_script: VRRP_FIFO_SCRIPT };
  for (const s of n.block ?? []) {
    if (Object.hasOwn(own, s.keyword) && s.args.length === 1 && s.args[0] === own[s.keyword]) {
      used(ctx, s);
      continue;
    }
    if (s.keyword !== "lvs_sync_daemon") {
      unsupported(ctx, s, "a global setting: pulumi-lvs does not manage global_defs");
      continue;
    }
    const sync = syncOf(s);
    const target = typeof sync === "string" ? undefined : instances.get(sync.instance);
    if (typeof sync === "string") unsupported(ctx, s, sync);
    else if (!target)
      unsupported(ctx, s, `names vrrp_instance ${sync.instance}, which this configuration does not have`);
    else {
      target.inputs.sync = sync.sync;
      used(ctx, s);
    }
  }
}
