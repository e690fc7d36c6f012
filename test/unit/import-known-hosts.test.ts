import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { knownHostKeys } from "../../cli/import/known-hosts";

const A = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILCBTbJP6Dq2OOxwB+HyATaR0xAYWdqJ0MZ0sx6M9a4Y";
const B = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJYs9ozCiZotAfCOtay5OuoME3lnEc7nvgcXgXekjm6f";
const fixture = (name: string) =>
  fs.readFileSync(path.join(__dirname, "../../../test/unit/fixtures/import", name), "utf8");

describe("the importer's known_hosts lookup", () => {
  it("finds a host by name and by [host]:port, and no other host's key", () => {
    const text = `[127.0.0.1]:2201 ${A}\nlb1.example.com,10.1.1.1 ${B}\n`;
    assert.deepEqual(knownHostKeys(text, "127.0.0.1", 2201), [A]);
    assert.deepEqual(knownHostKeys(text, "127.0.0.1", 22), [], "port 22 is the bare name, not [host]:2201");
    assert.deepEqual(knownHostKeys(text, "10.1.1.1", 22), [B]);
    assert.deepEqual(knownHostKeys(text, "lb2.example.com", 22), []);
  });

  it("reads entries hashed by ssh-keygen -H", () => {
    const text = fixture("known_hosts.hashed");
    assert.deepEqual(knownHostKeys(text, "127.0.0.1", 2201), [A]);
    assert.deepEqual(knownHostKeys(text, "lb1.example.com", 22), [B]);
    assert.deepEqual(knownHostKeys(text, "127.0.0.1", 2202), []);
  });

  it("honours wildcards and negation, and skips @revoked and @cert-authority lines", () => {
    const text = `*.example.com,!db.example.com ${A}\n@revoked lb1.example.com ${B}\n@cert-authority * ${B}\n`;
    assert.deepEqual(knownHostKeys(text, "lb1.example.com", 22), [A]);
    assert.deepEqual(knownHostKeys(text, "db.example.com", 22), []);
  });
});
