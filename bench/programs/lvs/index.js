// pulumi-lvs: one VirtualService per service and one RealServer per real server.
const pulumi = require("@pulumi/pulumi");
const lvs = require("pulumi-lvs");

const config = new pulumi.Config();
const connection = { ...config.requireObject("director"), privateKey: config.requireSecret("privateKey") };
// services: [{name, address, port, realServers: [{name, address}]}], computed by bench/bench.ts
for (const s of config.requireObject("services")) {
  const vs = new lvs.VirtualService(s.name, {
    connection,
    protocol: "tcp",
    address: s.address,
    port: s.port,
    scheduler: "rr",
  });
  for (const r of s.realServers) {
    new lvs.RealServer(r.name, { service: vs, address: r.address, port: 80, forwarding: "nat", weight: 1 });
  }
}
