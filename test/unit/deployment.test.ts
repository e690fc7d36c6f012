import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import { deployment, resetClaims } from "../../provider/resources/check";

// The memory of one deployment in the provider process: one object, forgotten as a whole.
describe("the deployment's memory", () => {
  it("a reset forgets everything: claims, declared real servers, inline services, host needs", () => {
    resetClaims();
    const d = deployment();
    assert.equal(d.claim("h/tcp/10.0.0.1:80", "p/s/a"), undefined);
    d.declareRealServer("h", "tcp/10.0.0.1:80", "10.0.0.11:80");
    d.checkInlineService("h", "tcp/10.0.0.1:80", "p/s/a", ["10.0.0.12:80"]);
    d.checkHostNeed("10.0.0.11", "p/s/rs", { text: "gre", remedy: "add gre" });
    assert.equal(d.claim("h/tcp/10.0.0.1:80", "p/s/b"), "p/s/a", "remembered before the reset");
    assert.equal(d.isDeclaredRealServer("h", "tcp/10.0.0.1:80", "10.0.0.11:80"), true);

    resetClaims();
    const fresh = deployment();
    assert.equal(fresh.claim("h/tcp/10.0.0.1:80", "p/s/b"), undefined);
    assert.equal(fresh.isDeclaredRealServer("h", "tcp/10.0.0.1:80", "10.0.0.11:80"), false);
    assert.equal(fresh.inlineOwnerOf("h", "tcp/10.0.0.1:80", "10.0.0.12:80"), undefined);
    assert.equal(fresh.checkSeparateRealServer("h", "tcp/10.0.0.1:80", "p/s/rs"), undefined);
    assert.equal(fresh.checkHostProvides(["10.0.0.11"], "p/s/host", "tun", []), undefined);
  });
});
