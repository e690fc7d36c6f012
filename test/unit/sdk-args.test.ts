import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import type { z } from "zod";
import type { directorInputs, realServerHostInputs } from "../../provider/model/host";
import type { vrrpInstanceInputs } from "../../provider/model/keepalived";
import type { realServerInputs } from "../../provider/model/real-server";
import type { virtualServiceInputs } from "../../provider/model/virtual-service";
import type { DirectorArgs, RealServerArgs, RealServerHostArgs, VirtualServiceArgs, VrrpInstanceArgs } from "../../sdk";
import { providerFor } from "../../sdk/shim";

/** The keys of a zod schema's input, less `owner`: the SDK sets it, users do not. */
type InputKeys<S extends z.ZodType> = Exclude<keyof z.input<S>, "owner">;
/** true when A and B are the same union of keys; a type error (not a run-time failure) otherwise. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : { onlyIn: Exclude<B, A> }) : { onlyIn: Exclude<A, B> };

// Each SDK argument interface has exactly the keys its provider schema validates: a field added to
// one and not the other fails `tsc` (and so `npm test`), naming the key.
const virtualService: Same<keyof VirtualServiceArgs, InputKeys<typeof virtualServiceInputs>> = true;
// (a RealServer's connection is its service's: the SDK passes it on)
const realServer: Same<keyof RealServerArgs, Exclude<InputKeys<typeof realServerInputs>, "connection">> = true;
const director: Same<keyof DirectorArgs, InputKeys<typeof directorInputs>> = true;
const realServerHost: Same<keyof RealServerHostArgs, InputKeys<typeof realServerHostInputs>> = true;
const vrrpInstance: Same<keyof VrrpInstanceArgs, InputKeys<typeof vrrpInstanceInputs>> = true;
const checks = { virtualService, realServer, director, realServerHost, vrrpInstance };

describe("the SDK's argument interfaces", () => {
  it("have the keys of their provider schemas (checked by the compiler)", () => {
    assert.deepEqual(Object.values(checks), [true, true, true, true, true]);
  });
});

describe("the SDK's provider shims", () => {
  it("are one object per resource kind, so that Pulumi serializes each kind once per program", () => {
    assert.equal(providerFor("VirtualService"), providerFor("VirtualService"));
    assert.notEqual(providerFor("VirtualService"), providerFor("RealServer"));
  });

  it("serialize to the kind and a require of the provider package, nothing else (state written before keeps its __provider text)", async () => {
    const p = providerFor("RealServer");
    const { text } = await pulumi.runtime.serializeFunction(() => p, { allowSecrets: true });
    assert.match(text, /with\({ kind: "RealServer", this: undefined/);
    assert.match(text, /require\("pulumi-lvs\/provider"\)\.resourceProvider\(kind\)\.create\(inputs\)/);
    // the memo is not captured: the serialized shim is the same as a fresh object's
    assert.doesNotMatch(text, /providers|Map/);
  });
});
