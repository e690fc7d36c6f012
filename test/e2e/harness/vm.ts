import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { lab, sh } from "./lab";
import { repoRoot } from "./paths";

/**
 * The lab's real-host tier: Debian VMs with systemd, OpenSSH and Debian's packages, on the lab's
 * LAN (test/lab/vm.sh). These run `test/lab/lab` as a user would and print what it says.
 */
export function labCommand(...args: string[]): string {
  const t0 = Date.now();
  const out = execFileSync(path.join(repoRoot, "test/lab/lab"), args, {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    timeout: 900_000,
  });
  console.log(`[lab] ${args.join(" ")}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return out;
}

/** The VMs' names, from the lab's description. */
export function vmNames(): string[] {
  return Object.entries(lab().hosts)
    .filter(([, h]) => (h as { kind?: string }).kind === "vm")
    .map(([n]) => n);
}

/** A VM's MAC address on the LAN (its first NIC): 52:54:00:12:02:<index among the VMs>. */
export function vmLanMac(name: string): string {
  const i = vmNames().indexOf(name);
  if (i < 0) throw new Error(`no VM ${name}`);
  return `52:54:00:12:02:${(i + 1).toString(16).padStart(2, "0")}`;
}

/** The running kernel's boot id: it changes with every boot, clean or not. */
export async function bootId(host: string): Promise<string> {
  return (await sh(host, "cat /proc/sys/kernel/random/boot_id")).trim();
}

/**
 * Counts, on the lab's bridges (nftables in the lab guest's root namespace, bridge family, forward
 * hook), the ARP replies for `ip` that each of `macs` sends to another port: every frame that
 * crosses the switch is counted, so a reply sent for a few milliseconds during a boot is not missed.
 */
export class ArpWatch {
  private constructor(
    private readonly ip: string,
    private readonly macs: string[],
  ) {}

  static async start(ip: string, macs: string[]): Promise<ArpWatch> {
    const rules = macs.map((m) => `ether saddr ${m} arp operation reply arp saddr ip ${ip} counter`).join("\n    ");
    await sh(
      "lab",
      `nft delete table bridge pulumi_lvs_arpwatch 2>/dev/null; nft -f - <<'EOF'
table bridge pulumi_lvs_arpwatch {
  chain watch {
    type filter hook forward priority 0;
    ${rules}
  }
}
EOF`,
    );
    return new ArpWatch(ip, macs);
  }

  /** The replies counted so far, per MAC. */
  async replies(): Promise<Record<string, number>> {
    const out = await sh("lab", "nft list table bridge pulumi_lvs_arpwatch");
    const counts: Record<string, number> = {};
    for (const mac of this.macs) {
      const m = new RegExp(
        `ether saddr ${mac} .*arp saddr ip ${this.ip.replace(/\./g, "\\.")} counter packets (\\d+)`,
      ).exec(out);
      counts[mac] = Number(m?.[1] ?? Number.NaN);
    }
    return counts;
  }

  async stop(): Promise<void> {
    await sh("lab", "nft delete table bridge pulumi_lvs_arpwatch", { allowFail: true });
  }
}

/**
 * How many SSH connections a VM's OpenSSH server has accepted since its boot, not counting the one
 * that asks (from the journal: the "Accepted publickey" and "Accepted password" lines of ssh.service).
 */
export async function acceptedConnections(host: string): Promise<number> {
  const out = await sh(host, "journalctl -b -u ssh.service -o cat --no-pager | grep -c '^Accepted ' || true");
  return Number(out.trim() || 0) - 1;
}
