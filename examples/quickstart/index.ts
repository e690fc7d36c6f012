// The quickstart: an LVS-DR load balancer, one virtual service and its real servers.
//
// Stack config (the demo fills it from the lab; change it to target real hosts):
//   director     connection to the director: {host, port, user, hostKey}
//   privateKey   the SSH private key (secret)
//   vip          the virtual IP (default 10.0.0.100)
//   realServers  the real servers' addresses
import * as pulumi from "@pulumi/pulumi";
import * as lvs from "pulumi-lvs";

const config = new pulumi.Config();
const connection: lvs.ConnectionArgs = {
  ...config.requireObject<lvs.ConnectionArgs>("director"),
  privateKey: config.requireSecret("privateKey"),
};
const vip = config.get("vip") ?? "10.0.0.100";
const realServers = config.requireObject<string[]>("realServers");

const web = new lvs.VirtualService("web", {
  connection,
  protocol: "tcp",
  address: vip,
  port: 80,
  scheduler: "rr",
  exclusive: true,
});

const backends = realServers.map(
  (address, i) => new lvs.RealServer(`web-${i + 1}`, { service: web, address, forwarding: "dr", weight: 1 }),
);

export const service = web.id;
export const realServerIds = backends.map((b) => b.id);
