// pulumi-lvs with inline real servers: one VirtualService per service, its real servers in its
// realServers map (keyed address:port). The whole table is as many resources as services.
const fs = require("node:fs");
const pulumi = require("@pulumi/pulumi");
const lvs = require("pulumi-lvs");

const config = new pulumi.Config();
const connection = { ...config.requireObject("director"), privateKey: config.requireSecret("privateKey") };
// servicesFile: a JSON file of [{name, address, port, realServers: [{name, address, weight?}]}], written by bench/bench.ts (too large for
// a config value at 10,000 real servers)
for (const s of JSON.parse(fs.readFileSync(config.require("servicesFile"), "utf8"))) {
  new lvs.VirtualService(s.name, {
    connection,
    protocol: "tcp",
    address: s.address,
    port: s.port,
    scheduler: "rr",
    realServers: Object.fromEntries(
      s.realServers.map((r) => [`${r.address}:80`, { forwarding: "nat", weight: r.weight ?? 1 }]),
    ),
  });
}
