"use strict";
// One VirtualService with inline real servers, in one of two forms (config `form`):
//   objects: as the version before packed inline real servers wrote it: a pulumi.dynamic.Resource
//            with the SDK's provider shim, its owner and secret connection, and each entry an object
//   sdk:     the SDK's VirtualService (each entry sent as one packed string)
// Config: director (a connection without its key), privateKey (secret), vip, entries ({key: settings}).
const path = require("node:path");
const pulumi = require("@pulumi/pulumi");
const lvs = require("pulumi-lvs");
// (not exported by the package: loaded by path, the same module the SDK uses)
const sdkDir = path.dirname(require.resolve("pulumi-lvs"));
const { providerFor } = require(path.join(sdkDir, "shim.js"));
const { ownerOf, withSecretOutputs } = require(path.join(sdkDir, "options.js"));

const config = new pulumi.Config();
const connection = { ...config.requireObject("director"), privateKey: config.requireSecret("privateKey") };
const args = {
  connection,
  protocol: "tcp",
  address: config.require("vip"),
  port: 80,
  scheduler: "wrr",
  realServers: config.requireObject("entries"),
};

let service;
if (config.require("form") === "objects") {
  const props = {
    ...args,
    connection: pulumi.secret(connection),
    owner: ownerOf("web"),
    observed: undefined,
    strayRealServers: undefined,
  };
  service = new pulumi.dynamic.Resource(
    providerFor("VirtualService"),
    "web",
    props,
    withSecretOutputs({}),
    "lvs",
    "VirtualService",
  );
} else {
  service = new lvs.VirtualService("web", args);
}
module.exports = { id: service.id, realServers: service.realServers };
