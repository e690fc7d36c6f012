// The engine floor: as many no-op dynamic resources as the lvs variant declares, with the same
// dependencies (each real server's input depends on its service's output). They touch no host.
const pulumi = require("@pulumi/pulumi");
const lvs = require("pulumi-lvs/testing");

const config = new pulumi.Config();
// services: [{name, address, port, realServers: [{name, address}]}], computed by bench/bench.ts
for (const s of config.requireObject("services")) {
  const vs = new lvs.Noop(s.name, { value: `${s.address}:${s.port}` });
  for (const r of s.realServers) new lvs.Noop(r.name, { value: pulumi.interpolate`${vs.value} ${r.address}:80` });
}
