// High availability: two directors share the VIP through VRRP (keepalived), with the IPVS
// connection sync daemon, so established connections survive a failover. keepalived makes the
// IPVS rules (engine "keepalived") and checks each real server over HTTP: a real server whose
// HTTP server stops leaves the table, and comes back when it answers again.
//
// Stack config (the tests fill it from the lab; change it to target real hosts):
//   directors     [{ssh: {host, port, user, hostKey}, priority}]  the first is the preferred MASTER
//   privateKey    the SSH private key (secret), used for every host
//   vrrpPassword  the VRRP password (secret, up to 8 characters)
//   vip           the virtual IP (default 10.0.0.100)
//   backends      [{address, ssh: {host, port, user, hostKey}}]
//   drainTimeout  seconds a removed real server keeps its open connections (default 30)
import * as pulumi from "@pulumi/pulumi";
import * as lvs from "pulumi-lvs";

interface Host {
  address: string;
  ssh: lvs.SshConnectionArgs;
}

const config = new pulumi.Config();
const privateKey = config.requireSecret("privateKey");
const directors = config.requireObject<Array<{ ssh: lvs.SshConnectionArgs; priority: number }>>("directors");
const backends = config.requireObject<Host[]>("backends");
const vip = config.get("vip") ?? "10.0.0.100";
const drainTimeout = config.getNumber("drainTimeout") ?? 30;

// The real servers: the VIP on loopback, ARP for it silenced (LVS-DR). Their RealServers depend
// on them: made after the VIP is there, and, when a backend is removed, drained and deleted before
// its VIP goes (a connection being drained needs the VIP on the real server until it ends).
const hosts = new Map<string, lvs.RealServerHost>();
for (const b of backends) {
  hosts.set(
    b.address,
    new lvs.RealServerHost(`host-${b.address}`, {
      connection: { ...b.ssh, privateKey },
      mode: "dr",
      vips: [vip],
    }),
  );
}

export const roles: Record<string, pulumi.Output<string>> = {};

directors.forEach((d, i) => {
  const connection = { ...d.ssh, privateKey };
  // A client that reuses a source port the director still remembers (an LVS-DR director keeps
  // FIN_WAIT entries 2 minutes) would go back to the same real server, even one drained to weight
  // 0; with expire_nodest_conn=1 the kernel schedules it afresh. (keepalived owns the VIP: no vips.)
  new lvs.Director(`director-${i}`, { connection, ipvsSysctls: { expire_nodest_conn: 1 } });
  const vrrp = new lvs.VrrpInstance(`vrrp-${i}`, {
    connection,
    name: "VI_WEB",
    interface: "eth0",
    virtualRouterId: 51,
    priority: d.priority,
    authPass: config.requireSecret("vrrpPassword"),
    vips: [{ address: vip }],
    sync: { interface: "eth0", syncId: 51 },
  });
  roles[`director-${i}`] = vrrp.role;

  // Every director carries the same rules, made by its keepalived; only the MASTER holds the VIP.
  const service = new lvs.VirtualService(`web-${i}`, {
    connection,
    engine: "keepalived",
    protocol: "tcp",
    address: vip,
    port: 80,
    scheduler: "rr",
  });
  for (const b of backends) {
    new lvs.RealServer(
      `web-${i}-${b.address}`,
      {
        service,
        address: b.address,
        forwarding: "dr",
        healthCheck: { type: "http", path: "/", status: 200, interval: 2, timeout: 1, retries: 1, retryDelay: 1 },
        drainTimeout,
      },
      { dependsOn: hosts.get(b.address) },
    );
  }
});
