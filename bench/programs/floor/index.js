// The engine floor: as many no-op dynamic resources as the lvs variant declares, with the same
// dependencies (each real server's input depends on its service's output). They touch no host.
const fs = require("node:fs");
const pulumi = require("@pulumi/pulumi");
const lvs = require("pulumi-lvs/testing");

const config = new pulumi.Config();
// servicesFile: a JSON file of [{name, address, port, realServers: [{name, address, weight?}]}], written by bench/bench.ts (too large for
// a config value at 10,000 real servers)
for (const s of JSON.parse(fs.readFileSync(config.require("servicesFile"), "utf8"))) {
  const vs = new lvs.Noop(s.name, { value: `${s.address}:${s.port}` });
  for (const r of s.realServers)
    new lvs.Noop(r.name, { value: pulumi.interpolate`${vs.value} ${r.address}:80 ${r.weight ?? 1}` });
}
