import { sh } from "./lab";

/** DR host setup done by hand (what the host resources manage): VIP on the director's eth0, VIP on lo + ARP sysctls on the real servers. */
export async function drByHand(vip: string, realServers: string[]): Promise<void> {
  await sh("director", `ip addr replace ${vip}/32 dev eth0`);
  await Promise.all(
    realServers.map((rs) =>
      sh(
        rs,
        "sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.eth0.arp_ignore=1 net.ipv4.conf.eth0.arp_announce=2" +
          ` && ip addr replace ${vip}/32 dev lo`,
      ),
    ),
  );
}

/** NAT host setup done by hand: the director forwards, and is the real servers' default gateway. */
export async function natByHand(vip: string, realServers: string[], director = "10.0.0.2"): Promise<void> {
  await sh(
    "director",
    `ip addr replace ${vip}/32 dev eth0 && sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.eth0.send_redirects=0`,
  );
  await Promise.all(realServers.map((rs) => sh(rs, `ip route replace default via ${director}`)));
}

/** The director's rules as ipvsadm saves them, sorted (an oracle independent of the code under test). */
export async function savedRules(host = "director"): Promise<string[]> {
  const out = await sh(host, "[ -e /proc/net/ip_vs ] && ipvsadm -S -n || true");
  return out
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .sort();
}

/** How many SSH connections a lab host's sshd has accepted so far (from its log). */
export async function sshConnectionCount(host: string): Promise<number> {
  const out = await sh(host, "grep -c 'tcpserver: ok' /var/log/lab-host-start.log || true");
  return Number(out.trim() || 0);
}
