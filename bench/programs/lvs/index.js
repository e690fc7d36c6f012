// pulumi-lvs: one VirtualService per service and one RealServer per real server.
const fs = require("node:fs");
const pulumi = require("@pulumi/pulumi");
const lvs = require("pulumi-lvs");

const config = new pulumi.Config();
const connection = { ...config.requireObject("director"), privateKey: config.requireSecret("privateKey") };
// servicesFile: a JSON file of [{name, address, port, realServers: [{name, address, weight?}]}], written by bench/bench.ts (too large for
// a config value at 10,000 real servers)
for (const s of JSON.parse(fs.readFileSync(config.require("servicesFile"), "utf8"))) {
  const vs = new lvs.VirtualService(s.name, {
    connection,
    protocol: "tcp",
    address: s.address,
    port: s.port,
    scheduler: "rr",
  });
  for (const r of s.realServers) {
    new lvs.RealServer(r.name, { service: vs, address: r.address, port: 80, forwarding: "nat", weight: r.weight ?? 1 });
  }
}
