"use strict";
// Declares pulumi-lvs resources case by case from stack config, so that one program serves the
// reliability suite (bad input at preview, hostile names, many real servers):
//   director:    a connection without its key ({host, port, user, hostKey, ...})
//   privateKey:  the SSH private key (secret)
//   cases:       [{name, kind, args}], kind one of:
//     vs   a VirtualService: a valid tcp service on 10.0.0.100:<port> merged with args
//     rs   a RealServer (args) of a valid VirtualService declared with it (its port: args.servicePort or 80)
//     dir  a Director with args
//     rsh  a RealServerHost with args
//     lb   a LoadBalancer with args
//   In args, `connection` is merged onto the director's connection (a null value removes a field).
const pulumi = require("@pulumi/pulumi");
const lvs = require("pulumi-lvs");

const config = new pulumi.Config();
const privateKey = config.getSecret("privateKey");
const base = config.requireObject("director");
const connectionWith = (over = {}) => {
  const c = { ...base, ...(privateKey ? { privateKey } : {}) };
  for (const [k, v] of Object.entries(over)) {
    if (v === null) delete c[k];
    else c[k] = v;
  }
  return c;
};

/** args without the fields set to null (a case removes a default that way) */
const withoutNulls = (o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null));

const out = {};
for (const { name, kind, args = {} } of config.requireObject("cases")) {
  const { connection: over, servicePort, ...rest } = args;
  const connection = connectionWith(over);
  if (kind === "vs") {
    const vsArgs = {
      connection,
      protocol: "tcp",
      address: "10.0.0.100",
      port: 80,
      scheduler: "rr",
      ...rest,
    };
    const vs = new lvs.VirtualService(name, withoutNulls(vsArgs));
    out[name] = vs.id;
  } else if (kind === "rs") {
    const vs = new lvs.VirtualService(`${name}-service`, {
      connection,
      protocol: "tcp",
      address: "10.0.0.100",
      port: servicePort ?? 80,
      scheduler: "rr",
    });
    out[name] = new lvs.RealServer(name, { service: vs, address: "10.0.0.11", ...rest }).id;
  } else if (kind === "dir") {
    out[name] = new lvs.Director(name, { connection, ...rest }).id;
  } else if (kind === "rsh") {
    out[name] = new lvs.RealServerHost(name, { connection, mode: "dr", vips: ["10.0.0.100"], ...rest }).id;
  } else if (kind === "lb") {
    const lb = new lvs.LoadBalancer(name, {
      director: connection,
      vip: "10.0.0.100",
      ports: [80],
      backends: [],
      ...rest,
      ...(rest.backends
        ? { backends: rest.backends.map((b) => ({ ...b, connection: b.connection && connectionWith(b.connection) })) }
        : {}),
    });
    out[name] = lb.serviceIds;
  } else throw new Error(`case ${name}: unknown kind ${kind}`);
}
module.exports = out;
