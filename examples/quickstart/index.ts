// The quickstart: an LVS-DR load balancer. A director holding the VIP, one virtual service, and
// real servers whose hosts are prepared for direct routing (VIP on lo, ARP settings), all from Pulumi.
//
// Stack config (`npm run demo` fills it from the local lab; change it to target real hosts):
//   director      SSH connection to the director: {host, port, user, hostKey}
//   privateKey    the SSH private key (secret), used for every host
//   vip           the virtual IP (default 10.0.0.100)
//   interface     the director's interface on the VIP's network (default eth0)
//   realServers   [{address, ssh: {host, port, user, hostKey}}]: each real server's address on the
//                 VIP's network, and how to reach it over SSH
import * as pulumi from "@pulumi/pulumi";
import * as lvs from "pulumi-lvs";

interface Backend {
  address: string;
  ssh: lvs.SshConnectionArgs;
}

const config = new pulumi.Config();
const privateKey = config.requireSecret("privateKey");
const director: lvs.ConnectionArgs = { ...config.requireObject<lvs.SshConnectionArgs>("director"), privateKey };
const vip = config.get("vip") ?? "10.0.0.100";
const backends = config.requireObject<Backend[]>("realServers");

// The director: holds the VIP (announced with a gratuitous ARP), persisted across reboots.
const lb = new lvs.Director("director", {
  connection: director,
  vips: [{ address: vip, interface: config.get("interface") ?? "eth0" }],
  ipvsSysctls: { expire_nodest_conn: 1 },
});

// The virtual service: round robin over the real servers, which it claims exclusively.
const web = new lvs.VirtualService(
  "web",
  { connection: director, protocol: "tcp", address: vip, port: 80, scheduler: "rr", exclusive: true },
  { dependsOn: lb },
);

export const realServers = backends.map((b, i) => {
  // the real server's host: VIP on lo, arp_ignore=1 / arp_announce=2 first
  const host = new lvs.RealServerHost(`rs${i + 1}-host`, {
    connection: { ...b.ssh, privateKey },
    mode: "dr",
    vips: [vip],
  });
  const rs = new lvs.RealServer(
    `rs${i + 1}`,
    { service: web, address: b.address, forwarding: "dr" },
    { dependsOn: host },
  );
  return rs.id;
});
export const service = web.id;
