/**
 * `pulumi-lvs doctor`: checks a host before pulumi-lvs manages it, and says what to fix.
 * It only reads: it opens an SSH connection and runs read-only commands.
 */
import * as fs from "node:fs";
import { LIST_LINKS } from "../provider/host/iproute";
import { type HostFacts, hostFactsOf, PROBE_MARK, probeSections } from "../provider/host/probe";
import { ifaceSysctl, parseSysctls } from "../provider/host/sysctl";
import { sshConnection as connectionSchema } from "../provider/model/connection";
import { canonicalAddress } from "../provider/net/address";
import { hostScript } from "../provider/scripts";
import { sectionsScript, splitSections } from "../provider/scripts/sections";
import { SshTransport } from "../provider/transport/ssh";
import type { Transport } from "../provider/transport/transport";

export interface DoctorOptions {
  host: string;
  port: number;
  user: string;
  keyFile?: string;
  hostKey?: string;
  hostKeyFile?: string;
  sudo: boolean;
  /** `director` (default) or `real-server`. */
  role: "director" | "real-server";
  /** For real servers: the VIPs they should hold. */
  vips: string[];
  /** For real servers: `dr` (default) or `tun`. */
  mode: "dr" | "tun";
  dialTimeout: number;
}

export interface Finding {
  check: string;
  ok: boolean;
  detail: string;
  /** What to do, for a failed check. */
  fix?: string;
}

/**
 * What the checks know of a host, read in one round trip: the provider's own probe
 * (provider/host/probe.ts) and doctor's additions (provider/scripts/doctor-facts.sh).
 */
export interface DoctorFacts {
  /** Sysctls, addresses and the default route, as the host resources read them. */
  host: HostFacts;
  /** `ipvsadm --version`, or "missing". */
  ipvsadm: string;
  /** loaded, loadable or unavailable. */
  ipVs: string;
  /** Other IPVS managers running. */
  managers: string[];
  /** ok or missing. */
  ip: string;
  uid: string;
}

/** The ARP and reverse-path settings a real server needs (its default interface's are read by doctor-facts.sh). */
const REAL_SERVER_SYSCTLS = [
  ifaceSysctl("ipv4", "all", "arp_ignore"),
  ifaceSysctl("ipv4", "all", "arp_announce"),
  ifaceSysctl("ipv4", "all", "rp_filter"),
  ifaceSysctl("ipv4", "tunl0", "rp_filter"),
  ifaceSysctl("ipv4", "gre0", "rp_filter"),
];

/** The round trip: the probe's sections, then doctor's, under one mark. */
export function doctorScript(role: DoctorOptions["role"]): string {
  const probe = probeSections({ sysctls: role === "real-server" ? REAL_SERVER_SYSCTLS : [], files: [] });
  return `${sectionsScript(PROBE_MARK, probe)}\n${hostScript("doctor-facts.sh")}`;
}

/** Reads what {@link doctorScript} printed. */
export function parseDoctorFacts(text: string): DoctorFacts {
  const sec = splitSections(text, PROBE_MARK);
  const lines = (k: string) => (sec[k] ?? []).filter(Boolean);
  const value = (k: string) => lines(k).join("\n").trim();
  const host = hostFactsOf(sec);
  for (const [k, v] of parseSysctls(lines("interface-sysctls").join("\n"))) host.sysctls.set(k, v);
  return {
    host,
    ipvsadm: value("ipvsadm"),
    ipVs: value("ip_vs"),
    managers: lines("managers"),
    ip: value("ip"),
    uid: value("uid"),
  };
}

type Check = (f: DoctorFacts, o: DoctorOptions) => Finding[];

const pass = (check: string, detail: string): Finding => ({ check, ok: true, detail });
const fail = (check: string, detail: string, fix: string): Finding => ({ check, ok: false, detail, fix });

const privileges: Check = (f, o) => [
  f.uid === "0"
    ? pass("privileges", o.sudo ? "root through sudo -n" : "root")
    : fail(
        "privileges",
        `commands run as uid ${f.uid || "?"}${o.sudo ? " (sudo -n failed)" : ""}`,
        o.sudo ? "give the user passwordless sudo (NOPASSWD)" : "connect as root, or use --sudo with passwordless sudo",
      ),
];

const iproute2: Check = (f) => [
  f.ip !== "ok"
    ? fail("iproute2", "ip is missing", "apt-get install iproute2")
    : f.host.links.size === 0
      ? fail(
          "iproute2",
          `\`${LIST_LINKS}\` lists no interface: this ip prints no JSON`,
          "install iproute2 4.13 or later",
        )
      : pass("iproute2", "ip is installed"),
];

const ipvsadm: Check = (f) => [
  f.ipvsadm && f.ipvsadm !== "missing"
    ? pass("ipvsadm", f.ipvsadm)
    : fail("ipvsadm", "ipvsadm is not installed", "apt-get install ipvsadm (RHEL: dnf install ipvsadm)"),
];

const ipVs: Check = (f) => [
  f.ipVs === "unavailable"
    ? fail(
        "ip_vs",
        "the ip_vs kernel module is neither loaded nor loadable",
        "install the kernel's extra modules (Ubuntu: linux-modules-extra-$(uname -r)) or use a kernel with CONFIG_IP_VS",
      )
    : pass("ip_vs", f.ipVs === "loaded" ? "loaded" : "loadable (not loaded yet)"),
];

const otherManagers: Check = (f) => [
  f.managers.length === 0
    ? pass("other IPVS managers", "no keepalived, kube-proxy or ldirectord running")
    : fail(
        "other IPVS managers",
        `${f.managers.join(", ")} running: it manages IPVS rules too, and may fight pulumi-lvs over them`,
        "manage disjoint services (pulumi-lvs never touches rules it does not own), or stop the other manager",
      ),
];

const realServerSysctls: Check = (f, o) => {
  const i = f.host.defaultInterface ?? "?";
  const want: Array<[string, string]> = [
    ["all.arp_ignore", "1"],
    ["all.arp_announce", "2"],
    [`${i}.arp_ignore`, "1"],
    [`${i}.arp_announce`, "2"],
  ];
  // tun: rp_filter off on all and on each IPv4 tunnel device that holds a VIP (tunl0 when none does)
  const tunnels = [...new Set(vipDevices(f, o).filter((d) => d !== "ip6tnl0"))];
  if (o.mode === "tun")
    want.push(
      ["all.rp_filter", "0"],
      ...(tunnels.length ? tunnels : ["tunl0"]).map((d): [string, string] => [`${d}.rp_filter`, "0"]),
    );
  return want.map(([k, v]) => {
    const check = `net.ipv4.conf.${k}`;
    const have = f.host.sysctls.get(check) ?? "-";
    return have === v
      ? pass(check, v)
      : fail(
          check,
          `is ${have}, LVS-${o.mode.toUpperCase()} needs ${v}`,
          `declare a RealServerHost (mode ${o.mode}) for this host, or set it in /etc/sysctl.d/`,
        );
  });
};

/** Where a real server's VIPs may sit: lo for DR; a tunnel's device for TUN (see RealServerHost). */
const VIP_DEVICES = { dr: ["lo"], tun: ["tunl0", "gre0", "ip6tnl0"] };

/** The devices that hold the VIPs. */
function vipDevices(f: DoctorFacts, o: DoctorOptions): string[] {
  return f.host.addresses
    .filter((a) => VIP_DEVICES[o.mode].includes(a.device) && o.vips.some((v) => sameForm(v) === a.address))
    .map((a) => a.device);
}

const realServerVips: Check = (f, o) => {
  const devices = VIP_DEVICES[o.mode];
  return o.vips.map((vip) => {
    const on = f.host.addresses.find((a) => devices.includes(a.device) && a.address === sameForm(vip));
    return on
      ? pass(`VIP ${vip}`, `on ${on.device}`)
      : fail(`VIP ${vip}`, `not on ${devices.join(" or ")}`, `declare a RealServerHost (mode ${o.mode}) with this VIP`);
  });
};

/** An address as `ip` prints it (a malformed one as given: it matches nothing). */
function sameForm(address: string): string {
  try {
    return canonicalAddress(address);
  } catch {
    return address;
  }
}

/** The checks of each role, in the order they are reported. */
const CHECKS: Record<DoctorOptions["role"], Check[]> = {
  director: [privileges, iproute2, ipvsadm, ipVs, otherManagers],
  "real-server": [privileges, iproute2, realServerSysctls, realServerVips],
};

/** The SSH target of the options, or the finding that says why there is none. */
function targetOf(o: DoctorOptions, hostKey: string | undefined) {
  return connectionSchema.safeParse({
    host: o.host,
    port: o.port,
    user: o.user,
    privateKey: o.keyFile ? fs.readFileSync(o.keyFile, "utf8") : undefined,
    hostKey,
    insecureIgnoreHostKey: hostKey === undefined,
    sudo: o.sudo,
    dialTimeout: o.dialTimeout,
    dialAttempts: 1,
  });
}

export async function doctor(o: DoctorOptions, transport?: Transport): Promise<Finding[]> {
  const hostKey = o.hostKey ?? (o.hostKeyFile ? fs.readFileSync(o.hostKeyFile, "utf8") : undefined);
  const parsed = targetOf(o, hostKey);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    return [{ check: "arguments", ok: false, detail }];
  }
  const findings: Finding[] = [];
  if (hostKey === undefined)
    findings.push(
      fail(
        "host key",
        "no host key given: the key the host presents was not checked",
        "pass --host-key 'ssh-ed25519 AAAA…' (ssh-keyscan -t ed25519 HOST); pulumi-lvs requires a pinned key",
      ),
    );
  const t = transport ?? new SshTransport(parsed.data, undefined, o.sudo);
  let facts: DoctorFacts;
  try {
    facts = parseDoctorFacts((await t.run(doctorScript(o.role))).stdout);
    findings.push(pass("ssh", `reached ${t.label}${hostKey ? ", host key matches the pinned key" : ""}`));
  } catch (e) {
    findings.push(fail("ssh", (e as Error).message, "fix reachability, credentials or the host key first"));
    return findings;
  } finally {
    (t as { close?: () => void }).close?.();
  }
  return [...findings, ...CHECKS[o.role].flatMap((check) => check(facts, o))];
}

export function report(findings: Finding[]): string {
  const lines = findings.map(
    (f) => `${f.ok ? "ok  " : "FAIL"}  ${f.check}: ${f.detail}${f.fix ? `\n        fix: ${f.fix}` : ""}`,
  );
  const bad = findings.filter((f) => !f.ok).length;
  lines.push("", bad === 0 ? "no problem found" : `${bad} problem${bad > 1 ? "s" : ""} found`);
  return lines.join("\n");
}
