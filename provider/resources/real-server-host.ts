/**
 * RealServerHost: what a real server needs for LVS-DR or LVS-TUN.
 *
 * DR: the VIPs on `lo` (/32, IPv6 /128 with nodad), and arp_ignore=1 / arp_announce=2 on `all`
 * and on the interface facing the VIP network, set before any VIP goes up, so that the real
 * server never answers ARP for the VIP (the director must get the traffic).
 *
 * TUN: for each tunnel type it receives (host/tunnels.ts: ipip by default, gre, gue), the modules
 * and the fallback device that decapsulates (tunl0, gre0; for gue also a fou receive port), up,
 * with the IPv4 VIPs on the first one and IPv6 VIPs on ip6tnl0; rp_filter=0 on `all` and on each
 * device (the decapsulated packets come from the client's address on an interface that has no
 * route back to it), plus the same ARP settings (a real server on the director's segment must not
 * answer ARP for the VIP either).
 */

import type * as pulumi from "@pulumi/pulumi";
import { addAddressCommand, type InterfaceAddress, waitForDeviceFunction } from "../host/addresses";
import { modprobeCommand, modulesLoadConf } from "../host/modules";
import { afterNetwork, beforeNetwork, type PersistedFile, type UnitOrder, unit, unitPaths } from "../host/persist";
import { type HostObject, linkUp } from "../host/probe";
import { natRoute, natRule } from "../host/return-path";
import { ifaceSysctl, type Sysctl, sysctlConf, sysctlsIfPresentLines } from "../host/sysctl";
import { guePort, type TunnelReceiver, tunnelPrep } from "../host/tunnels";
import { hostIdOf } from "../model/connection";
import { type RealServerHostInputs, realServerHostInputs } from "../model/host";
import { addressFamily, hostPrefix } from "../net/address";
import { transportFor } from "../transport/pool";
import { shellQuote } from "../transport/transport";
import { checkFailure, checkInputs, deployment, type HostNeed, natNeed, tunnelNeed } from "./check";
import { diffResource, jsonEqual } from "./diff";
import { diffFields } from "./fields";
import {
  type Baseline,
  createHost,
  deleteHost,
  expectedState,
  type HostPlan,
  type HostState,
  journalPath,
  observedState,
  readHostFacts,
  takeOverPlan,
  updateHost,
} from "./host-plan";

const SYSCTL_FILE = "/etc/sysctl.d/60-pulumi-lvs-realserver.conf";
const MODULES_FILE = "/etc/modules-load.d/pulumi-lvs-realserver.conf";
const UNIT = "pulumi-lvs-realserver.service";
const OWNED_FILES = [SYSCTL_FILE, MODULES_FILE, ...unitPaths(UNIT)];

/**
 * The ARP settings must be in force before a VIP is up, or the real server would answer ARP for
 * the VIP and take its traffic from the director: the unit runs after systemd-sysctl (which applies
 * the sysctl.d file), its script sets them again before it adds the VIPs and stops at the first
 * failure, and it all happens before any network is configured.
 */
const BOOT_ORDER = beforeNetwork([
  "After systemd-sysctl.service, and the script sets arp_ignore/arp_announce (and rp_filter) again before",
  "it adds the VIPs, stopping at the first failure: the host never answers ARP for a VIP. Before any",
  "network is configured.",
]);

/** NAT's return path routes through the director: once the network is up and the interface exists. */
const NAT_BOOT_ORDER = afterNetwork([
  "After the network is configured (network-online.target): the return path's route goes through the",
  "director on the host's interface, which waits for it to exist.",
]);

type Props = RealServerHostInputs & {
  __provider?: string;
  /** The interface facing the VIP network: `interface`, or the default route's when not given. */
  effectiveInterface?: string;
  baseline?: Baseline;
  state?: HostState;
};

/** The tunnels of a host's inputs (tun mode): as declared, or ipip. */
export function tunnelsOf(v: Pick<RealServerHostInputs, "mode" | "tunnels">): TunnelReceiver[] {
  return v.mode === "tun" ? (v.tunnels ?? [{ type: "ipip" }]) : [];
}

/** What one mode needs on the host: kernel settings, addresses and objects, and when its unit runs. */
interface ModePlan {
  modules: string[];
  sysctls: Array<[Sysctl, string]>;
  addresses: InterfaceAddress[];
  objects: HostObject[];
  order: UnitOrder;
  /** Shell that the boot script runs first (nat: wait for the interface). */
  bootFirst: string[];
}

/** arp_ignore=1 and arp_announce=2 where `arpInterfaces` says (default: all and the VIP-facing interface). */
const arpSettings = (v: RealServerHostInputs, iface: string): Array<[Sysctl, string]> =>
  [...new Set(v.arpInterfaces ?? ["all", iface])].flatMap(
    (dev): Array<[Sysctl, string]> => [
      [ifaceSysctl("ipv4", dev, "arp_ignore"), "1"],
      [ifaceSysctl("ipv4", dev, "arp_announce"), "2"],
    ],
  );
const rpFilterOff = (dev: string): [Sysctl, string] => [ifaceSysctl("ipv4", dev, "rp_filter"), "0"];
const hostAddress = (device: string) => (a: string) => ({ address: a, prefix: hostPrefix(a), device });

/** The plan of each mode (a dispatch table). */
const MODES: Record<RealServerHostInputs["mode"], (v: RealServerHostInputs, iface: string) => ModePlan> = {
  // every VIP on lo, after the ARP settings
  dr: (v, iface) => ({
    modules: [],
    sysctls: arpSettings(v, iface),
    addresses: v.vips.map(hostAddress("lo")),
    objects: [],
    order: BOOT_ORDER,
    bootFirst: [],
  }),
  // each tunnel's device up (IPv4 VIPs on the first, IPv6 ones on ip6tnl0), rp_filter off on them
  tun: (v, iface) => {
    const v6 = v.vips.filter((a) => addressFamily(a) === "ipv6");
    const prep = tunnelPrep(tunnelsOf(v), v6.length > 0);
    return {
      modules: prep.modules,
      sysctls: [...arpSettings(v, iface), rpFilterOff("all"), ...prep.devices.map(rpFilterOff)],
      addresses: [
        ...v.vips.filter((a) => addressFamily(a) === "ipv4").map(hostAddress(prep.devices[0]!)),
        ...v6.map(hostAddress(prep.ipv6Device!)),
      ],
      objects: [...prep.devices, ...(prep.ipv6Device ? [prep.ipv6Device] : [])]
        .map(linkUp)
        .concat(prep.guePorts.map(guePort)),
      order: BOOT_ORDER,
      bootFirst: [],
    };
  },
  // the return path: the replies from the service ports routed through the director
  nat: (v, iface) => ({
    modules: [],
    sysctls: [],
    addresses: [],
    objects: [
      natRoute(v.gateway!, iface),
      ...(v.addresses ?? []).flatMap((a) => (v.ports ?? []).map((p) => natRule(a, p))),
    ],
    order: NAT_BOOT_ORDER,
    bootFirst: [waitForDeviceFunction(), `have_dev ${shellQuote(iface)}`],
  }),
};

/** What a host provides its real servers, as they need it (see RealServer's check). */
function providedBy(v: RealServerHostInputs): HostNeed[] {
  return [...tunnelsOf(v).map(tunnelNeed), ...(v.mode === "nat" ? (v.ports ?? []).map(natNeed) : [])];
}

export function realServerHostPlan(v: RealServerHostInputs, iface: string): HostPlan {
  const m = MODES[v.mode](v, iface);
  const files: PersistedFile[] = [];
  if (m.sysctls.length > 0)
    files.push({
      path: SYSCTL_FILE,
      content: sysctlConf(`managed by pulumi-lvs (RealServerHost, ${v.mode})`, m.sysctls),
    });
  if (m.modules.length > 0) files.push({ path: MODULES_FILE, content: modulesLoadConf(m.modules) });
  const boot = [
    ...m.bootFirst,
    ...(m.modules.length > 0 ? [modprobeCommand(m.modules)] : []),
    // ARP settings again, in case the interface appeared after systemd-sysctl ran: before any VIP
    ...sysctlsIfPresentLines(m.sysctls),
    ...m.objects.map((o) => o.add),
    ...m.addresses.map(addAddressCommand),
  ];
  const what = v.mode === "nat" ? "return path through the director" : "VIPs and ARP settings";
  files.push(...unit(UNIT, `pulumi-lvs: LVS-${v.mode.toUpperCase()} real-server ${what}`, boot, m.order));
  const plan: HostPlan = {
    modules: m.modules,
    sysctls: m.sysctls,
    addresses: m.addresses,
    announce: [],
    files,
    ownedFiles: OWNED_FILES,
    journal: journalPath("realserver"),
  };
  if (m.objects.length > 0) plan.objects = m.objects;
  return plan;
}

const { config: INPUTS } = diffFields("RealServerHost");

export const realServerHost: pulumi.dynamic.ResourceProvider = {
  async check(_olds, news) {
    return checkFailure(checkInputs(realServerHostInputs, news), news, "mode", (v: RealServerHostInputs) =>
      v.addresses && v.owner ? deployment().checkHostProvides(v.addresses, v.owner, v.mode, providedBy(v)) : undefined,
    );
  },

  async diff(_id, olds: Props, news: Props) {
    const d = diffResource(olds, news, INPUTS);
    if (d.changes) return d;
    const plan = realServerHostPlan(news, olds.effectiveInterface ?? news.interface ?? "eth0");
    return { ...d, changes: !jsonEqual(olds.state, expectedState(plan, news.persist)) };
  },

  async create(inputs: Props) {
    const t = transportFor(inputs.connection);
    const iface = inputs.interface ?? (await detectInterface(t));
    const plan = realServerHostPlan(inputs, iface);
    const applied =
      inputs.adopt === "exact"
        ? takeOverPlan(t.label, "the real-server host's settings", plan, await readHostFacts(t, plan))
        : plan;
    const { baseline } = await createHost(t, plan, inputs.persist, applied);
    return {
      id: `${hostIdOf(inputs.connection)}/real-server-host`,
      outs: { ...inputs, effectiveInterface: iface, baseline, state: expectedState(plan, inputs.persist) },
    };
  },

  async read(id, props: Props) {
    const t = transportFor(props.connection);
    const plan = realServerHostPlan(props, props.effectiveInterface ?? props.interface ?? "eth0");
    const facts = await readHostFacts(t, plan);
    return { id, props: { ...props, state: observedState(plan, props.persist, facts) } };
  },

  async update(_id, olds: Props, news: Props) {
    const t = transportFor(news.connection);
    const iface = news.interface ?? olds.effectiveInterface ?? (await detectInterface(t));
    const old = realServerHostPlan(olds, olds.effectiveInterface ?? iface);
    const plan = realServerHostPlan(news, iface);
    const { baseline } = await updateHost(t, old, plan, olds.baseline, news.persist);
    return { outs: { ...news, effectiveInterface: iface, baseline, state: expectedState(plan, news.persist) } };
  },

  async delete(_id, props: Props) {
    const plan = realServerHostPlan(props, props.effectiveInterface ?? props.interface ?? "eth0");
    await deleteHost(transportFor(props.connection), plan, props.baseline);
  },
};

async function detectInterface(t: import("../transport/transport").Transport): Promise<string> {
  const facts = await readHostFacts(t, { sysctls: [], files: [], ownedFiles: [] });
  if (!facts.defaultInterface) {
    throw new Error(
      `on ${t.label}: cannot tell which interface faces the VIP network (the host has no IPv4 default route). Set the RealServerHost's interface argument (e.g. "eth0").`,
    );
  }
  return facts.defaultInterface;
}
