/**
 * `pulumi-lvs doctor`: checks a host before pulumi-lvs manages it, and says what to fix.
 * It only reads: it opens an SSH connection and runs read-only commands.
 */
import * as fs from "node:fs";
import { sshConnection as connectionSchema } from "../provider/model/connection";
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

const MARK = "#doctor";

/** One read-only round trip with everything the checks need. */
function facts(role: string): string {
  return [
    `echo '${MARK} ipvsadm'; command -v ipvsadm >/dev/null 2>&1 && ipvsadm --version 2>&1 | head -1 || echo missing`,
    `echo '${MARK} ip_vs'; if [ -e /proc/net/ip_vs ]; then echo loaded; elif modprobe -n -q ip_vs 2>/dev/null || [ -n "$(find /lib/modules/$(uname -r) -name 'ip_vs.ko*' 2>/dev/null | head -1)" ]; then echo loadable; else echo unavailable; fi`,
    `echo '${MARK} managers'; for p in keepalived kube-proxy ldirectord; do pidof $p >/dev/null 2>&1 && echo $p; done; true`,
    `echo '${MARK} ip'; command -v ip >/dev/null 2>&1 && echo ok || echo missing`,
    `echo '${MARK} uid'; id -u`,
    role === "real-server"
      ? `echo '${MARK} sysctls'; i=$(ip -o -4 route show default | sed -n 's/.* dev \\([^ ]*\\).*/\\1/p' | head -1); for k in all/arp_ignore all/arp_announce $i/arp_ignore $i/arp_announce all/rp_filter tunl0/rp_filter; do printf '%s=%s\\n' $k "$(cat /proc/sys/net/ipv4/conf/$k 2>/dev/null || echo -)"; done; echo '${MARK} addresses'; ip -o addr show`
      : ":",
    `echo '${MARK} route'; ip -o -4 route show default 2>/dev/null`,
  ].join("\n");
}

function sections(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let cur = "";
  for (const line of text.split("\n")) {
    if (line.startsWith(MARK)) {
      cur = line.slice(MARK.length).trim();
      out[cur] = "";
    } else if (cur) out[cur] += `${line}\n`;
  }
  return out;
}

export async function doctor(o: DoctorOptions, transport?: Transport): Promise<Finding[]> {
  const findings: Finding[] = [];
  const hostKey = o.hostKey ?? (o.hostKeyFile ? fs.readFileSync(o.hostKeyFile, "utf8") : undefined);
  const parsed = connectionSchema.safeParse({
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
  if (!parsed.success) {
    return [
      {
        check: "arguments",
        ok: false,
        detail: parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "),
      },
    ];
  }
  if (hostKey === undefined) {
    findings.push({
      check: "host key",
      ok: false,
      detail: "no host key given: the key the host presents was not checked",
      fix: "pass --host-key 'ssh-ed25519 AAAA…' (ssh-keyscan -t ed25519 HOST); pulumi-lvs requires a pinned key",
    });
  }
  const t = transport ?? new SshTransport(parsed.data, undefined, o.sudo);
  let text: string;
  try {
    const r = await t.run(facts(o.role));
    text = r.stdout;
    findings.push({
      check: "ssh",
      ok: true,
      detail: `reached ${t.label}${hostKey ? ", host key matches the pinned key" : ""}`,
    });
  } catch (e) {
    findings.push({
      check: "ssh",
      ok: false,
      detail: (e as Error).message,
      fix: "fix reachability, credentials or the host key first",
    });
    return findings;
  } finally {
    (t as { close?: () => void }).close?.();
  }
  const s = sections(text);
  const uid = (s.uid ?? "").trim();
  findings.push(
    uid === "0"
      ? { check: "privileges", ok: true, detail: o.sudo ? "root through sudo -n" : "root" }
      : {
          check: "privileges",
          ok: false,
          detail: `commands run as uid ${uid || "?"}${o.sudo ? " (sudo -n failed)" : ""}`,
          fix: o.sudo
            ? "give the user passwordless sudo (NOPASSWD)"
            : "connect as root, or use --sudo with passwordless sudo",
        },
  );
  const ip = (s.ip ?? "").trim();
  findings.push(
    ip === "ok"
      ? { check: "iproute2", ok: true, detail: "ip is installed" }
      : { check: "iproute2", ok: false, detail: "ip is missing", fix: "apt-get install iproute2" },
  );
  if (o.role === "director") {
    const v = (s.ipvsadm ?? "").trim();
    findings.push(
      v && v !== "missing"
        ? { check: "ipvsadm", ok: true, detail: v }
        : {
            check: "ipvsadm",
            ok: false,
            detail: "ipvsadm is not installed",
            fix: "apt-get install ipvsadm (RHEL: dnf install ipvsadm)",
          },
    );
    const m = (s.ip_vs ?? "").trim();
    findings.push(
      m === "unavailable"
        ? {
            check: "ip_vs",
            ok: false,
            detail: "the ip_vs kernel module is neither loaded nor loadable",
            fix: "install the kernel's extra modules (Ubuntu: linux-modules-extra-$(uname -r)) or use a kernel with CONFIG_IP_VS",
          }
        : { check: "ip_vs", ok: true, detail: m === "loaded" ? "loaded" : "loadable (not loaded yet)" },
    );
    const managers = (s.managers ?? "").split("\n").filter(Boolean);
    findings.push(
      managers.length === 0
        ? { check: "other IPVS managers", ok: true, detail: "no keepalived, kube-proxy or ldirectord running" }
        : {
            check: "other IPVS managers",
            ok: false,
            detail: `${managers.join(", ")} running: it manages IPVS rules too, and may fight pulumi-lvs over them`,
            fix: "manage disjoint services (pulumi-lvs never touches rules it does not own), or stop the other manager",
          },
    );
  } else {
    const kv = Object.fromEntries(
      (s.sysctls ?? "")
        .split("\n")
        .filter(Boolean)
        .map((l) => l.split("=") as [string, string]),
    );
    const iface = /dev (\S+)/.exec(s.route ?? "")?.[1] ?? "?";
    const want: Array<[string, string]> = [
      ["all/arp_ignore", "1"],
      ["all/arp_announce", "2"],
      [`${iface}/arp_ignore`, "1"],
      [`${iface}/arp_announce`, "2"],
    ];
    if (o.mode === "tun") want.push(["all/rp_filter", "0"], ["tunl0/rp_filter", "0"]);
    for (const [k, v] of want) {
      const have = kv[k] ?? "-";
      findings.push(
        have === v
          ? { check: `net.ipv4.conf.${k.replace("/", ".")}`, ok: true, detail: v }
          : {
              check: `net.ipv4.conf.${k.replace("/", ".")}`,
              ok: false,
              detail: `is ${have}, LVS-${o.mode.toUpperCase()} needs ${v}`,
              fix: `declare a RealServerHost (mode ${o.mode}) for this host, or set it in /etc/sysctl.d/`,
            },
      );
    }
    const dev = o.mode === "tun" ? "tunl0" : "lo";
    for (const vip of o.vips) {
      const has = new RegExp(`^\\d+:\\s+${dev}\\s+inet6?\\s+${vip.replace(/\./g, "\\.")}/`, "m").test(
        s.addresses ?? "",
      );
      findings.push(
        has
          ? { check: `VIP ${vip}`, ok: true, detail: `on ${dev}` }
          : {
              check: `VIP ${vip}`,
              ok: false,
              detail: `not on ${dev}`,
              fix: `declare a RealServerHost (mode ${o.mode}) with this VIP`,
            },
      );
    }
  }
  return findings;
}

export function report(findings: Finding[]): string {
  const lines = findings.map(
    (f) => `${f.ok ? "ok  " : "FAIL"}  ${f.check}: ${f.detail}${f.fix ? `\n        fix: ${f.fix}` : ""}`,
  );
  const bad = findings.filter((f) => !f.ok).length;
  lines.push("", bad === 0 ? "no problem found" : `${bad} problem${bad > 1 ? "s" : ""} found`);
  return lines.join("\n");
}
