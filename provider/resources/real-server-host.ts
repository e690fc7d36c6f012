/**
 * RealServerHost: what a real server needs for LVS-DR or LVS-TUN.
 *
 * DR: the VIPs on `lo` (/32, IPv6 /128 with nodad), and arp_ignore=1 / arp_announce=2 on `all`
 * and on the interface facing the VIP network, set before any VIP goes up, so that the real
 * server never answers ARP for the VIP (the director must get the traffic).
 *
 * TUN: the ipip module, tunl0 up with the VIPs on it, rp_filter=0 on `all` and `tunl0` (the
 * decapsulated packets come from the client's address on an interface that has no route back to
 * it), plus the same ARP settings (a real server on the director's segment must not answer ARP for
 * the VIP either).
 */

import type * as pulumi from "@pulumi/pulumi";
import { addAddressCommand, type InterfaceAddress } from "../host/addresses";
import { beforeNetwork, type PersistedFile, unit, unitPaths } from "../host/persist";
import { bootSysctlsLines, ifaceSysctl, type Sysctl, sysctlConf } from "../host/sysctl";
import { hostPrefix } from "../ipvs/address";
import { hostIdOf } from "../model/connection";
import { type RealServerHostInputs, realServerHostInputs } from "../model/host";
import { transportFor } from "../transport/pool";
import { checkInputs } from "./check";
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

type Props = RealServerHostInputs & {
  __provider?: string;
  /** The interface facing the VIP network: `interface`, or the default route's when not given. */
  effectiveInterface?: string;
  baseline?: Baseline;
  state?: HostState;
};

export function realServerHostPlan(v: RealServerHostInputs, iface: string): { plan: HostPlan; links: string[] } {
  const arp: Array<[Sysctl, string]> = [];
  for (const dev of ["all", iface]) {
    arp.push([ifaceSysctl("ipv4", dev, "arp_ignore"), "1"], [ifaceSysctl("ipv4", dev, "arp_announce"), "2"]);
  }
  const tun = v.mode === "tun";
  const sysctls = tun
    ? [
        ...arp,
        [ifaceSysctl("ipv4", "all", "rp_filter"), "0"] as [Sysctl, string],
        [ifaceSysctl("ipv4", "tunl0", "rp_filter"), "0"] as [Sysctl, string],
      ]
    : arp;
  const device = tun ? "tunl0" : "lo";
  const addresses: InterfaceAddress[] = v.vips.map((a) => ({ address: a, prefix: hostPrefix(a), device }));
  const modules = tun ? ["ipip"] : [];
  const prepare = tun ? ["ip link set tunl0 up"] : [];
  const files: PersistedFile[] = [
    { path: SYSCTL_FILE, content: sysctlConf(`managed by pulumi-lvs (RealServerHost, ${v.mode})`, sysctls) },
  ];
  if (tun) files.push({ path: MODULES_FILE, content: "# managed by pulumi-lvs\nipip\n" });
  const boot = [
    ...(modules.length > 0 ? [`modprobe -a ${modules.join(" ")}`] : []),
    // ARP settings again, in case the interface appeared after systemd-sysctl ran: before any VIP
    ...bootSysctlsLines(sysctls),
    ...prepare,
    ...addresses.map(addAddressCommand),
  ];
  files.push(
    ...unit(UNIT, `pulumi-lvs: LVS-${v.mode.toUpperCase()} real-server VIPs and ARP settings`, boot, BOOT_ORDER),
  );
  return {
    plan: {
      modules,
      sysctls,
      prepare,
      addresses,
      announce: [],
      files,
      ownedFiles: OWNED_FILES,
      journal: journalPath("realserver"),
    },
    links: tun ? ["tunl0"] : [],
  };
}

const { config: INPUTS } = diffFields("RealServerHost");

export const realServerHost: pulumi.dynamic.ResourceProvider = {
  async check(_olds, news) {
    return checkInputs(realServerHostInputs, news);
  },

  async diff(_id, olds: Props, news: Props) {
    const d = diffResource(olds, news, INPUTS);
    if (d.changes) return d;
    const { plan, links } = realServerHostPlan(news, olds.effectiveInterface ?? news.interface ?? "eth0");
    return { ...d, changes: !jsonEqual(olds.state, expectedState(plan, news.persist, links)) };
  },

  async create(inputs: Props) {
    const t = transportFor(inputs.connection);
    const iface = inputs.interface ?? (await detectInterface(t));
    const { plan, links } = realServerHostPlan(inputs, iface);
    const { baseline } = await createHost(t, plan, inputs.persist);
    return {
      id: `${hostIdOf(inputs.connection)}/real-server-host`,
      outs: { ...inputs, effectiveInterface: iface, baseline, state: expectedState(plan, inputs.persist, links) },
    };
  },

  async read(id, props: Props) {
    const t = transportFor(props.connection);
    const { plan, links } = realServerHostPlan(props, props.effectiveInterface ?? props.interface ?? "eth0");
    const facts = await readHostFacts(t, plan);
    return { id, props: { ...props, state: observedState(plan, props.persist, links, facts) } };
  },

  async update(_id, olds: Props, news: Props) {
    const t = transportFor(news.connection);
    const iface = news.interface ?? olds.effectiveInterface ?? (await detectInterface(t));
    const old = realServerHostPlan(olds, olds.effectiveInterface ?? iface).plan;
    const { plan, links } = realServerHostPlan(news, iface);
    const { baseline } = await updateHost(t, old, plan, olds.baseline, news.persist);
    return { outs: { ...news, effectiveInterface: iface, baseline, state: expectedState(plan, news.persist, links) } };
  },

  async delete(_id, props: Props) {
    const { plan } = realServerHostPlan(props, props.effectiveInterface ?? props.interface ?? "eth0");
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
