/**
 * Invalid configurations for the reliability suite: each must be rejected at `pulumi preview`,
 * with an error that names the field and the reason, before any host is touched.
 *
 * kind: vs (VirtualService), rs (RealServer), dir (Director), rsh (RealServerHost), lb
 * (LoadBalancer), as test/e2e/programs/cases declares them. `field` and `reason` must both appear
 * in the error reported on the case's resource.
 */
export interface BadInput {
  name: string;
  kind: "vs" | "rs" | "dir" | "rsh" | "lb";
  args: Record<string, unknown>;
  /** The field the error must name (as it appears in the message). */
  field: string;
  /** What the error must say about it. */
  reason: RegExp;
  /** The resource that must carry the error, when not the case itself (duplicates). */
  resource?: RegExp;
}

const c = (connection: Record<string, unknown>) => ({ connection });
const vip = (over: Record<string, unknown>) => ({ vips: [{ address: "10.0.0.100", interface: "eth0", ...over }] });

export const BAD_INPUTS: BadInput[] = [
  // addresses, ports, families, protocol/fwmark mixes
  {
    name: "vs-address-octet",
    kind: "vs",
    args: { address: "10.0.0.300" },
    field: "address",
    reason: /not an IPv4 or IPv6 address/,
  },
  {
    name: "vs-address-name",
    kind: "vs",
    args: { address: "www.example.com" },
    field: "address",
    reason: /not an IPv4 or IPv6 address/,
  },
  {
    name: "vs-address-empty",
    kind: "vs",
    args: { address: "" },
    field: "address",
    reason: /not an IPv4 or IPv6 address/,
  },
  { name: "vs-port-0", kind: "vs", args: { port: 0 }, field: "port", reason: /from 1 to 65535/ },
  { name: "vs-port-65536", kind: "vs", args: { port: 65536 }, field: "port", reason: /from 1 to 65535/ },
  { name: "vs-port-fraction", kind: "vs", args: { port: 80.5 }, field: "port", reason: /integer|whole/ },
  { name: "vs-port-text", kind: "vs", args: { port: "http" }, field: "port", reason: /number|port/ },
  { name: "vs-port-missing", kind: "vs", args: { port: null }, field: "port", reason: /is required/ },
  { name: "vs-protocol", kind: "vs", args: { protocol: "icmp" }, field: "protocol", reason: /tcp, udp, sctp/ },
  {
    name: "vs-family-mismatch",
    kind: "vs",
    args: { family: "ipv6" },
    field: "family",
    reason: /is ipv6 but address 10\.0\.0\.100 is ipv4/,
  },
  {
    name: "vs-fwmark-and-address",
    kind: "vs",
    args: { fwmark: 1 },
    field: "protocol",
    reason: /must not be set with fwmark/,
  },
  {
    name: "vs-fwmark-0",
    kind: "vs",
    args: { protocol: null, address: null, port: null, fwmark: 0 },
    field: "fwmark",
    reason: /from 1/,
  },
  {
    name: "vs-fwmark-too-big",
    kind: "vs",
    args: { protocol: null, address: null, port: null, fwmark: 4294967296 },
    field: "fwmark",
    reason: /from 1/,
  },
  {
    name: "vs-fwmark-family",
    kind: "vs",
    args: { protocol: null, address: null, port: null, fwmark: 7, family: "ipv5" },
    field: "family",
    reason: /ipv4|ipv6/,
  },
  // schedulers and flags
  {
    name: "vs-scheduler",
    kind: "vs",
    args: { scheduler: "random" },
    field: "scheduler",
    reason: /not a kernel scheduler/,
  },
  {
    name: "vs-scheduler-case",
    kind: "vs",
    args: { scheduler: "RR" },
    field: "scheduler",
    reason: /not a kernel scheduler/,
  },
  {
    name: "vs-flag-wrong-scheduler",
    kind: "vs",
    args: { schedulerFlags: ["sh-port"] },
    field: "schedulerFlags",
    reason: /needs scheduler sh/,
  },
  {
    name: "vs-flag-unknown",
    kind: "vs",
    args: { scheduler: "sh", schedulerFlags: ["sh-nope"] },
    field: "schedulerFlags.0",
    reason: /not a scheduler flag/,
  },
  {
    name: "vs-flag-mh-on-sh",
    kind: "vs",
    args: { scheduler: "sh", schedulerFlags: ["mh-port"] },
    field: "schedulerFlags",
    reason: /needs scheduler mh/,
  },
  // persistence, pe, one-packet
  {
    name: "vs-persistence-0",
    kind: "vs",
    args: { persistence: { timeout: 0 } },
    field: "persistence.timeout",
    reason: /from 1 to/,
  },
  {
    name: "vs-netmask-holes",
    kind: "vs",
    args: { persistence: { netmask: "255.0.255.0" } },
    field: "persistence.netmask",
    reason: /contiguous/,
  },
  {
    name: "vs-netmask-v4-on-v6",
    kind: "vs",
    args: { address: "fd00:10::100", persistence: { netmask: "255.255.255.0" } },
    field: "persistence.netmask",
    reason: /prefix length/,
  },
  { name: "vs-pe-without-persistence", kind: "vs", args: { pe: "sip" }, field: "pe", reason: /needs persistence/ },
  { name: "vs-pe-unknown", kind: "vs", args: { pe: "http", persistence: {} }, field: "pe", reason: /sip/ },
  { name: "vs-ops-on-tcp", kind: "vs", args: { onePacket: true }, field: "onePacket", reason: /UDP/ },
  {
    name: "vs-unknown-field",
    kind: "vs",
    args: { schedular: "wrr" },
    field: "schedular",
    reason: /is not a known argument/,
  },
  // connection fields and host keys
  {
    name: "conn-no-host-key",
    kind: "vs",
    args: c({ hostKey: null }),
    field: "connection.hostKey",
    reason: /is required: pin the host's public key/,
  },
  {
    name: "conn-host-key-garbage",
    kind: "vs",
    args: c({ hostKey: "ssh-ed25519 Zm9v" }),
    field: "connection.hostKey",
    reason: /not a ssh-ed25519 public key/,
  },
  {
    name: "conn-host-key-text",
    kind: "vs",
    args: c({ hostKey: "trust me" }),
    field: "connection.hostKey",
    reason: /expected "<key-type> <base64>"/,
  },
  {
    name: "conn-host-key-revoked",
    kind: "vs",
    args: c({ hostKey: "@revoked * ssh-ed25519 AAAA" }),
    field: "connection.hostKey",
    reason: /@revoked/,
  },
  {
    name: "conn-key-path",
    kind: "vs",
    args: c({ privateKey: "~/.ssh/id_ed25519" }),
    field: "connection.privateKey",
    reason: /not a path/,
  },
  {
    name: "conn-passphrase-without-key",
    kind: "vs",
    args: c({ privateKey: null, privateKeyPassphrase: "x", password: "pw" }),
    field: "connection.privateKeyPassphrase",
    reason: /privateKey is not/,
  },
  {
    name: "conn-port-70000",
    kind: "vs",
    args: c({ port: 70000 }),
    field: "connection.port",
    reason: /from 1 to 65535/,
  },
  { name: "conn-host-empty", kind: "vs", args: c({ host: "" }), field: "connection.host", reason: /host/ },
  { name: "conn-host-spaces", kind: "vs", args: c({ host: "director one" }), field: "connection.host", reason: /host/ },
  {
    name: "conn-user-shell",
    kind: "vs",
    args: c({ user: "root;reboot" }),
    field: "connection.user",
    reason: /valid user name/,
  },
  {
    name: "conn-dial-timeout-0",
    kind: "vs",
    args: c({ dialTimeout: 0 }),
    field: "connection.dialTimeout",
    reason: /more than 0 seconds/,
  },
  {
    name: "conn-dial-timeout-big",
    kind: "vs",
    args: c({ dialTimeout: 601 }),
    field: "connection.dialTimeout",
    reason: /at most 600/,
  },
  {
    name: "conn-dial-attempts-0",
    kind: "vs",
    args: c({ dialAttempts: 0 }),
    field: "connection.dialAttempts",
    reason: /from 1 to 20/,
  },
  { name: "conn-sudo-text", kind: "vs", args: c({ sudo: "yes" }), field: "connection.sudo", reason: /boolean/ },
  {
    name: "conn-unknown-field",
    kind: "vs",
    args: c({ hostname: "x" }),
    field: "connection.hostname",
    reason: /is not a known argument/,
  },
  {
    name: "conn-proxy-no-host-key",
    kind: "vs",
    args: c({ proxy: { host: "127.0.0.1", port: 2200 } }),
    field: "connection.proxy.hostKey",
    reason: /is required/,
  },
  // real servers: addresses, weights, thresholds, forwarding
  {
    name: "rs-address",
    kind: "rs",
    args: { address: "10.0.0.256" },
    field: "address",
    reason: /not an IPv4 or IPv6 address/,
  },
  {
    name: "rs-weight-negative",
    kind: "rs",
    args: { weight: -1 },
    field: "weight",
    reason: /0 to 65535|at least 0|from 0/,
  },
  { name: "rs-weight-too-big", kind: "rs", args: { weight: 65536 }, field: "weight", reason: /65535/ },
  { name: "rs-weight-fraction", kind: "rs", args: { weight: 1.5 }, field: "weight", reason: /whole|integer/ },
  {
    name: "rs-upper-negative",
    kind: "rs",
    args: { upperThreshold: -1 },
    field: "upperThreshold",
    reason: /must not be negative/,
  },
  {
    name: "rs-lower-too-big",
    kind: "rs",
    args: { lowerThreshold: 2147483648 },
    field: "lowerThreshold",
    reason: /2147483647|connection count/,
  },
  {
    name: "rs-lower-above-upper",
    kind: "rs",
    args: { upperThreshold: 10, lowerThreshold: 20 },
    field: "lowerThreshold",
    reason: /must not exceed upperThreshold/,
  },
  { name: "rs-forwarding", kind: "rs", args: { forwarding: "masq" }, field: "forwarding", reason: /nat, dr, tun/ },
  {
    name: "rs-dr-remap",
    kind: "rs",
    args: { forwarding: "dr", port: 8080 },
    field: "port",
    reason: /direct routing cannot remap ports/,
  },
  {
    name: "rs-tun-remap",
    kind: "rs",
    args: { forwarding: "tun", port: 8080 },
    field: "port",
    reason: /tunnelling cannot remap ports/,
  },
  {
    name: "rs-family-mismatch",
    kind: "rs",
    args: { address: "fd00:10::11" },
    field: "address",
    reason: /IPv6 but the virtual service is IPv4/,
  },
  {
    name: "rs-tunnel-on-dr",
    kind: "rs",
    args: { tunnel: { type: "ipip" } },
    field: "tunnel",
    reason: /only for forwarding "tun"/,
  },
  {
    name: "rs-gue-without-port",
    kind: "rs",
    args: { forwarding: "tun", tunnel: { type: "gue" } },
    field: "tunnel.port",
    reason: /is required for a gue tunnel/,
  },
  {
    name: "rs-tunnel-type",
    kind: "rs",
    args: { forwarding: "tun", tunnel: { type: "vxlan" } },
    field: "tunnel.type",
    reason: /ipip|gue|gre/,
  },
  // duplicates
  {
    name: "lb-duplicate-backend",
    kind: "lb",
    args: { forwarding: "nat", backends: [{ address: "10.0.0.11" }, { address: "10.0.0.11" }] },
    field: 'realServers["10.0.0.11:80"]',
    reason: /is the same real server as "10\.0\.0\.11": list each once/,
    resource: /lb-duplicate-backend-tcp-80/,
  },
  // director settings
  {
    name: "dir-vip-address",
    kind: "dir",
    args: vip({ address: "10.0.0.300" }),
    field: "vips.0.address",
    reason: /not an IPv4 or IPv6 address/,
  },
  {
    name: "dir-vip-interface-shell",
    kind: "dir",
    args: vip({ interface: "eth0;reboot" }),
    field: "vips.0.interface",
    reason: /interface name/,
  },
  {
    name: "dir-vip-interface-long",
    kind: "dir",
    args: vip({ interface: "eth0-much-too-long" }),
    field: "vips.0.interface",
    reason: /1-15/,
  },
  { name: "dir-vip-prefix", kind: "dir", args: vip({ prefix: 33 }), field: "vips.0.prefix", reason: /at most 32/ },
  {
    name: "dir-vip-twice",
    kind: "dir",
    args: {
      vips: [
        { address: "10.0.0.100", interface: "eth0" },
        { address: "10.0.0.100", interface: "eth0" },
      ],
    },
    field: "vips.1.address",
    reason: /listed twice/,
  },
  {
    name: "dir-ipvs-sysctl",
    kind: "dir",
    args: { ipvsSysctls: { drop_everything: 1 } },
    field: "ipvsSysctls.drop_everything",
    reason: /is not a known argument/,
  },
  {
    name: "dir-sysctl-value-shell",
    kind: "dir",
    args: { sysctls: { "net.ipv4.ip_forward": "1; reboot" } },
    field: 'sysctls["net.ipv4.ip_forward"]',
    reason: /must be a number/,
  },
  {
    name: "dir-sysctl-name-path",
    kind: "dir",
    args: { sysctls: { "../../etc/shadow": 1 } },
    field: 'sysctls["../../etc/shadow"]',
    reason: /dotted sysctl name/,
  },
  {
    name: "dir-timeout-0",
    kind: "dir",
    args: { timeouts: { tcp: 0 } },
    field: "timeouts.tcp",
    reason: /at least 1 second/,
  },
  {
    name: "dir-module-shell",
    kind: "dir",
    args: { modules: ["ip_vs;reboot"] },
    field: "modules.0",
    reason: /kernel module name/,
  },
  // real-server hosts
  {
    name: "rsh-mode",
    kind: "rsh",
    args: { mode: "snat" },
    field: "mode",
    reason: /"dr" \(direct routing\), "tun" \(IP tunnelling\) or "nat"/,
  },
  { name: "rsh-no-vips", kind: "rsh", args: { vips: [] }, field: "vips", reason: /at least one VIP/ },
  {
    name: "rsh-tun-v6",
    kind: "rsh",
    args: { mode: "tun", vips: ["fd00:10::100"], tunnels: [{ type: "gre" }] },
    field: "vips.0",
    reason: /IPv6 VIPs in tun mode are received over ip6tnl .* add \{type: "ipip"\} to tunnels/,
  },
  { name: "rsh-interface", kind: "rsh", args: { interface: "lo lo" }, field: "interface", reason: /interface name/ },
  {
    name: "rsh-vip-twice",
    kind: "rsh",
    args: { vips: ["10.0.0.100", "10.0.0.100"] },
    field: "vips.1",
    reason: /listed twice/,
  },
];
