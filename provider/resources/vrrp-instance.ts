/**
 * VrrpInstance: one keepalived VRRP instance on one director. A director pair is two of them with
 * the same name, virtual router id, VIPs and password, and different priorities.
 *
 * Files (owned): /etc/keepalived/conf.d/pulumi-lvs-vrrp-<name>.conf, and the shared reader of
 * keepalived's notify FIFO, which records the instance's role (MASTER, BACKUP, FAULT) for read. keepalived is reloaded, never
 * restarted. Drift: the file differs or is missing, keepalived is not running or (under systemd)
 * not enabled, or the director is MASTER and lacks one of the VIPs. `pulumi up` rewrites the file, reloads or starts keepalived,
 * and puts back missing VIPs on the MASTER (keepalived does not re-add them on a reload).
 */
import type * as pulumi from "@pulumi/pulumi";
import {
  addAddressCommand,
  announceCommand,
  announceFunction,
  hasAddress,
  type InterfaceAddress,
} from "../host/addresses";
import type { PersistedFile } from "../host/persist";
import type { KeepalivedConf, ReadObject, ReadVrrpInstanceInputs } from "../keepalived/conf";
import { apply, readKeepalivedHost } from "../keepalived/daemon";
import { fileState } from "../keepalived/engine";
import { type HandOver, handOver } from "../keepalived/hand-over";
import {
  renderVrrpInstance,
  STATE_DIR,
  VRRP_FIFO_SCRIPT,
  vipsOf,
  vrrpFifoScriptText,
  vrrpFileOf,
  vrrpStateFileOf,
} from "../keepalived/render";
import { hostIdOf } from "../model/connection";
import { type VrrpInstanceInputs, vrrpInstanceInputs } from "../model/keepalived";
import { validate } from "../model/validate";
import { transportFor } from "../transport/pool";
import { CommandError, shellQuote } from "../transport/transport";
import { checkClaim, checkInputs } from "./check";
import { diffResource, withObservedDrift } from "./diff";
import { diffFields } from "./fields";
import { addressKey } from "./host-plan";

const { identity: IDENTITY, config: CONFIG } = diffFields("VrrpInstance");

/** What read found; anything but {@link HEALTHY} is drift. */
export interface Observed {
  /** The instance's file: as rendered ("ok"), edited ("changed") or gone ("missing"). */
  config: "ok" | "changed" | "missing";
  /** keepalived is running. */
  running: boolean;
  /** keepalived's unit is enabled (always true without systemd): the instance survives a reboot. */
  enabled: boolean;
  /** VIPs the director lacks while it is MASTER. */
  missingVips: string[];
}
const HEALTHY: Observed = { config: "ok", running: true, enabled: true, missingVips: [] };

type Props = VrrpInstanceInputs & {
  __provider?: string;
  observed?: Observed;
  /** The VRRP role keepalived last reported: MASTER, BACKUP, FAULT, or "unknown". */
  role?: string;
};

function filesOf(v: VrrpInstanceInputs): PersistedFile[] {
  return [
    { path: VRRP_FIFO_SCRIPT, content: vrrpFifoScriptText(), mode: "0755" },
    { path: vrrpFileOf(v.name), content: renderVrrpInstance(v) },
  ];
}

export function vrrpInstanceId(v: VrrpInstanceInputs): string {
  return `${hostIdOf(v.connection)}/vrrp/${v.name}`;
}

async function observe(v: VrrpInstanceInputs): Promise<{ observed: Observed; role: string }> {
  const t = transportFor(v.connection);
  const files = filesOf(v);
  const p = await readKeepalivedHost(t, [...files.map((f) => f.path), vrrpStateFileOf(v.name)]);
  const states = files.map((f) => fileState(p.files.get(f.path), f.content));
  const config = states.includes("missing") ? "missing" : states.includes("changed") ? "changed" : "ok";
  const role = p.running ? p.files.get(vrrpStateFileOf(v.name))?.trim() || "unknown" : "stopped";
  const missingVips = role === "MASTER" ? vipsOf(v).filter((a) => !hasAddress(p.addresses, a)) : [];
  const observed: Observed = {
    config,
    running: p.running,
    enabled: p.enabled !== false,
    missingVips: missingVips.map(addressKey),
  };
  return { observed, role };
}

/** keepalived adds VIPs on becoming MASTER: put back the ones it lacks now (removed by hand). */
async function restoreVips(v: VrrpInstanceInputs, missing: string[]): Promise<void> {
  const want = vipsOf(v).filter((a) => missing.includes(addressKey(a)));
  if (want.length === 0) return;
  const t = transportFor(v.connection);
  const { script, command } = restoreVipsScript(want);
  const r = await t.exclusive(() => t.run(script));
  if (r.code !== 0)
    throw new CommandError(t.label, command, r, "check the interface exists, then run `pulumi up` again");
}

/**
 * Adds the VIPs and announces each, stopping at the first that cannot be added: the script, and
 * its commands without the function it defines first (for messages). @internal
 */
export function restoreVipsScript(vips: InterfaceAddress[]): { script: string; command: string } {
  const command = vips.flatMap((a) => [addAddressCommand(a), `${announceCommand(a)} >/dev/null`]).join(" && ");
  return { script: `${announceFunction()}\n${command}`, command };
}

/** A vrrp_instance block of the site's keepalived configuration, with its password, as this director's instance. */
function siteInstance(
  o: ReadObject<ReadVrrpInstanceInputs>,
  conf: KeepalivedConf,
  v: VrrpInstanceInputs,
): VrrpInstanceInputs | undefined {
  const pass = conf.secrets.find((s) => s.instance === o.inputs.name && s.field === "authPass")?.value;
  return validate(vrrpInstanceInputs, {
    ...o.inputs,
    connection: v.connection,
    ...(pass !== undefined ? { authPass: pass } : {}),
  }).value;
}

/**
 * `adopt: "exact"`: the site's own vrrp_instance block of this name, to move into pulumi-lvs's file
 * (keepalived/hand-over.ts); keepalived keeps the instance's role and VIPs across the reload.
 * @internal exported for tests
 */
export function instanceHandOver(v: VrrpInstanceInputs): HandOver<ReadVrrpInstanceInputs> {
  return {
    what: `vrrp_instance ${v.name}`,
    matches: (o) => o.inputs.name === v.name,
    render: (o, conf) => {
      const site = siteInstance(o, conf, v);
      return site ? filesOf(site) : [];
    },
    declared: filesOf(v),
    secrets: v.authPass !== undefined ? [v.authPass] : [],
    nameOf: (path) => (path === VRRP_FIFO_SCRIPT ? "the VRRP notify script" : `vrrp_instance ${v.name}`),
    blocks: (c) => c.vrrpInstances,
  };
}

/**
 * After a hand-over: the instance kept its role through the reload, so keepalived reports none
 * (it reports transitions). Until its next one, the role is what the director shows: MASTER when it
 * holds every VIP of the instance, else BACKUP. Written only where keepalived has reported nothing.
 */
async function recordHeldRole(v: VrrpInstanceInputs): Promise<void> {
  const t = transportFor(v.connection);
  const p = await readKeepalivedHost(t, []);
  const role = vipsOf(v).every((a) => hasAddress(p.addresses, a)) ? "MASTER" : "BACKUP";
  const file = vrrpStateFileOf(v.name);
  const r = await t.exclusive(() =>
    t.run(`[ -e ${shellQuote(file)} ] || { mkdir -p ${shellQuote(STATE_DIR)} && echo ${role} > ${shellQuote(file)}; }`),
  );
  if (r.code !== 0) throw new CommandError(t.label, `record the role of vrrp_instance ${v.name}`, r);
}

/** Waits (a few advertisement intervals at most) for keepalived to report a role. */
async function settle(v: VrrpInstanceInputs): Promise<{ observed: Observed; role: string }> {
  const deadline = Date.now() + (3 * v.advertInterval + 2) * 1000;
  let o = await observe(v);
  while ((o.role === "unknown" || o.role === "stopped") && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    o = await observe(v);
  }
  return o;
}

export const vrrpInstance: pulumi.dynamic.ResourceProvider = {
  async check(_olds, news) {
    return checkClaim<VrrpInstanceInputs>(checkInputs(vrrpInstanceInputs, news), news, (v) => ({
      id: vrrpInstanceId(v),
      owner: v.owner,
      property: "name",
      kind: "VRRP instance",
      text: v.name,
    }));
  },

  async diff(_id, olds: Props, news: Props) {
    // state written before `enabled` was observed reads as enabled: upgrading alone shows no drift
    const observed = olds.observed && { ...olds.observed, enabled: olds.observed.enabled ?? true };
    return withObservedDrift(diffResource(olds, news, CONFIG, IDENTITY), observed, HEALTHY);
  },

  async create(inputs: Props) {
    if (inputs.adopt === "exact") {
      await handOver(transportFor(inputs.connection), instanceHandOver(inputs));
      await recordHeldRole(inputs);
    } else await apply(transportFor(inputs.connection), filesOf(inputs));
    const { role } = await settle(inputs);
    return { id: vrrpInstanceId(inputs), outs: { ...inputs, observed: HEALTHY, role } };
  },

  async read(id, props: Props) {
    const { observed, role } = await observe(props);
    return { id, props: { ...props, observed, role } };
  },

  async update(_id, olds: Props, news: Props) {
    const t = transportFor(news.connection);
    await apply(t, filesOf(news));
    if (olds.observed?.missingVips.length) {
      const { observed } = await observe(news);
      await restoreVips(news, observed.missingVips);
    }
    const { role } = await settle(news);
    return { outs: { ...news, observed: HEALTHY, role } };
  },

  async delete(_id, props: Props) {
    const t = transportFor(props.connection);
    // the instance goes with its file: keepalived removes its VIPs on the reload (the FIFO reader
    // script is shared with the director's other instances, and stays)
    await apply(t, [], [vrrpFileOf(props.name), vrrpStateFileOf(props.name)]);
  },
};
