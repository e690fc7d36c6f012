import * as assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { labConnection, labPrivateKey, ledgerRules, requests, resetLab, sh } from "./harness/lab";
import { webService as labWebService } from "./harness/services";
import { drByHand, natByHand, savedRules, sshConnectionCount } from "./harness/setup";
import { TestStack } from "./harness/stack";

// VirtualService and RealServer through the real pulumi CLI, against the real kernel.
const VIP = "10.0.0.100";
const rsNames = ["rs1", "rs2", "rs3"];
const rsAddr: Record<string, string> = { rs1: "10.0.0.11", rs2: "10.0.0.12", rs3: "10.0.0.13" };

function webService(extra: Record<string, unknown> = {}, rsExtra: Record<string, Record<string, unknown>> = {}) {
  return labWebService({
    vip: VIP,
    realServers: rsAddr,
    forwarding: "dr",
    extra: { exclusive: true, ...extra },
    rsExtra,
  });
}

async function setServices(s: TestStack, services: unknown[]) {
  await s.stack.setConfig("services", { value: JSON.stringify(services) });
}

async function newStack(name: string, services: unknown[]): Promise<TestStack> {
  const s = await TestStack.create(name, { program: "test/e2e/programs/ipvs" });
  await s.stack.setConfig("director", { value: JSON.stringify(labConnection("director")) });
  await s.stack.setConfig("privateKey", { value: labPrivateKey(), secret: true });
  await setServices(s, services);
  return s;
}

describe("DR load balancer from VirtualService + RealServer", () => {
  let s: TestStack;
  before(async () => {
    resetLab();
    await drByHand(VIP, rsNames);
    s = await newStack("dr", [webService()]);
  });
  after(async () => {
    await s?.dispose();
  });

  it("up creates the service and its real servers over one SSH connection", async () => {
    const before = await sshConnectionCount("director");
    const r = await s.up();
    assert.equal(r.summary.result, "succeeded");
    assert.equal(r.summary.resourceChanges?.create, 5);
    assert.equal((await sshConnectionCount("director")) - before, 2, "one connection by pulumi-lvs, one by this check");
    assert.deepEqual(
      await savedRules(),
      [`-A -t ${VIP}:80 -s rr`, ...rsNames.map((n) => `-a -t ${VIP}:80 -r ${rsAddr[n]}:80 -g -w 1`)].sort(),
    );
    assert.equal(r.outputs.services.value.web.id, `127.0.0.1:2201/tcp/${VIP}:80`);
  });

  it("rr spreads real traffic evenly over the three real servers", async () => {
    const counts = await requests("client", `http://${VIP}/`, 30);
    // exact: the lab's hosts reschedule a connection that reuses a client port (test/lab/guest/lab-host-start)
    assert.deepEqual(counts, { rs1: 10, rs2: 10, rs3: 10 });
  });

  it("a second up changes nothing, and preview --expect-no-changes passes", async () => {
    const r = await s.up();
    assert.deepEqual(r.summary.resourceChanges, { same: 5 });
    await s.preview({ refresh: true, expectNoChanges: true });
  });

  it("the state holds no plaintext private key", () => {
    const body = labPrivateKey().split("\n")[1]!;
    assert.ok(body.length > 20);
    assert.ok(!s.stateFileText().includes(body), "the key's base64 does not appear in the state");
  });

  it("a weight change is applied in place while a client loops: no failed request, no delete", async () => {
    const loop = requests("client", `http://${VIP}/`, 150);
    await new Promise((r) => setTimeout(r, 1500));
    await setServices(s, [webService({}, { rs1: { weight: 3 } })]);
    const r = await s.up();
    const counts = await loop;
    assert.deepEqual(r.summary.resourceChanges, { same: 4, update: 1 });
    assert.equal(counts.FAIL, undefined, `no failed request: ${JSON.stringify(counts)}`);
    assert.equal((counts.rs1 ?? 0) + (counts.rs2 ?? 0) + (counts.rs3 ?? 0), 150);
    assert.ok((await savedRules()).includes(`-a -t ${VIP}:80 -r 10.0.0.11:80 -g -w 3`));
  });

  it("drift made with ipvsadm by hand shows in preview --refresh, and up --refresh repairs it", async () => {
    await sh(
      "director",
      [
        `ipvsadm -e -t ${VIP}:80 -r 10.0.0.11:80 -g -w 9`, // weight
        `ipvsadm -e -t ${VIP}:80 -r 10.0.0.13:80 -g -w 1 -x 50 -y 10`, // thresholds
        `ipvsadm -d -t ${VIP}:80 -r 10.0.0.12:80`, // a real server deleted
        `ipvsadm -a -t ${VIP}:80 -r 10.0.0.99:80 -g -w 1`, // a stray one
        `ipvsadm -E -t ${VIP}:80 -s wlc`, // scheduler
      ].join(" && "),
    );
    const text = await s.previewDrift({ diff: true });
    // the refresh part of the preview names each drift, in ipvsadm's terms
    assert.match(text, /::rs1\]\s*--outputs:--\s*~ weight\s*: 3 => 9/, "names the weight change");
    assert.match(
      text,
      /::rs3\]\s*--outputs:--\s*~ lowerThreshold: 0 => 10\s*~ upperThreshold: 0 => 50/,
      "names the thresholds",
    );
    assert.match(text, /::rs2\]\s*--outputs:--\s*- address\s*: "10\.0\.0\.12"/, "shows the deleted real server gone");
    assert.match(
      text,
      /\+ pulumi-nodejs:dynamic\/lvs:RealServer: \(create\)\s*\[urn=[^\]]*::rs2\]/,
      "and recreates it",
    );
    assert.match(text, /~ scheduler\s*: "rr" => "wlc"/, "names the scheduler change");
    assert.match(text, /~ strayRealServers: \[\s*\+ \[0\]: "10\.0\.0\.99:80"/, "names the stray real server");
    const r = await s.up({ refresh: true });
    assert.equal(r.summary.result, "succeeded");
    assert.deepEqual(
      await savedRules(),
      [
        `-A -t ${VIP}:80 -s rr`,
        `-a -t ${VIP}:80 -r 10.0.0.11:80 -g -w 3`,
        `-a -t ${VIP}:80 -r 10.0.0.12:80 -g -w 1`,
        `-a -t ${VIP}:80 -r 10.0.0.13:80 -g -w 1`,
      ].sort(),
    );
    const thresholds = await sh("director", "ipvsadm -L -n --thresholds");
    assert.match(thresholds, /10\.0\.0\.13:80\s+0\s+0\s/, "thresholds repaired");
    await s.preview({ refresh: true, expectNoChanges: true });
  });

  it("a lost ledger (rules still in the kernel) is rebuilt by up --refresh without dropping a real server", async () => {
    const rules = await savedRules();
    await sh("director", "rm -f /var/lib/pulumi-lvs/ipvs.rules");
    const text = await s.previewDrift({ diff: true });
    assert.match(text, /~ owned\s*: true => false/, "the real servers show as not owned");
    await s.up({ refresh: true });
    assert.deepEqual(await savedRules(), rules, "no real server was pruned");
    const ledger = (await ledgerRules("director")).join("\n");
    for (const a of ["10.0.0.11", "10.0.0.12", "10.0.0.13"])
      assert.match(ledger, new RegExp(`-r ${a.replace(/\./g, "\\.")}:80 `));
    await s.preview({ refresh: true, expectNoChanges: true });
  });

  it("destroy removes only what the stack owns", async () => {
    await sh("director", "ipvsadm -A -t 10.0.0.200:80 -s rr && ipvsadm -a -t 10.0.0.200:80 -r 10.0.0.11:80 -g -w 1");
    const r = await s.destroy();
    assert.equal(r.summary.resourceChanges?.delete, 5);
    assert.deepEqual(await savedRules(), ["-A -t 10.0.0.200:80 -s rr", "-a -t 10.0.0.200:80 -r 10.0.0.11:80 -g -w 1"]);
    await sh("director", "ipvsadm -D -t 10.0.0.200:80");
  });
});

describe("NAT load balancer with port remapping", () => {
  let s: TestStack;
  before(async () => {
    resetLab();
    await natByHand(VIP, rsNames);
    s = await newStack("nat", [
      {
        name: "web",
        protocol: "tcp",
        address: VIP,
        port: 8080,
        scheduler: "rr",
        realServers: rsNames.map((n) => ({ name: n, address: rsAddr[n], port: 80, forwarding: "nat" })),
      },
    ]);
  });
  after(async () => {
    await s?.dispose();
  });

  it("balances traffic from the routed client across the three real servers", async () => {
    const r = await s.up();
    assert.equal(r.summary.resourceChanges?.create, 5);
    const counts = await requests("extclient", `http://${VIP}:8080/`, 30);
    assert.deepEqual(counts, { rs1: 10, rs2: 10, rs3: 10 });
    await s.preview({ refresh: true, expectNoChanges: true });
  });
});

describe("IPv6, fwmark, flags, persistence and tunnel options read back", () => {
  let s: TestStack;
  const services = [
    {
      name: "v6",
      protocol: "tcp",
      address: "fd00:10::100",
      port: 80,
      scheduler: "wrr",
      persistence: { timeout: 120, netmask: 64 },
      realServers: [
        { name: "v6-rs1", address: "fd00:10::11", weight: 5 },
        {
          name: "v6-rs2",
          address: "fd00:10::12",
          port: 8080,
          forwarding: "nat",
          upperThreshold: 10,
          lowerThreshold: 5,
        },
      ],
    },
    {
      name: "mark4",
      fwmark: 7,
      scheduler: "mh",
      schedulerFlags: ["mh-port", "mh-fallback"],
      realServers: [{ name: "mark4-rs", address: "10.0.0.11" }],
    },
    { name: "mark6", fwmark: 8, family: "ipv6", scheduler: "sh", schedulerFlags: ["sh-port"], persistence: {} },
    {
      name: "sip",
      protocol: "udp",
      address: "10.0.0.101",
      port: 5060,
      scheduler: "lc",
      persistence: { timeout: 30, netmask: "255.255.255.0" },
      pe: "sip",
      onePacket: true,
      realServers: [
        {
          name: "sip-gue",
          address: "172.16.0.21",
          forwarding: "tun",
          tunnel: { type: "gue", port: 6080, checksum: "remcsum" },
        },
        { name: "sip-gre", address: "10.0.0.12", forwarding: "tun", tunnel: { type: "gre", checksum: "csum" } },
        { name: "sip-ipip", address: "10.0.0.13", forwarding: "tun", weight: 0 },
      ],
    },
  ];
  before(async () => {
    resetLab();
    s = await newStack("shapes", services);
  });
  after(async () => {
    await s?.dispose();
  });

  it("creates them all as declared", async () => {
    const r = await s.up();
    assert.equal(r.summary.resourceChanges?.create, 1 + 4 + 6);
    const rules = await savedRules();
    for (const want of [
      "-A -t [fd00:10::100]:80 -s wrr -p 120 -M 64",
      "-a -t [fd00:10::100]:80 -r [fd00:10::11]:80 -g -w 5",
      "-a -t [fd00:10::100]:80 -r [fd00:10::12]:8080 -m -w 1",
      "-A -f 7 -s mh -b mh-fallback,mh-port",
      "-A -f 8 -6 -s sh -p 300 -b sh-port",
    ]) {
      assert.ok(rules.includes(want), `${want} in\n${rules.join("\n")}`);
    }
    assert.ok(
      rules.some((l) => l.startsWith("-A -u 10.0.0.101:5060 -s lc -p 30 -M 255.255.255.0 --pe sip")),
      rules.join("\n"),
    );
    assert.ok(
      rules.some((l) => /-r 172\.16\.0\.21:5060 -i .*--tun-type gue --tun-port 6080 --tun-remcsum/.test(l)),
      rules.join("\n"),
    );
  });

  it("reads them all back: preview --refresh --expect-no-changes passes", async () => {
    await s.preview({ refresh: true, expectNoChanges: true });
  });

  it("detects drift in flags and persistence", async () => {
    await sh("director", "ipvsadm -E -f 7 -s mh -b mh-port && ipvsadm -E -t [fd00:10::100]:80 -s wrr -p 60 -M 64");
    await assert.rejects(s.preview({ refresh: true, expectNoChanges: true }), /no changes were expected/i);
    await s.up({ refresh: true });
    await s.preview({ refresh: true, expectNoChanges: true });
  });
});
