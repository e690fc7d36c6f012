"use strict";
// Builds pulumi-lvs resources from stack config, so that one program serves many end-to-end tests:
//   director:        a connection without its key ({host, port, user, hostKey, ...})
//   privateKey:      the SSH private key (secret; optional)
//   password:        a login password (secret; optional)
//   privateKeyPassphrase: the private key's passphrase (secret; optional)
//   directorHost:    optional Director arguments (without connection)
//   hosts:           optional {name: connection-without-key} of real-server hosts
//   realServerHosts: optional [{name, host, mode, vips, ...}] (host: a key of `hosts`)
//   services:        [{name, protocol, address, port | fwmark, family, scheduler, ..., realServers: [{name, address, ...}]}]
const pulumi = require("@pulumi/pulumi");
const lvs = require("pulumi-lvs");

const config = new pulumi.Config();
const privateKey = config.getSecret("privateKey");
const password = config.getSecret("password");
const privateKeyPassphrase = config.getSecret("privateKeyPassphrase");
const credentials = {
  ...(privateKey ? { privateKey } : {}),
  ...(privateKeyPassphrase ? { privateKeyPassphrase } : {}),
  ...(password ? { password } : {}),
};
const withCredentials = (c) => ({ ...c, ...credentials, ...(c.proxy ? { proxy: { ...c.proxy, ...credentials } } : {}) });
const connection = withCredentials(config.requireObject("director"));
const hosts = config.getObject("hosts") ?? {};
const out = { services: {}, hosts: {} };

const deps = [];
const directorHost = config.getObject("directorHost");
if (directorHost) {
  const d = new lvs.Director("director", { connection, ...directorHost });
  out.director = { id: d.id, announced: d.announced };
  deps.push(d);
}
for (const { name, host, ...args } of config.getObject("realServerHosts") ?? []) {
  const h = new lvs.RealServerHost(name, { connection: withCredentials(hosts[host]), ...args });
  out.hosts[name] = { id: h.id, interface: h.effectiveInterface };
  deps.push(h);
}
for (const { name, realServers = [], ...args } of config.getObject("services") ?? []) {
  const vs = new lvs.VirtualService(name, { connection, ...args }, { dependsOn: deps });
  out.services[name] = { id: vs.id, scheduler: vs.scheduler, strays: vs.strayRealServers, realServers: {} };
  for (const { name: rsName, ...rsArgs } of realServers) {
    const rs = new lvs.RealServer(rsName, { service: vs, ...rsArgs });
    out.services[name].realServers[rsName] = { id: rs.id, weight: rs.weight };
  }
}
module.exports = out;
