/**
 * Director: the host-level settings of an LVS director. ip_forward (NAT needs it), net.ipv4.vs.*
 * and other sysctls, IPVS timeouts, kernel modules, and VIPs on an interface, announced with a
 * gratuitous ARP. With `persist`, the settings survive a reboot (sysctl.d, modules-load.d, two
 * oneshot units), and so do the IPVS rules the stack owns (restored at boot from the ledger).
 */

import type * as pulumi from "@pulumi/pulumi";
import {
  addAddressCommand,
  announceCommand,
  announceFunction,
  type InterfaceAddress,
  waitForDeviceFunction,
} from "../host/addresses";
import { modprobeCommand, modulesLoadConf } from "../host/modules";
import { afterNetwork, beforeNetwork, type PersistedFile, unit, unitPaths } from "../host/persist";
import type { HostFacts } from "../host/probe";
import { plainSysctl, type Sysctl, sysctlConf, sysctlNamed, sysctlsIfPresentLines } from "../host/sysctl";
import { LEDGER, restoreRulesScript } from "../ipvs/ledger";
import { type Connection, hostIdOf, isLocal } from "../model/connection";
import { type DirectorInputs, directorInputs } from "../model/host";
import { hostPrefix } from "../net/address";
import { transportFor } from "../transport/pool";
import { shellQuote } from "../transport/transport";
import { checkInputs } from "./check";
import { ipvsClientFor } from "./clients";
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
  setTimeoutsCommand,
  takeOverPlan,
  updateHost,
} from "./host-plan";

const SYSCTL_FILE = "/etc/sysctl.d/60-pulumi-lvs-director.conf";
const MODULES_FILE = "/etc/modules-load.d/pulumi-lvs-director.conf";
const UNIT = "pulumi-lvs-director.service";
const NETWORK_UNIT = "pulumi-lvs-director-network.service";
const OWNED_FILES = [SYSCTL_FILE, MODULES_FILE, ...unitPaths(UNIT), ...unitPaths(NETWORK_UNIT)];
const LEDGER_DIR = LEDGER.slice(0, LEDGER.lastIndexOf("/"));

/**
 * The boot is two units, so that nothing the network does (or does not do) keeps the IPVS rules
 * from being restored: the kernel settings and the rules need no interface and run before any
 * network is configured; the VIPs wait for the network and for their interfaces.
 */
const KERNEL_ORDER = beforeNetwork(
  [
    "Before any network is configured: the modules, the IPVS rules (from the ledger, on /var), the",
    "sysctls and timeouts need no interface. The VIPs are pulumi-lvs-director-network.service.",
  ],
  [LEDGER_DIR],
);
/** Debian's ipvsadm package: its init script's autoload flushes the table once the network is up. */
const DEBIAN_IPVSADM = "ipvsadm.service";
const NETWORK_ORDER = afterNetwork(
  [
    "After the network is configured (network-online.target), so that the network manager neither",
    "fails on nor flushes the VIPs: each VIP waits for its interface, and its gratuitous ARP is best",
    "effort. After Debian's ipvsadm.service, whose autoload (AUTO=true) flushes the IPVS table: then",
    "the owned rules are restored again.",
  ],
  [DEBIAN_IPVSADM],
);

/** Shell that restores the IPVS rules this host's stacks own (the ledger without its owner tags), services first. */
const RESTORE_RULES = restoreRulesScript(LEDGER);

/** The modules, then at once the IPVS rules (no later step can keep them from being restored), then sysctls and timeouts. */
function kernelBoot(modules: string[], sysctls: Array<[Sysctl, string]>, timeouts: HostPlan["timeouts"]): string[] {
  return [
    modprobeCommand(modules),
    "# the IPVS rules this host's stacks own, services first",
    RESTORE_RULES,
    ...(sysctls.length > 0
      ? ["# the sysctls again, now that the modules are in (net.ipv4.vs.* exist only once ip_vs is loaded)"]
      : []),
    ...sysctlsIfPresentLines(sysctls),
    ...(timeouts ? [setTimeoutsCommand(timeouts)] : []),
  ];
}

/**
 * The owned rules again if Debian's ipvsadm autoload flushed the table (read as its init script
 * reads /etc/default/ipvsadm); then each VIP once its interface exists, announced (best effort: a
 * failed gratuitous ARP never fails the unit). A step that fails does not keep the others from
 * being tried; the unit fails at the end.
 */
function networkBoot(addresses: InterfaceAddress[]): string[] {
  return [
    "rc=0",
    "# Debian's ipvsadm autoload ran ipvsadm -C (then loaded /etc/ipvsadm.rules): the owned rules again",
    "# (rules that are still there, if its service did not run, make ipvsadm -R complain: not a failure)",
    `if (AUTO=false; . /etc/default/ipvsadm; [ "$AUTO" = true ]) 2>/dev/null; then ${RESTORE_RULES} 2>/dev/null || :; fi`,
    ...(addresses.length > 0 ? [waitForDeviceFunction(), announceFunction()] : []),
    ...addresses.map(
      (a) =>
        `if have_dev ${shellQuote(a.device)} && ${addAddressCommand(a)}; then ${announceCommand(a)}; else rc=1; fi`,
    ),
    "exit $rc",
  ];
}

type Props = DirectorInputs & {
  __provider?: string;
  baseline?: Baseline;
  state?: HostState;
  announced?: string[];
};

export function directorPlan(v: DirectorInputs): HostPlan {
  const sysctls: Array<[Sysctl, string]> = [];
  if (v.ipForward !== undefined) sysctls.push([plainSysctl("net.ipv4.ip_forward"), v.ipForward ? "1" : "0"]);
  if (v.ipv6Forward !== undefined)
    sysctls.push([plainSysctl("net.ipv6.conf.all.forwarding"), v.ipv6Forward ? "1" : "0"]);
  for (const [k, val] of Object.entries(v.ipvsSysctls ?? {}).sort())
    sysctls.push([plainSysctl(`net.ipv4.vs.${k}`), String(val)]);
  for (const [k, val] of Object.entries(v.sysctls ?? {}).sort()) sysctls.push([sysctlNamed(k), String(val)]);
  const modules = [...new Set(["ip_vs", ...v.modules])];
  const addresses: InterfaceAddress[] = v.vips.map((x) => ({
    address: x.address,
    prefix: x.prefix ?? hostPrefix(x.address),
    device: x.interface,
    notSource: true,
  }));
  const timeouts = v.timeouts
    ? { tcp: v.timeouts.tcp ?? 0, tcpFin: v.timeouts.tcpFin ?? 0, udp: v.timeouts.udp ?? 0 }
    : undefined;
  const files: PersistedFile[] = [{ path: MODULES_FILE, content: modulesLoadConf(modules) }];
  if (sysctls.length > 0)
    files.push({ path: SYSCTL_FILE, content: sysctlConf("managed by pulumi-lvs (Director)", sysctls) });
  files.push(
    ...unit(
      UNIT,
      "pulumi-lvs: director kernel settings and IPVS rules",
      kernelBoot(modules, sysctls, timeouts),
      KERNEL_ORDER,
    ),
  );
  const late = "pulumi-lvs: director VIPs (and the IPVS rules after Debian's ipvsadm autoload)";
  files.push(...unit(NETWORK_UNIT, late, networkBoot(addresses), NETWORK_ORDER));
  const plan: HostPlan = {
    modules,
    sysctls,
    addresses,
    announce: addresses,
    files,
    ownedFiles: OWNED_FILES,
    journal: journalPath("director"),
  };
  if (timeouts) plan.timeouts = timeouts;
  return plan;
}

function normalize(v: DirectorInputs): DirectorInputs {
  const out: DirectorInputs = { ...v };
  if (v.ipvsSysctls) {
    out.ipvsSysctls = Object.fromEntries(
      Object.entries(v.ipvsSysctls).map(([k, x]) => [k, String(x)]),
    ) as DirectorInputs["ipvsSysctls"];
  }
  if (v.sysctls) out.sysctls = Object.fromEntries(Object.entries(v.sysctls).map(([k, x]) => [k, String(x)]));
  return out;
}

const { config: INPUTS } = diffFields("Director");

/**
 * How a director's IPVS timeouts are set and read: over SSH, by the plan's script (`ipvsadm --set`,
 * `ipvsadm -L --timeout`, in the round trip that applies or reads the rest); on the local
 * connection, by its IPVS client (netlink), so that it needs no ipvsadm (the boot script, with
 * `persist`, still sets them with ipvsadm: nothing else runs at boot).
 */
const timeoutsWay = {
  shell: {
    /** The plan as the host's script applies it. */
    scripted: (plan: HostPlan) => plan,
    set: async (_c: Connection, _plan: HostPlan) => undefined,
    read: async (_c: Connection, facts: HostFacts) => facts,
  },
  client: {
    scripted: ({ timeouts: _, ...rest }: HostPlan): HostPlan => rest,
    set: async (c: Connection, plan: HostPlan) => {
      if (plan.timeouts) await ipvsClientFor(c).setTimeouts(plan.timeouts);
    },
    read: async (c: Connection, facts: HostFacts): Promise<HostFacts> => {
      const t = await ipvsClientFor(c).timeouts();
      return { ...facts, ...(t ? { timeouts: t } : {}) };
    },
  },
};
const timeoutsFor = (c: Connection) => timeoutsWay[isLocal(c) ? "client" : "shell"];

export const director: pulumi.dynamic.ResourceProvider = {
  async check(_olds, news) {
    return checkInputs(directorInputs, news, normalize);
  },

  async diff(_id, olds: Props, news: Props) {
    const d = diffResource(olds, news, INPUTS);
    if (d.changes) return d;
    // drift: what the host has differs from what these inputs want
    const drift = !jsonEqual(olds.state, expectedState(directorPlan(news), news.persist));
    return { ...d, changes: drift };
  },

  async create(inputs: Props) {
    const plan = directorPlan(inputs);
    const way = timeoutsFor(inputs.connection);
    const t = transportFor(inputs.connection);
    const scripted = way.scripted(plan);
    let applied = scripted;
    if (inputs.adopt === "exact") {
      const facts = await way.read(
        inputs.connection,
        await readHostFacts(t, scripted, scripted.timeouts !== undefined),
      );
      applied = takeOverPlan(t.label, "the director's settings", plan, facts, scripted);
    }
    const { baseline, announced } = await createHost(t, scripted, inputs.persist, applied);
    await way.set(inputs.connection, plan);
    return {
      id: `${hostIdOf(inputs.connection)}/director`,
      outs: { ...inputs, baseline, announced, state: expectedState(plan, inputs.persist) },
    };
  },

  async read(id, props: Props) {
    const t = transportFor(props.connection);
    const plan = directorPlan(props);
    const way = timeoutsFor(props.connection);
    const scripted = way.scripted(plan);
    const facts = await way.read(props.connection, await readHostFacts(t, scripted, scripted.timeouts !== undefined));
    return { id, props: { ...props, state: observedState(plan, props.persist, facts) } };
  },

  async update(_id, olds: Props, news: Props) {
    const plan = directorPlan(news);
    const t = transportFor(news.connection);
    const way = timeoutsFor(news.connection);
    const old = way.scripted(directorPlan(olds));
    const { baseline, announced } = await updateHost(t, old, way.scripted(plan), olds.baseline, news.persist);
    await way.set(news.connection, plan);
    return { outs: { ...news, baseline, announced, state: expectedState(plan, news.persist) } };
  },

  async delete(_id, props: Props) {
    const plan = timeoutsFor(props.connection).scripted(directorPlan(props));
    await deleteHost(transportFor(props.connection), plan, props.baseline);
  },
};
