// The director deploys itself: pulumi runs on the director, which it programs directly
// (connection: { local: true }): IPVS rules and timeouts through generic netlink, sysctls through
// /proc/sys, no SSH and no ipvsadm. LVS-NAT with a port remap, so the real servers need nothing from pulumi-lvs
// (only a route back through the director, as for any NAT setup).
//
// Run it on the director, as root. Stack config (the lab test fills it):
//   vip          the virtual IP (default 10.0.0.100)
//   port         the port clients use (default 8080)
//   backends     [{address, port}]: the real servers (default port 80); weights 1, 2, 3, ...
import * as pulumi from "@pulumi/pulumi";
import * as lvs from "pulumi-lvs";

const config = new pulumi.Config();
const backends = config.requireObject<Array<{ address: string; port?: number }>>("backends");

const lb = new lvs.LoadBalancer("web", {
  director: { local: true },
  vip: config.get("vip") ?? "10.0.0.100",
  ports: [config.getNumber("port") ?? 8080],
  forwarding: "nat",
  scheduler: "wrr",
  backends: backends.map((b, i) => ({ address: b.address, port: b.port ?? 80, weight: i + 1 })),
  // connection timeouts (what `ipvsadm --set` does), set through netlink too
  directorSettings: { timeouts: { tcp: 600, tcpFin: 30, udp: 60 } },
});

export const services = lb.serviceIds;
export const realServers = lb.realServerIds;
