import * as assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { lab, labConnection, labPrivateKey, resetLab, sh } from "./harness/lab";
import { savedRules } from "./harness/setup";
import { TestStack } from "./harness/stack";

// Connection and adoption, through the real CLI against the lab's real sshd (dropbear).
// Host-key refusal is part of the reliability suite (reliability.test.ts).
const svc = (extra: Record<string, unknown> = {}) => ({
  name: "web",
  protocol: "tcp",
  address: "10.0.0.100",
  port: 80,
  scheduler: "rr",
  ...extra,
});

async function stackWith(
  name: string,
  director: Record<string, unknown>,
  services: unknown[],
  creds: { key?: boolean; password?: string } = { key: true },
) {
  const s = await TestStack.create(name, { program: "test/e2e/programs/ipvs" });
  await s.stack.setConfig("director", { value: JSON.stringify(director) });
  if (creds.key) await s.stack.setConfig("privateKey", { value: labPrivateKey(), secret: true });
  if (creds.password) await s.stack.setConfig("password", { value: creds.password, secret: true });
  await s.stack.setConfig("services", { value: JSON.stringify(services) });
  return s;
}

async function upError(s: TestStack): Promise<string> {
  let text = "";
  await assert.rejects(
    s.stack.up({
      onOutput: (o) => {
        text += o;
      },
    }),
  );
  return text;
}

describe("connections", () => {
  before(() => resetLab());

  it("a non-root user manages IPVS through sudo -n", async () => {
    const s = await stackWith("sudo", labConnection("director", { user: "deploy", sudo: true }), [svc()]);
    try {
      await s.up();
      assert.deepEqual(await savedRules(), ["-A -t 10.0.0.100:80 -s rr"]);
    } finally {
      await s.dispose();
    }
    assert.deepEqual(await savedRules(), []);
  });

  it("password authentication works, and the password is not in the state", async () => {
    const pw = (lab() as any).users.deploy.password as string;
    const s = await stackWith(
      "password",
      labConnection("director", { user: "deploy", sudo: true, agent: false }),
      [svc()],
      { password: pw },
    );
    try {
      await s.up();
      assert.deepEqual(await savedRules(), ["-A -t 10.0.0.100:80 -s rr"]);
      assert.ok(!s.stateFileText().includes(pw));
    } finally {
      await s.dispose();
    }
  });

  it("a user without sudo rights gets an error naming the host and the remedy", async () => {
    const s = await stackWith("nosudo", labConnection("director", { user: "nosudo", sudo: true }), [svc()]);
    try {
      const text = await upError(s);
      assert.match(text, /on nosudo@127\.0\.0\.1:2201: ipvsadm -A -t 10\.0\.0\.100:80 -s rr failed/);
      assert.match(text, /What to do: .*sudo/);
    } finally {
      await s.dispose();
    }
  });

  it("reaches the director through a jump host", async () => {
    const director = {
      host: "10.0.0.2",
      port: 22,
      user: "root",
      hostKey: lab().hosts.director!.hostKey,
      proxy: labConnection("lab"),
    };
    const s = await stackWith("proxy", director, [svc()]);
    try {
      const r = await s.up();
      assert.equal(r.outputs.services.value.web.id, "10.0.0.2/tcp/10.0.0.100:80");
      assert.deepEqual(await savedRules(), ["-A -t 10.0.0.100:80 -s rr"]);
    } finally {
      await s.dispose();
    }
  });
});

describe("adoption and strays", () => {
  let s: TestStack;
  before(async () => {
    resetLab();
    await sh("director", "ipvsadm -A -t 10.0.0.100:80 -s wlc && ipvsadm -a -t 10.0.0.100:80 -r 10.0.0.11:80 -g -w 1");
    s = await stackWith("adopt", labConnection("director"), [
      svc({ realServers: [{ name: "rs1", address: "10.0.0.11", weight: 2 }] }),
    ]);
  });
  after(async () => {
    await s?.dispose();
  });

  it("create fails on an existing service, saying how to adopt it", async () => {
    const text = await upError(s);
    assert.match(
      text,
      /virtual service tcp\/10\.0\.0\.100:80 already exists on root@127\.0\.0\.1:2201, and this resource does not own it/,
    );
    assert.match(text, /set adopt: true/);
    assert.deepEqual(
      await savedRules(),
      ["-A -t 10.0.0.100:80 -s wlc", "-a -t 10.0.0.100:80 -r 10.0.0.11:80 -g -w 1"],
      "left alone",
    );
  });

  it("with adopt: true, up takes the service and its real server over and converges them", async () => {
    await s.stack.setConfig("services", {
      value: JSON.stringify([
        svc({ adopt: true, realServers: [{ name: "rs1", address: "10.0.0.11", weight: 2, adopt: true }] }),
      ]),
    });
    await s.up();
    assert.deepEqual(await savedRules(), ["-A -t 10.0.0.100:80 -s rr", "-a -t 10.0.0.100:80 -r 10.0.0.11:80 -g -w 2"]);
    await s.preview({ refresh: true, expectNoChanges: true });
  });

  it("a stray real server of a non-exclusive service shows on refresh and is left alone by up", async () => {
    await sh("director", "ipvsadm -a -t 10.0.0.100:80 -r 10.0.0.99:80 -g -w 1");
    let text = "";
    await s.stack.preview({
      refresh: true,
      diff: true,
      onOutput: (o) => {
        text += o;
      },
    });
    assert.match(text, /~ strayRealServers: \[\s*\+ \[0\]: "10\.0\.0\.99:80"/);
    await s.up({ refresh: true });
    assert.ok((await savedRules()).includes("-a -t 10.0.0.100:80 -r 10.0.0.99:80 -g -w 1"), "not touched");
  });

  it("destroy keeps a service that still has a real server the stack does not own", async () => {
    await s.destroy();
    assert.deepEqual(await savedRules(), ["-A -t 10.0.0.100:80 -s rr", "-a -t 10.0.0.100:80 -r 10.0.0.99:80 -g -w 1"]);
  });
});
