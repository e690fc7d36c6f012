/**
 * keepalived configuration, rendered from the model: pure functions (the state scripts are read
 * once from provider/scripts/).
 *
 * Layout on a director (every file but the main one is owned by one resource):
 * - `/etc/keepalived/keepalived.conf`: keepalived's own main file. Written only when absent
 *   ({@link MAIN_CONF_TEXT}); otherwise it must already `include` {@link CONF_DIR}.
 * - `/etc/keepalived/conf.d/pulumi-lvs-vrrp-<instance>.conf`: a VrrpInstance.
 * - `/etc/keepalived/conf.d/pulumi-lvs-vs-<service>.conf`: a VirtualService with engine keepalived;
 *   its `virtual_server` block includes the files of its real servers.
 * - `/etc/keepalived/pulumi-lvs/<service>/<real server>.conf`: a RealServer's `real_server` block.
 * - `/etc/keepalived/pulumi-lvs/*.sh`: state scripts; they write the VRRP roles (read in order
 *   from keepalived's notify FIFO: notify scripts may finish out of order, leaving BACKUP recorded
 *   on a MASTER) and the checkers' verdicts under {@link STATE_DIR}, which read() reports. They
 *   are shared by the resources of a director and stay when the last one goes.
 */

import { addressText, type InterfaceAddress } from "../host/addresses";
import {
  familyOfKey,
  isFwmarkKey,
  type RealServerConfig,
  type RealServerKey,
  realServerKeyText,
  type ServiceKey,
  serviceKeyText,
  type VirtualServiceConfig,
} from "../ipvs/types";
import type { HealthCheck, VrrpInstanceInputs } from "../model/keepalived";
import { fullHostNetmask, hostPrefix } from "../net/address";
import { scriptFile } from "../scripts";

export const MAIN_CONF = "/etc/keepalived/keepalived.conf";
export const CONF_DIR = "/etc/keepalived/conf.d";
export const INCLUDE_LINE = `include ${CONF_DIR}/*.conf`;
export const OWN_DIR = "/etc/keepalived/pulumi-lvs";
export const STATE_DIR = "/run/pulumi-lvs/keepalived";
export const RS_NOTIFY = `${OWN_DIR}/notify-real-server.sh`;

export const MAIN_CONF_TEXT = `# written by pulumi-lvs because there was none; keepalived reads pulumi-lvs's files from conf.d
global_defs {
}
${INCLUDE_LINE}
`;

const HEADER = "# managed by pulumi-lvs: changes made here are reported as drift and overwritten by `pulumi up`\n";

/** A file-name-safe form of a key text ("tcp/10.0.0.100:80" → "tcp_10.0.0.100_80"). */
export function slug(text: string): string {
  return text.replace(/[^A-Za-z0-9.-]+/g, "_").replace(/^_+|_+$/g, "");
}

export function vrrpFileOf(name: string): string {
  return `${CONF_DIR}/pulumi-lvs-vrrp-${name}.conf`;
}
/** The reader of keepalived's VRRP notify FIFO (shared by the VRRP instances of a director). */
export const VRRP_FIFO_SCRIPT = `${OWN_DIR}/vrrp-state.sh`;
export const VRRP_FIFO = "/run/keepalived-pulumi-lvs-vrrp.fifo";
export function vrrpStateFileOf(name: string): string {
  return `${STATE_DIR}/vrrp-${name}`;
}
export function serviceFileOf(key: ServiceKey): string {
  return `${CONF_DIR}/pulumi-lvs-vs-${slug(serviceKeyText(key))}.conf`;
}
export function realServerDirOf(key: ServiceKey): string {
  return `${OWN_DIR}/${slug(serviceKeyText(key))}`;
}
export function realServerFileOf(key: ServiceKey, rs: RealServerKey): string {
  return `${realServerDirOf(key)}/${slug(realServerKeyText(rs))}.conf`;
}
/** Where the notify script records a real server's checker verdict ("UP" or "DOWN"). */
export function realServerStateFileOf(key: ServiceKey, rs: RealServerKey): string {
  return `${STATE_DIR}/rs-${slug(serviceKeyText(key))}-${slug(realServerKeyText(rs))}`;
}

/** `# keepalived forwarding names` */
const LVS_METHOD = { nat: "NAT", dr: "DR", tun: "TUN" } as const;

function addrPort(address: string, port: number): string {
  return `${address} ${port}`;
}

/** The `virtual_server` block of a VirtualService with engine keepalived. */
export function renderVirtualServer(cfg: VirtualServiceConfig, sorry?: { address: string; port?: number }): string {
  const k = cfg.key;
  const head = isFwmarkKey(k) ? `virtual_server fwmark ${k.fwmark}` : `virtual_server ${addrPort(k.address, k.port)}`;
  const lines = [`${head} {`];
  if (isFwmarkKey(k) && k.family === "ipv6") lines.push("  ip_family inet6");
  lines.push(`  lvs_sched ${cfg.scheduler}`);
  for (const f of cfg.schedulerFlags) lines.push(`  ${f}`);
  if (!isFwmarkKey(k)) lines.push(`  protocol ${k.protocol.toUpperCase()}`);
  if (cfg.persistence) {
    lines.push(`  persistence_timeout ${cfg.persistence.timeout}`);
    if (cfg.persistence.netmask !== fullHostNetmask(familyOfKey(k)))
      lines.push(`  persistence_granularity ${cfg.persistence.netmask}`);
  }
  if (cfg.onePacket) lines.push("  ops");
  if (sorry) {
    const port = sorry.port ?? (isFwmarkKey(k) ? 0 : k.port);
    lines.push(`  sorry_server ${addrPort(sorry.address, port)}`);
  }
  lines.push(`  include ${realServerDirOf(k)}/*.conf`, "}");
  return `${HEADER}${lines.join("\n")}\n`;
}

export interface RealServerRendering {
  cfg: RealServerConfig;
  healthCheck?: HealthCheck;
  inhibitOnFailure?: boolean;
  /** The service, to name the verdict file the notify script writes. */
  service: ServiceKey;
}

/** The `real_server` block of a RealServer of a keepalived-engine service. */
export function renderRealServer(r: RealServerRendering): string {
  const c = r.cfg;
  const lines = [`real_server ${addrPort(c.address, c.port)} {`, `  weight ${c.weight}`];
  lines.push(`  lvs_method ${LVS_METHOD[c.forwarding]}`);
  if (c.forwarding === "tun" && c.tunnel) {
    lines.push(`  tun_type ${c.tunnel.type}`);
    if (c.tunnel.port !== undefined) lines.push(`  tun_port ${c.tunnel.port}`);
    if (c.tunnel.checksum) lines.push(`  tun_${c.tunnel.checksum}`);
  }
  if (c.upperThreshold > 0) lines.push(`  uthreshold ${c.upperThreshold}`);
  if (c.lowerThreshold > 0) lines.push(`  lthreshold ${c.lowerThreshold}`);
  if (r.inhibitOnFailure) lines.push("  inhibit_on_failure");
  if (r.healthCheck) {
    const state = realServerStateFileOf(r.service, c);
    lines.push(`  notify_up "${RS_NOTIFY} ${state} UP"`, `  notify_down "${RS_NOTIFY} ${state} DOWN"`);
    lines.push(...renderCheck(r.healthCheck).map((l) => `  ${l}`));
  }
  lines.push("}");
  return `${HEADER}${lines.join("\n")}\n`;
}

function renderCheck(h: HealthCheck): string[] {
  if (h.type === "script") {
    return [
      "MISC_CHECK {",
      `  misc_path "${h.command}"`,
      `  misc_timeout ${h.timeout}`,
      `  delay_loop ${h.interval}`,
      "}",
    ];
  }
  const common = [
    `  connect_timeout ${h.timeout}`,
    `  retry ${h.retries}`,
    `  delay_before_retry ${h.retryDelay}`,
    `  delay_loop ${h.interval}`,
    ...(h.port !== undefined ? [`  connect_port ${h.port}`] : []),
  ];
  if (h.type === "tcp") return ["TCP_CHECK {", ...common, "}"];
  return ["HTTP_GET {", "  url {", `    path ${h.path}`, `    status_code ${h.status}`, "  }", ...common, "}"];
}

/** The notify script of real servers: `notify-real-server.sh <state file> UP|DOWN`. */
export function rsNotifyText(): string {
  return scriptFile("notify-real-server.sh");
}

/**
 * keepalived runs it once with the FIFO's path, and writes a line per transition to the FIFO,
 * in order: `INSTANCE "<name>" <state> <priority>`.
 */
export function vrrpFifoScriptText(): string {
  return scriptFile("vrrp-state.sh", { STATE_DIR });
}

/** The `vrrp_instance` block (and the sync daemon's `global_defs`) of a VrrpInstance. */
export function renderVrrpInstance(v: VrrpInstanceInputs): string {
  const lines: string[] = [
    "global_defs {",
    `  vrrp_notify_fifo ${VRRP_FIFO}`,
    `  vrrp_notify_fifo_script ${VRRP_FIFO_SCRIPT}`,
  ];
  if (v.sync) {
    const s = v.sync;
    let d = `  lvs_sync_daemon ${s.interface} ${v.name} id ${s.syncId}`;
    if (s.port !== undefined) d += ` port ${s.port}`;
    if (s.group !== undefined) d += ` group ${s.group}`;
    lines.push(d);
  }
  lines.push("}");
  lines.push(`vrrp_instance ${v.name} {`, `  state ${v.initialState ?? "BACKUP"}`, `  interface ${v.interface}`);
  lines.push(
    `  virtual_router_id ${v.virtualRouterId}`,
    `  priority ${v.priority}`,
    `  advert_int ${v.advertInterval}`,
  );
  if (!v.preempt) lines.push("  nopreempt");
  else if (v.preemptDelay !== undefined) lines.push(`  preempt_delay ${v.preemptDelay}`);
  if (v.authPass !== undefined)
    lines.push("  authentication {", "    auth_type PASS", `    auth_pass ${v.authPass}`, "  }");
  if (v.unicastPeers?.length) {
    if (v.unicastSourceAddress) lines.push(`  unicast_src_ip ${v.unicastSourceAddress}`);
    lines.push("  unicast_peer {", ...v.unicastPeers.map((p) => `    ${p}`), "  }");
  }
  lines.push("  virtual_ipaddress {");
  for (const a of vipsOf(v)) lines.push(`    ${addressText(a)} dev ${a.device}`);
  lines.push("  }", "}");
  return `${HEADER}${lines.join("\n")}\n`;
}

/** The VIPs of an instance, as interface addresses (/32 or /128 unless a prefix is given). */
export function vipsOf(v: VrrpInstanceInputs): InterfaceAddress[] {
  return v.vips.map((x) => ({
    address: x.address,
    prefix: x.prefix ?? hostPrefix(x.address),
    device: x.interface ?? v.interface,
  }));
}
