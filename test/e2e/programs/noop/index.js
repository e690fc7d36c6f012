"use strict";
const pulumi = require("@pulumi/pulumi");
const lvs = require("pulumi-lvs/testing");

const config = new pulumi.Config();
const n = config.getNumber("count") ?? 2;
const value = config.get("value") ?? "hello";
const items = [];
for (let i = 0; i < n; i++) items.push(new lvs.Noop(`noop-${i}`, { value: `${value}-${i}` }));
exports.values = items.map((r) => r.value);
