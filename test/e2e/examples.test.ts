import * as assert from "node:assert/strict";
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import * as fs from "node:fs";
import { after, before, describe, it } from "node:test";
import { exampleStack, FolderStack, languageHost } from "./harness/folder";
import { lab, labAddress, labConnection, labPrivateKey, requests, resetLab, sh } from "./harness/lab";
import { installedPackage } from "./harness/package";
import { repoRoot } from "./harness/paths";
import { savedRules } from "./harness/setup";
import type { ProgramStack } from "./harness/stack";
import { table } from "./harness/traffic";

// The examples are end-to-end fixtures, run the way their users run them: `pulumi up` typed in the
// example's folder (where this machine has the Node.js language host; see harness/folder.ts), with
// config set by `pulumi config set`. Each one is deployed, found clean, drifted by hand, repaired
// by `pulumi up --refresh`, and destroyed.

const VIP = "10.0.0.100";
const hostState = (h: string) => sh(h, "cat /proc/sys/net/ipv4/conf/all/arp_ignore; ip -o addr show dev lo");
/** Resets the lab, then reads `h`'s state there: what destroy has to leave `h` as. */
async function freshLab(h: string): Promise<string> {
  resetLab();
  return hostState(h);
}

/**
 * README's "Pointing it at real hosts" block, exactly as written, with the lab's values in its
 * assignments and its two paths (the example folder, the packed tarball) pointed at this run's.
 */
function readmeRealHostsBlock(folder: string, tarball: string): string {
  const readme = fs.readFileSync(`${repoRoot}/README.md`, "utf8");
  const section = readme.slice(readme.indexOf("## Pointing it at real hosts"));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(block, "README's 'Pointing it at real hosts' has a sh block");
  const rs = ["rs1", "rs2", "rs3"];
  const values: Record<string, string> = {
    "cd ": `cd ${folder}`,
    "npm install ": `npm install ${tarball}`,
    "vip=": `vip=${VIP}`,
    "director=": `director=127.0.0.1; director_port=${lab().hosts.director!.port}`,
    "real_servers=": `real_servers=(${rs.map(labAddress).join(" ")}); ssh_hosts=(${rs.map(() => "127.0.0.1").join(" ")}); ssh_ports=(${rs.map((h) => lab().hosts[h]!.port).join(" ")})`,
    "key=": `key=${lab().privateKeyPath}`,
  };
  const used = new Set<string>();
  const lines = block.split("\n").map((line) => {
    const k = Object.keys(values).find((p) => line.startsWith(p));
    if (!k) return line;
    used.add(k);
    return values[k]!;
  });
  assert.deepEqual([...used].sort(), Object.keys(values).sort(), "every lab value has its line in the README block");
  return lines.join("\n");
}

describe("examples/quickstart: README's real-host commands, typed in the folder", () => {
  let s: ProgramStack;
  let rs1Before = "";
  before(async () => {
    rs1Before = await freshLab("rs1");
    if (languageHost()) {
      const folder = await FolderStack.create("prod", { program: "examples/quickstart", prepared: false });
      await folder.shell(readmeRealHostsBlock(folder.dir, `${await installedPackage()}/pulumi-lvs.tgz`));
      s = folder;
    } else {
      s = await exampleStack("quickstart", "examples/quickstart");
      await s.setConfig({
        vip: { value: VIP },
        director: { value: JSON.stringify(labConnection("director")) },
        privateKey: { value: labPrivateKey(), secret: true },
        realServers: {
          value: JSON.stringify(["rs1", "rs2", "rs3"].map((h) => ({ address: labAddress(h), ssh: labConnection(h) }))),
        },
      });
      await s.up();
    }
  });
  after(async () => {
    await s?.dispose();
  });

  it("deploys a working LVS-DR load balancer with no hand setup, clean on refresh", async () => {
    assert.deepEqual(await requests("client", `http://${VIP}/`, 30), { rs1: 10, rs2: 10, rs3: 10 });
    await s.preview({ refresh: true, expectNoChanges: true });
  });

  it("names a weight changed by hand and a stray real server, and up --refresh repairs both", async () => {
    await sh(
      "director",
      `ipvsadm -e -t ${VIP}:80 -r 10.0.0.12:80 -g -w 5 && ipvsadm -a -t ${VIP}:80 -r 10.0.0.99:80 -g -w 1`,
    );
    const text = await s.previewDrift({ diff: true });
    assert.match(text, /weight\s*:\s*5\s*=>\s*1|weight\s*:\s*1\s*=>\s*5/);
    assert.match(text, /10\.0\.0\.99:80/);
    await s.up({ refresh: true });
    assert.deepEqual(await table("director", `${VIP}:80`), { "10.0.0.11": 1, "10.0.0.12": 1, "10.0.0.13": 1 });
  });

  it("destroy removes it and restores the hosts", async () => {
    await s.destroy();
    assert.deepEqual(await savedRules(), []);
    assert.equal(await hostState("rs1"), rs1Before);
  });
});

const backend = (h: string) => ({ address: labAddress(h), ssh: labConnection(h) });

/** An example's stack with the director, the key and `config` (JSON values) set. */
async function configured(name: string, config: Record<string, unknown>): Promise<ProgramStack> {
  const s = await exampleStack(name, `examples/${name}`);
  await s.setConfig({
    director: { value: JSON.stringify(labConnection("director")) },
    privateKey: { value: labPrivateKey(), secret: true },
    ...Object.fromEntries(Object.entries(config).map(([k, v]) => [k, { value: JSON.stringify(v) }])),
  });
  return s;
}

describe("examples/dr (LoadBalancer component, direct routing)", () => {
  let s: ProgramStack;
  let rs2Before = "";
  before(async () => {
    rs2Before = await freshLab("rs2");
    s = await configured("dr", { backends: ["rs1", "rs2", "rs3"].map(backend) });
  });
  after(async () => {
    await s?.dispose();
  });
  it("balances real traffic and is clean on refresh", async () => {
    const r = await s.up();
    // the stack, the component, the director, 3 hosts, 1 service (its 3 real servers inline)
    assert.equal(r.summary.resourceChanges?.create, 7);
    assert.deepEqual(await requests("client", `http://${VIP}/`, 30), { rs1: 10, rs2: 10, rs3: 10 });
    await s.preview({ refresh: true, expectNoChanges: true });
  });
  it("a real server's VIP removed by hand is drift, and up --refresh puts it back", async () => {
    await sh("rs2", `ip addr del ${VIP}/32 dev lo`);
    assert.match(await s.previewDrift(), /RealServerHost/);
    await s.up({ refresh: true });
    assert.match(await sh("rs2", "ip -o addr show dev lo"), new RegExp(`${VIP.replace(/\./g, "\\.")}/32`));
    assert.deepEqual(await requests("client", `http://${VIP}/`, 30), { rs1: 10, rs2: 10, rs3: 10 });
  });
  it("destroy leaves the real server's host as it was", async () => {
    await s.destroy();
    assert.deepEqual(await savedRules(), []);
    assert.equal(await hostState("rs2"), rs2Before);
  });
});

describe("examples/tun (LoadBalancer component, GRE tunnelling across networks)", () => {
  let s: ProgramStack;
  before(async () => {
    resetLab();
    s = await configured("tun", { backends: ["rs4", "rs1"].map(backend) });
  });
  after(async () => {
    await s?.dispose();
  });
  it("balances real traffic to a real server on the routed segment, through GRE", async () => {
    await s.up();
    assert.deepEqual(await requests("client", `http://${VIP}/`, 20), { rs1: 10, rs4: 10 });
    assert.match(await sh("director", "ipvsadm -S -n"), /-r 172\.16\.0\.21:80 -i .*--tun-type gre/);
    assert.match(await sh("rs4", "ip -o addr show dev gre0"), /10\.0\.0\.100\/32/);
    await s.preview({ refresh: true, expectNoChanges: true });
  });
  it("rp_filter turned back on by hand is drift, and up --refresh repairs it", async () => {
    await sh("rs4", "sysctl -qw net.ipv4.conf.gre0.rp_filter=1");
    await s.previewDrift();
    await s.up({ refresh: true });
    assert.equal((await sh("rs4", "cat /proc/sys/net/ipv4/conf/gre0/rp_filter")).trim(), "0");
    assert.deepEqual(await requests("client", `http://${VIP}/`, 20), { rs1: 10, rs4: 10 });
  });
  it("destroy removes the rules", async () => {
    await s.destroy();
    assert.deepEqual(await savedRules(), []);
  });
});

describe("examples/nat (LoadBalancer component, masquerading with a port remap and the return path)", () => {
  const rs = ["rs1", "rs2", "rs3"];
  /** A real server's routing: its rules, its main table and the return path's table. */
  const routing = (h: string) =>
    sh(h, "ip -4 rule show; echo; ip -4 route show table main; echo; ip -4 route show table 7100 2>/dev/null || true");
  const routingBefore: Record<string, string> = {};
  /** An SSH session to each real server, open from before `up` to after `destroy`. */
  const sessions = new Map<string, ChildProcessWithoutNullStreams>();
  let s: ProgramStack;
  before(async () => {
    resetLab();
    for (const h of rs) routingBefore[h] = await routing(h);
    for (const h of rs) {
      const p = spawn("ssh", ["-F", lab().sshConfig, h, "echo open; read line; echo alive"]);
      await new Promise<void>((ok, fail) => {
        p.stdout.once("data", () => ok());
        p.once("exit", (code) => fail(new Error(`ssh ${h} ended at once (${code})`)));
      });
      sessions.set(h, p);
    }
    s = await configured("nat", {
      backends: rs.map((h) => ({ address: labAddress(h), port: 80, ssh: labConnection(h) })),
    });
  });
  after(async () => {
    for (const p of sessions.values()) p.kill();
    await s?.dispose();
  });
  it("balances traffic from the routed client and from the LAN client, with no route made by hand", async () => {
    await s.up();
    assert.equal((await sh("director", "cat /proc/sys/net/ipv4/ip_forward")).trim(), "1");
    assert.equal((await sh("director", "cat /proc/sys/net/ipv4/conf/eth0/send_redirects")).trim(), "0");
    assert.deepEqual(await requests("extclient", `http://${VIP}:8080/`, 30), { rs1: 10, rs2: 10, rs3: 10 });
    assert.deepEqual(await requests("client", `http://${VIP}:8080/`, 30), { rs1: 10, rs2: 10, rs3: 10 });
    const r = await routing("rs1");
    assert.match(r, /^7100:\s+from 10\.0\.0\.11 sport 80 lookup 7100/m);
    assert.match(r, /^default via 10\.0\.0\.2 dev eth0/m);
    assert.equal(r.split("\n\n")[1], routingBefore.rs1!.split("\n\n")[1], "the main table is untouched");
    await s.preview({ refresh: true, expectNoChanges: true });
  });
  it("ip_forward turned off and a return-path rule deleted by hand are drift, and up --refresh repairs them", async () => {
    await sh("director", "sysctl -qw net.ipv4.ip_forward=0");
    await sh("rs2", "ip rule del priority 7100 from 10.0.0.12 sport 80 lookup 7100");
    await s.previewDrift();
    await s.up({ refresh: true });
    assert.equal((await sh("director", "cat /proc/sys/net/ipv4/ip_forward")).trim(), "1");
    assert.deepEqual(await requests("client", `http://${VIP}:8080/`, 30), { rs1: 10, rs2: 10, rs3: 10 });
  });
  it("destroy removes the rules and the return path, and the SSH sessions never dropped", async () => {
    await s.destroy();
    assert.deepEqual(await savedRules(), []);
    for (const h of rs) assert.equal(await routing(h), routingBefore[h], `${h}'s routing is as it was`);
    for (const [h, p] of sessions) {
      const said = new Promise<string>((ok) => p.stdout.on("data", (d: Buffer) => ok(String(d))));
      p.stdin.write("bye\n");
      assert.match(await said, /alive/, `the SSH session to ${h} is still open`);
    }
  });
});
