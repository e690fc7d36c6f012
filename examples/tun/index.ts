// LVS-TUN (IP tunnelling) with the LoadBalancer component: the director encapsulates requests (here
// in GRE) to real servers that may sit on other networks; they reply to the clients directly. Each
// backend's host is prepared for the tunnel type: gre0 (ip_gre), tunl0 (ipip), or a GUE port.
//
// Stack config (the tests fill it from the lab; change it to target real hosts):
//   director     SSH connection to the director: {host, port, user, hostKey}
//   privateKey   the SSH private key (secret), used for every host
//   vip          the virtual IP (default 10.0.0.100)
//   backends     [{address, ssh: {host, port, user, hostKey}}]
//   tunnel       {type: "gre" | "ipip" | "gue", port?, checksum?} (default {type: "gre"}; gue needs port)
import * as pulumi from "@pulumi/pulumi";
import * as lvs from "pulumi-lvs";

interface Backend {
  address: string;
  ssh: lvs.SshConnectionArgs;
}

const config = new pulumi.Config();
const privateKey = config.requireSecret("privateKey");
const backends = config.requireObject<Backend[]>("backends");

const lb = new lvs.LoadBalancer("web", {
  director: { ...config.requireObject<lvs.SshConnectionArgs>("director"), privateKey },
  vip: config.get("vip") ?? "10.0.0.100",
  ports: [80],
  forwarding: "tun",
  tunnel: config.getObject<lvs.LoadBalancerArgs["tunnel"]>("tunnel") ?? { type: "gre" },
  scheduler: "rr",
  backends: backends.map((b) => ({ address: b.address, connection: { ...b.ssh, privateKey } })),
});

export const services = lb.serviceIds;
export const realServers = lb.realServerIds;
