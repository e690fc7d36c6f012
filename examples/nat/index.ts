// LVS-NAT (masquerading) with the LoadBalancer component: the director rewrites requests to the
// real servers (here on another port) and the replies back, so it must be their default gateway.
// Clients must not sit on the real servers' own network (their replies would bypass the director).
//
// Stack config (the tests fill it from the lab; change it to target real hosts):
//   director     SSH connection to the director: {host, port, user, hostKey}
//   privateKey   the SSH private key (secret)
//   vip          the virtual IP (default 10.0.0.100)
//   port         the port clients use (default 8080)
//   backends     [{address, port}]: the real servers (default port 80)
import * as pulumi from "@pulumi/pulumi";
import * as lvs from "pulumi-lvs";

const config = new pulumi.Config();
const backends = config.requireObject<Array<{ address: string; port?: number }>>("backends");

const lb = new lvs.LoadBalancer("web", {
  director: {
    ...config.requireObject<lvs.SshConnectionArgs>("director"),
    privateKey: config.requireSecret("privateKey"),
  },
  vip: config.get("vip") ?? "10.0.0.100",
  ports: [config.getNumber("port") ?? 8080],
  forwarding: "nat",
  scheduler: "wrr",
  backends: backends.map((b) => ({ address: b.address, port: b.port ?? 80, weight: 1 })),
  directorSettings: { sysctls: { "net.ipv4.conf.all.send_redirects": 0 } },
});

export const services = lb.serviceIds;
export const realServers = lb.realServerIds;
