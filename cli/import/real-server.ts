/**
 * A real server's facts (and the services imported from its directors: which of its addresses are
 * real servers, by which forwarding method) as the RealServerHost that declares what it has: DR,
 * the VIPs on lo; TUN, the VIPs on the tunnel devices and the tunnels its real servers use; NAT,
 * the return path through the director. Where the resource would still change the host (an ARP
 * setting, a VIP's prefix, a missing rule), a `differs` finding says what and how
 * (provider/resources/real-server-host.ts is the plan compared). Pure.
 */
import type { InterfaceAddress } from "../../provider/host/addresses";
import { NAT_RULE_PRIORITY, NAT_TABLE } from "../../provider/host/return-path";
import { type TunnelReceiver, tunnelPrep } from "../../provider/host/tunnels";
import {
  FORWARDING_METHODS,
  type ForwardingMethod,
  type RealServerConfig,
  type ServiceKey,
  serviceKeyText,
  TUNNEL_TYPES,
} from "../../provider/ipvs/types";
import { realServerHostInputs } from "../../provider/model/host";
import { validate } from "../../provider/model/validate";
import { inlineConfigs, serviceKeyOf } from "../../provider/model/virtual-service";
import { canonicalAddress, inSubnet, isAddress, isIPv4, isIPv6 } from "../../provider/net/address";
import { realServerHostPlan } from "../../provider/resources/real-server-host";
import type { HostImport } from "./director";
import { planDifferences } from "./drift";
import type { HostFacts } from "./facts";
import type { Finding, ImportedResource, RealServerHostArgs } from "./model";
import { checkVirtualServiceArgs, compareAddresses, PLACEHOLDER_CONNECTION } from "./services";

/** One real server of an imported service that is this host. */
interface Served {
  service: ServiceKey;
  rs: RealServerConfig;
}

/** Every device a tunnel receiver uses (tunl0, gre0, ip6tnl0): no real-server address is on one. */
const TUNNEL_DEVICES = (() => {
  const all = tunnelPrep(
    TUNNEL_TYPES.map((type) => ({ type, port: 1 })),
    true,
  );
  return new Set([...all.devices, all.ipv6Device!]);
})();

const isLoopback = (a: string) => inSubnet(a, "127.0.0.0/8") || inSubnet(a, "::1/128");
const sortedUnique = <T>(list: T[], cmp?: (a: T, b: T) => number) => [...new Set(list)].sort(cmp);

/** The real servers of the imported services whose address is one of this host's own (not lo, not a tunnel's). */
function servedBy(facts: HostFacts, services: readonly ImportedResource[]): Served[] {
  const own = new Set(
    facts.addresses.filter((a) => a.device !== "lo" && !TUNNEL_DEVICES.has(a.device)).map((a) => a.address),
  );
  return services.flatMap((r) => {
    if (r.kind !== "VirtualService") return [];
    const v = checkVirtualServiceArgs(r.args);
    if (Array.isArray(v)) return [];
    const service = serviceKeyOf(v);
    return inlineConfigs(v)
      .filter((rs) => own.has(rs.address))
      .map((rs) => ({ service, rs }));
  });
}

/** What the host has for one mode: the RealServerHost's inputs (no persist yet), and notes. */
interface ModeRead {
  args?: RealServerHostArgs;
  findings: string[];
}

interface ModeContext {
  facts: HostFacts;
  served: Served[];
  /** The device of the host's first real-server address: the one facing the VIP network. */
  iface: string;
}

const addressesOn = (facts: HostFacts, devices: Set<string>): InterfaceAddress[] =>
  facts.addresses.filter((a) => devices.has(a.device) && !isLoopback(a.address));

/** Services whose VIP the host does not hold where the mode's traffic arrives. */
function missingVips(served: Served[], held: InterfaceAddress[], where: string): string[] {
  const have = new Set(held.map((a) => a.address));
  const vips = sortedUnique(
    served.flatMap((s) => ("address" in s.service ? [s.service.address] : [])),
    compareAddresses,
  );
  return vips
    .filter((v) => !have.has(v))
    .map(
      (v) =>
        `the host is a real server of VIP ${v} but does not hold it on ${where}: not declared (the RealServerHost adds only the VIPs it lists)`,
    );
}

/** The tunnels the host's real servers use, the one whose device holds the IPv4 VIPs first. */
function tunnelsOf(facts: HostFacts, served: Served[]): TunnelReceiver[] {
  const seen = new Map<string, TunnelReceiver>();
  for (const { rs } of served) {
    const t: TunnelReceiver = { type: rs.tunnel?.type ?? "ipip" };
    if (t.type === "gue" && rs.tunnel?.port !== undefined) t.port = rs.tunnel.port;
    seen.set(`${t.type}:${t.port ?? ""}`, t);
  }
  const list = [...seen.values()];
  const v4Device = facts.addresses.find((a) => TUNNEL_DEVICES.has(a.device) && isIPv4(a.address))?.device;
  const first = list.findIndex((t) => tunnelPrep([t], false).devices[0] === v4Device);
  return first <= 0 ? list : [list[first]!, ...list.filter((_, i) => i !== first)];
}

/** The routing rules of the NAT return path the host has (`7100: from A sport P lookup 7100`). */
function returnPathRules(facts: HostFacts): Array<{ address: string; port: number }> {
  return [...(facts.listings.get("rule") ?? [])].flatMap((line) => {
    const w = line.split(" ");
    const at = (k: string) => w[w.indexOf(k) + 1];
    const from = at("from");
    const port = Number(at("sport"));
    return w[0] === `${NAT_RULE_PRIORITY}:` && at("lookup") === String(NAT_TABLE) && from && isAddress(from) && port
      ? [{ address: canonicalAddress(from), port }]
      : [];
  });
}

/** The route of the NAT return path's table (`default via G dev D`), if it has one. */
function returnPathRoute(facts: HostFacts): { gateway: string; device: string } | undefined {
  for (const line of facts.listings.get("route") ?? []) {
    const [dst, via, gateway, dev, device] = line.split(" ");
    if (dst === "default" && via === "via" && dev === "dev" && gateway && device && isAddress(gateway))
      return { gateway: canonicalAddress(gateway), device };
  }
  return undefined;
}

/**
 * Where the host has arp_ignore=1 and arp_announce=2 (dr, tun), as `arpInterfaces` when that is
 * not the RealServerHost's default (all and the interface): the LVS HOWTO's all and lo, say. A
 * host without them on `all` keeps the default, and the difference is a finding.
 */
function arpInterfaces(facts: HostFacts, iface: string): string[] | undefined {
  const devices = [...facts.sysctls.keys()].flatMap((k) => {
    const m = /^net\.ipv4\.conf\.([^.]+)\.arp_ignore$/.exec(k);
    return m ? [m[1]!] : [];
  });
  const set = devices.filter(
    (d) =>
      facts.sysctls.get(`net.ipv4.conf.${d}.arp_ignore`) === "1" &&
      facts.sysctls.get(`net.ipv4.conf.${d}.arp_announce`) === "2",
  );
  if (!set.includes("all")) return undefined;
  const list = ["all", ...set.filter((d) => d !== "all").sort()];
  return list.length === 2 && list[1] === iface ? undefined : list;
}

/** What the host has for each mode (a dispatch table). */
const MODES: Record<ForwardingMethod, (c: ModeContext) => ModeRead> = {
  dr: ({ facts, served, iface }) => {
    const held = addressesOn(facts, new Set(["lo"]));
    const findings = missingVips(served, held, "lo");
    if (held.length === 0) return { findings };
    const vips = sortedUnique(
      held.map((a) => a.address),
      compareAddresses,
    );
    const arp = arpInterfaces(facts, iface);
    return { args: { mode: "dr", vips, interface: iface, ...(arp ? { arpInterfaces: arp } : {}) }, findings };
  },
  tun: ({ facts, served, iface }) => {
    const tunnels = tunnelsOf(facts, served);
    const held = addressesOn(facts, TUNNEL_DEVICES);
    const findings = missingVips(served, held, "a tunnel device");
    if (held.length === 0) return { findings };
    const vips = sortedUnique(
      held.map((a) => a.address),
      compareAddresses,
    );
    // IPv6 VIPs arrive on ip6tnl0: tunnel type ipip to pulumi-lvs
    if (vips.some(isIPv6) && !tunnels.some((t) => t.type === "ipip")) tunnels.push({ type: "ipip" });
    const plain = tunnels.length === 1 && tunnels[0]!.type === "ipip";
    const arp = arpInterfaces(facts, iface);
    return {
      args: {
        mode: "tun",
        vips,
        interface: iface,
        ...(plain ? {} : { tunnels }),
        ...(arp ? { arpInterfaces: arp } : {}),
      },
      findings,
    };
  },
  nat: ({ facts, served, iface }) => {
    const rules = returnPathRules(facts);
    const route = returnPathRoute(facts);
    const findings: string[] = [];
    const gateway = route?.gateway ?? facts.defaultGateway;
    if (!route)
      findings.push(
        gateway
          ? `the host has no return path of pulumi-lvs's (routing table ${NAT_TABLE}): its replies go by its routes (default via ${gateway}); the gateway declared is that default route's, check that it is the director`
          : `the host has no return path of pulumi-lvs's (routing table ${NAT_TABLE}) and no default route: no gateway to declare`,
      );
    if (!gateway) return { findings };
    const ports = sortedUnique([...served.map((s) => s.rs.port), ...rules.map((r) => r.port)], (a, b) => a - b);
    const addresses = sortedUnique(
      [...served.map((s) => s.rs.address), ...rules.map((r) => r.address)],
      compareAddresses,
    );
    return {
      args: { mode: "nat", gateway, ports, addresses, interface: route?.device ?? iface },
      findings,
    };
  },
};

/** The forwarding method most of the host's real servers use (ties: ipvsadm's order, nat dr tun). */
function modeOf(served: Served[]): ForwardingMethod {
  const count = (m: ForwardingMethod) => served.filter((s) => s.rs.forwarding === m).length;
  return [...FORWARDING_METHODS].sort((a, b) => count(b) - count(a))[0]!;
}

/**
 * A real server's RealServerHost (none when no imported service has it as a real server, or when it
 * holds nothing to declare), with the findings.
 */
export function importRealServer(host: string, facts: HostFacts, services: readonly ImportedResource[]): HostImport {
  const findings: Finding[] = [];
  const note = (kind: Finding["kind"], message: string) => findings.push({ source: { host }, kind, message });
  const served = servedBy(facts, services);
  if (served.length === 0) {
    note("note", "none of the host's addresses is a real server of an imported service: no RealServerHost");
    return { resources: [], findings, secrets: [] };
  }
  const mode = modeOf(served);
  const others = served.filter((s) => s.rs.forwarding !== mode);
  for (const s of others)
    note(
      "unsupported",
      `${serviceKeyText(s.service)} reaches real server ${s.rs.address} by ${s.rs.forwarding}; a RealServerHost has one mode, and this one is imported as ${mode}`,
    );
  const mine = served.filter((s) => s.rs.forwarding === mode);
  const first = mine[0]!.rs.address;
  const iface = facts.addresses.find((a) => a.address === first && a.device !== "lo")?.device ?? "eth0";
  const read = MODES[mode]({ facts, served: mine, iface });
  for (const m of read.findings) note("note", m);
  if (!read.args) {
    note("unsupported", `no RealServerHost (${mode}) is imported: the host holds nothing it would declare`);
    return { resources: [], findings, secrets: [] };
  }
  const args: RealServerHostArgs = {
    ...read.args,
    addresses:
      read.args.addresses ??
      sortedUnique(
        mine.map((s) => s.rs.address),
        compareAddresses,
      ),
    persist: false,
  };
  const { value, failures } = validate(realServerHostInputs, { connection: PLACEHOLDER_CONNECTION, ...args });
  if (!value) {
    note("unsupported", `the RealServerHost is not imported: ${failures.map((f) => f.reason).join("; ")}`);
    return { resources: [], findings, secrets: [] };
  }
  note(
    "note",
    "the RealServerHost is imported with persist: false: the host's own boot configuration restores its VIPs and settings, and pulumi-lvs must not add a second one (set persist: true once the site's own is removed)",
  );
  findings.push(...planDifferences(host, "RealServerHost", realServerHostPlan(value, args.interface ?? iface), facts));
  return { resources: [{ kind: "RealServerHost", host, name: host, args, source: { host } }], findings, secrets: [] };
}
