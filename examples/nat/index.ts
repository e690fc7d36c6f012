// LVS-NAT (masquerading) with the LoadBalancer component: the director rewrites requests to the
// real servers (here on another port) and their replies back. Each backend's host gets the return
// path: its replies from the service port go back through the director (policy routing: one rule
// per port and a table of its own), while its default route, and the SSH session pulumi-lvs
// manages it through, stay as they were. Clients may sit on the real servers' own network: the
// director turns off its ICMP redirects.
//
// Stack config (the tests fill it from the lab; change it to target real hosts):
//   director         SSH connection to the director: {host, port, user, hostKey}
//   directorAddress  the director's address on the real servers' network (default 10.0.0.2)
//   privateKey       the SSH private key (secret), used for every host
//   vip              the virtual IP (default 10.0.0.100)
//   port             the port clients use (default 8080)
//   backends         [{address, port, ssh: {host, port, user, hostKey}}]: the real servers (default port 80)
import * as pulumi from "@pulumi/pulumi";
import * as lvs from "pulumi-lvs";

interface Backend {
  address: string;
  port?: number;
  ssh: lvs.SshConnectionArgs;
}

const config = new pulumi.Config();
const privateKey = config.requireSecret("privateKey");
const backends = config.requireObject<Backend[]>("backends");

const lb = new lvs.LoadBalancer("web", {
  director: { ...config.requireObject<lvs.SshConnectionArgs>("director"), privateKey },
  directorAddress: config.get("directorAddress") ?? "10.0.0.2",
  vip: config.get("vip") ?? "10.0.0.100",
  ports: [config.getNumber("port") ?? 8080],
  forwarding: "nat",
  scheduler: "wrr",
  backends: backends.map((b) => ({
    address: b.address,
    port: b.port ?? 80,
    weight: 1,
    connection: { ...b.ssh, privateKey },
  })),
});

export const services = lb.serviceIds;
export const realServers = lb.realServerIds;
