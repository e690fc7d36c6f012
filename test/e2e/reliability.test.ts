import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { Figures } from "./harness/figures";
import { lab, labConnection, labPrivateKey, ledgerRules, resetLab, sh } from "./harness/lab";
import { savedRules, sshConnectionCount } from "./harness/setup";
import { TestStack } from "./harness/stack";
import { previewInWorker } from "./reliability/bad-input-worker";
import { BAD_INPUTS } from "./reliability/bad-inputs";
import { injectionFuzz } from "./reliability/injection";

// The reliability and security suite. Every part runs the real pulumi CLI against the
// lab's real hosts, and records what it tried in a summary printed at the end.
const figures = new Figures("reliability");
const VIP = "10.0.0.100";
const LAB_HOSTS = ["director", "rs1", "rs2", "rs3", "client", "rs4", "extclient"];

/** A stack of the config-driven program (test/e2e/programs/ipvs) on the lab director. */
async function ipvsStack(name: string, services: unknown[], director = labConnection("director")): Promise<TestStack> {
  const s = await TestStack.create(name, { program: "test/e2e/programs/ipvs" });
  await s.stack.setConfig("director", { value: JSON.stringify(director) });
  await s.stack.setConfig("privateKey", { value: labPrivateKey(), secret: true });
  await s.stack.setConfig("services", { value: JSON.stringify(services) });
  return s;
}

async function setServices(s: TestStack, services: unknown[]): Promise<void> {
  await s.stack.setConfig("services", { value: JSON.stringify(services) });
}

/** One tcp service on VIP:port with real servers 10.0.<net>.1..n (addresses need no host behind them for IPVS). */
function bigService(port: number, n: number, extra: (i: number) => Record<string, unknown> = () => ({})) {
  return {
    name: `svc${port}`,
    protocol: "tcp",
    address: VIP,
    port,
    scheduler: "wrr",
    realServers: Array.from({ length: n }, (_, k) => ({
      name: `svc${port}-rs${k + 1}`,
      address: `10.0.${1 + Math.floor(k / 250)}.${1 + (k % 250)}`,
      forwarding: "dr",
      ...extra(k + 1),
    })),
  };
}

/** The rules `ipvsadm -S -n` prints for bigService (sorted, as savedRules returns them). */
function bigServiceRules(
  port: number,
  n: number,
  weight: (i: number) => number = () => 1,
  scheduler = "wrr",
): string[] {
  return [
    `-A -t ${VIP}:${port} -s ${scheduler}`,
    ...Array.from(
      { length: n },
      (_, k) =>
        `-a -t ${VIP}:${port} -r 10.0.${1 + Math.floor(k / 250)}.${1 + (k % 250)}:${port} -g -w ${weight(k + 1)}`,
    ),
  ].sort();
}

/** Runs `op`, which must fail, and returns everything the CLI printed. */
async function failing(op: (onOutput: (s: string) => void) => Promise<unknown>): Promise<string> {
  let text = "";
  await assert.rejects(
    op((o) => {
      text += o;
    }),
  );
  return text;
}

function secondsSince(t0: number): string {
  return `${((Date.now() - t0) / 1000).toFixed(1)} s`;
}

/** Waits until `probe` is true (polling), or fails after `ms`. */
async function until(what: string, probe: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await probe().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const realServerCount = async (host = "director") =>
  Number((await sh(host, "ipvsadm -S -n 2>/dev/null | grep -c '^-a' || true", { timeoutMs: 10_000 })).trim());

describe("reliability and security", () => {
  before(() => resetLab());
  after(() => figures.print());

  describe("1. bad input is rejected at preview, naming the field and the reason, with no SSH connection", () => {
    it(`${BAD_INPUTS.length} invalid configurations`, async () => {
      assert.ok(BAD_INPUTS.length >= 50);
      assert.equal(new Set(BAD_INPUTS.map((b) => b.name)).size, BAD_INPUTS.length, "distinct cases");
      // the count must be at rest first (the lab's reset, just before, probes every sshd): two
      // counts 2 s apart that differ only by the second count's own connection
      let before = await sshConnectionCount("director");
      for (let i = 0; i < 10; i++) {
        await new Promise((r) => setTimeout(r, 2000));
        const now = await sshConnectionCount("director");
        const settled = now === before + 1;
        before = now;
        if (settled) break;
      }
      const t0 = Date.now();
      // one preview per case (a failing check stops a preview at its first error), one after the
      // other, in child processes of 24 cases each: every preview whose check fails leaves the
      // Automation API's inline-program run hanging in its process (its listeners pile up), and
      // after about 70 of them in one process the next run lost its connection to the engine
      // ("14 UNAVAILABLE: No connection established", or a run that never called the program)
      const failures: string[] = [];
      for (let from = 0; from < BAD_INPUTS.length; from += 24) {
        failures.push(...(await previewInWorker(from, Math.min(from + 24, BAD_INPUTS.length))));
      }
      const opened = (await sshConnectionCount("director")) - before - 1; // - 1: this count's own connection
      figures.record({
        area: "bad input at preview",
        tried: BAD_INPUTS.length,
        failed: failures.length,
        measured: `${opened} SSH connections opened, ${secondsSince(t0)}`,
      });
      assert.deepEqual(failures, []);
      assert.equal(opened, 0, "no SSH connection was opened by any preview");
    });
  });

  describe("2. faults: a clear error naming the host and a remedy; a rerun converges", () => {
    it("sshd killed in the middle of an up", async () => {
      const s = await ipvsStack("fault-sshd", [bigService(80, 40)]);
      try {
        let text = "";
        const up = s.stack.up({
          onOutput: (o) => {
            text += o;
          },
        });
        await until("the first real servers", async () => (await realServerCount()) >= 5);
        // every dropbear session of the director, including this one (so its failure is expected)
        await sh("director", "pkill -x dropbear", { allowFail: true });
        const outcome = await up.then(
          () => "succeeded",
          () => "failed",
        );
        const mid = await realServerCount();
        if (outcome === "failed") {
          assert.match(
            text,
            /on root@127\.0\.0\.1:2201: (the connection was lost while running ipvsadm -a -t 10\.0\.0\.100:80 -r [0-9.:]+ -g -w 1 -x 0 -y 0\. It may or may not have run|could not open a channel: .*\. The command did not run\.).*run pulumi up again once the host is reachable/,
          );
        }
        const r = await s.up();
        assert.equal(r.summary.result, "succeeded");
        assert.deepEqual(await savedRules(), bigServiceRules(80, 40), "the kernel has exactly what is declared");
        await s.preview({ refresh: true, expectNoChanges: true });
        figures.record({
          area: "fault: sshd killed mid-up",
          tried: 1,
          failed: 0,
          measured: `first up ${outcome} with ${mid}/40 real servers; rerun converged`,
        });
      } finally {
        await s.dispose();
      }
    });

    it("the link cut in the middle of an up", async () => {
      const s = await ipvsStack("fault-link", [bigService(80, 40)], labConnection("director", { dialTimeout: 3 }));
      try {
        let text = "";
        const t0 = Date.now();
        // one resource at a time, so that the up is still under way when the link goes (with the
        // engine's parallelism, batches carry the 40 real servers in about a second)
        const up = s.stack.up({
          parallel: 1,
          onOutput: (o) => {
            text += o;
          },
        });
        await until("the first real servers", async () => (await realServerCount()) >= 5);
        // the director's management link (its SSH) goes down for 25 s; the data plane stays up
        await sh(
          "director",
          "setsid sh -c 'sleep 1; ip link set mgmt0 down; sleep 25; ip link set mgmt0 up' </dev/null >/dev/null 2>&1 &",
        );
        await assert.rejects(up);
        const failedAfter = secondsSince(t0);
        assert.match(
          text,
          /(on root@127\.0\.0\.1:2201: the connection was lost while running|could not connect to root@127\.0\.0\.1:2201 after 3 attempts \(dial timeout 3 s each\))/,
        );
        assert.match(text, /run pulumi up again once the host is reachable|Check that the host is up/);
        await until(
          "the link back",
          async () => (await sh("director", "echo up", { timeoutMs: 5000 })).trim() === "up",
        );
        const r = await s.up();
        assert.equal(r.summary.result, "succeeded");
        assert.deepEqual(await savedRules(), bigServiceRules(80, 40));
        await s.preview({ refresh: true, expectNoChanges: true });
        figures.record({
          area: "fault: link cut mid-up",
          tried: 1,
          failed: 0,
          measured: `up failed after ${failedAfter} (keepalive 3 x 3 s); rerun converged`,
        });
      } finally {
        await s.dispose();
      }
    });

    it("a host that does not answer: the error comes within the configured dial timeout", async () => {
      // rs3 plays the director here; its management link goes down for 40 s
      const conn = labConnection("rs3", { dialTimeout: 4, dialAttempts: 2 });
      const s = await ipvsStack("fault-silent", [bigService(80, 1)], conn);
      try {
        await sh(
          "rs3",
          "setsid sh -c 'sleep 1; ip link set mgmt0 down; sleep 40; ip link set mgmt0 up' </dev/null >/dev/null 2>&1 &",
        );
        await new Promise((r) => setTimeout(r, 2000));
        const t0 = Date.now();
        const text = await failing((onOutput) => s.stack.up({ onOutput }));
        const took = (Date.now() - t0) / 1000;
        assert.match(
          text,
          /could not connect to root@127\.0\.0\.1:2204 after 2 attempts \(dial timeout 4 s each\).*raise connection\.dialTimeout/s,
        );
        // the budget: 2 attempts x 4 s + 0.5 s backoff, plus the engine's own start (no hang on TCP timeouts)
        assert.ok(took < 2 * 4 + 0.5 + 30, `failed after ${took} s`);
        await until("rs3 back", async () => (await sh("rs3", "echo up", { timeoutMs: 5000 })).trim() === "up", 90_000);
        await s.up();
        assert.deepEqual(await savedRules("rs3"), bigServiceRules(80, 1));
        figures.record({
          area: "fault: host not answering",
          tried: 1,
          failed: 0,
          measured: `error after ${took.toFixed(1)} s (budget 2 x 4 s dial); rerun converged`,
        });
      } finally {
        await s.dispose();
      }
    });

    it("ipvsadm missing", async () => {
      const s = await ipvsStack("fault-ipvsadm", [bigService(80, 2)]);
      await remedyFault("fault: ipvsadm missing", s, {
        inject: () => sh("lab", "mv /sbin/ipvsadm /sbin/ipvsadm.hidden"),
        repair: () => sh("lab", "mv /sbin/ipvsadm.hidden /sbin/ipvsadm"),
        expected: [
          /on root@127\.0\.0\.1:2201: ipvsadm -A -t 10\.0\.0\.100:80 -s wrr failed/,
          /What to do: install ipvsadm on the director \(Debian\/Ubuntu: apt-get install ipvsadm/,
        ],
        afterFailure: async () =>
          assert.deepEqual(await ledgerRules("director"), [], "the ledger holds nothing: the change was cancelled"),
      });
    });

    it("the ip_vs module unavailable", async () => {
      const s = await ipvsStack("fault-module", [bigService(80, 2)]);
      const dir = "/lib/modules/$(uname -r)/kernel/net/netfilter";
      await remedyFault("fault: ip_vs unavailable", s, {
        // no IPVS rule is left in any host now: unload every ip_vs module, and hide them
        inject: () =>
          sh(
            "lab",
            `for m in $(lsmod | awk '/^ip_vs_/ {print $1}'); do rmmod $m; done; rmmod ip_vs && mv ${dir}/ipvs ${dir}/ipvs.hidden`,
          ),
        repair: () => sh("lab", `mv ${dir}/ipvs.hidden ${dir}/ipvs`),
        expected: [
          /on root@127\.0\.0\.1:2201: ipvsadm -A -t 10\.0\.0\.100:80 -s wrr failed/,
          /What to do: the ip_vs kernel module is not available: .*modprobe ip_vs/,
        ],
      });
    });

    it("a non-root user without sudo", async () => {
      const nosudo = labConnection("director", { user: "nosudo", sudo: true });
      const s = await ipvsStack("fault-nosudo", [bigService(80, 2)], nosudo);
      await remedyFault("fault: user without sudo", s, {
        // the fix: a user with sudo rights
        repair: () =>
          s.stack.setConfig("director", {
            value: JSON.stringify(labConnection("director", { user: "deploy", sudo: true })),
          }),
        expected: [
          /on nosudo@127\.0\.0\.1:2201: ipvsadm -A -t 10\.0\.0\.100:80 -s wrr failed/,
          /What to do: the user cannot run sudo without a password: add a NOPASSWD sudoers rule/,
        ],
        afterFailure: async () => assert.deepEqual(await savedRules(), []),
      });
    });
  });

  describe("3. load", () => {
    it("200 real servers on one director at --parallel 32", async () => {
      const s = await ipvsStack("load", [bigService(80, 200)]);
      try {
        const before = await sshConnectionCount("director");
        const t0 = Date.now();
        const r = await s.up({ parallel: 32 });
        const upTime = secondsSince(t0);
        const opened = (await sshConnectionCount("director")) - before - 1;
        assert.equal(r.summary.result, "succeeded");
        assert.equal(r.summary.resourceChanges?.create, 202);
        assert.equal(opened, 1, "one SSH connection for the whole up");
        assert.deepEqual(await savedRules(), bigServiceRules(80, 200));
        const again = await s.up({ parallel: 32 });
        assert.deepEqual(again.summary.resourceChanges, { same: 202 }, "a second up is a no-op");
        await s.preview({ refresh: true, expectNoChanges: true });
        figures.record({
          area: "load: 200 real servers, --parallel 32",
          tried: 200,
          failed: 0,
          measured: `up ${upTime}, ${opened} SSH connection, second up: 0 changes`,
        });
      } finally {
        await s.dispose();
      }
      assert.deepEqual(await savedRules(), []);
    });
  });

  describe("4. host keys", () => {
    it("a wrong host key is refused with a clear error, and no command runs on that host", async () => {
      await sh("director", "rm -rf /var/lib/pulumi-lvs");
      const rules = await savedRules();
      const s = await ipvsStack(
        "hostkey",
        [bigService(80, 2)],
        labConnection("director", { hostKey: lab().hosts.rs1!.hostKey }),
      );
      try {
        const text = await failing((onOutput) => s.stack.up({ onOutput }));
        assert.match(text, /host key verification failed for root@127\.0\.0\.1:2201: it presented ssh-ed25519 SHA256:/);
        assert.match(text, /Nothing was run on it/);
        assert.deepEqual(await savedRules(), rules);
        assert.equal(
          (await sh("director", "ls /var/lib/pulumi-lvs 2>/dev/null | wc -l")).trim(),
          "0",
          "not even the ledger",
        );
        figures.record({ area: "host key mismatch", tried: 1, failed: 0, measured: "refused before any command" });
      } finally {
        await s.dispose();
      }
    });
  });

  describe("5. secrets", () => {
    it("no private key, passphrase or password in the state or the output; connections are secret", async () => {
      const passphrase = "correct horse battery staple 6";
      const password = (lab() as any).users.deploy.password as string;
      const encrypted = encryptedCopyOfLabKey(passphrase);
      const s = await TestStack.create("secrets", { program: "test/e2e/programs/ipvs" });
      let out = "";
      const onOutput = (o: string) => {
        out += o;
      };
      try {
        await s.stack.setConfig("director", { value: JSON.stringify(labConnection("director")) });
        await s.stack.setConfig("privateKey", { value: encrypted, secret: true });
        await s.stack.setConfig("privateKeyPassphrase", { value: passphrase, secret: true });
        await s.stack.setConfig("hosts", {
          value: JSON.stringify({
            rs1: { ...labConnection("rs1", { user: "deploy", sudo: true, agent: false }), password },
          }),
          secret: true,
        });
        await s.stack.setConfig("realServerHosts", {
          value: JSON.stringify([{ name: "rs1-host", host: "rs1", mode: "dr", vips: [VIP] }]),
        });
        await s.stack.setConfig("services", { value: JSON.stringify([bigService(80, 2)]) });
        await s.stack.up({ onOutput });
        await s.stack.preview({ refresh: true, diff: true, onOutput });
        // a check failure on the connection: the engine would print the whole connection value
        await s.stack.setConfig("director", { value: JSON.stringify(labConnection("director", { dialTimeout: 0 })) });
        await assert.rejects(s.stack.preview({ onOutput }));
        assert.match(out, /connection\.dialTimeout: must be more than 0 seconds/);
        const state = s.stateFileText();
        const secrets = {
          "private key": encrypted,
          passphrase,
          password,
          ...Object.fromEntries(
            encrypted
              .split("\n")
              .filter((l) => l.length >= 40 && !l.startsWith("-----"))
              .map((l, i) => [`private key line ${i + 1}`, l]),
          ),
        };
        const leaks = Object.entries(secrets).flatMap(([what, v]) => [
          ...(state.includes(v) ? [`${what} in the state`] : []),
          ...(out.includes(v) ? [`${what} in the CLI output`] : []),
        ]);
        assert.deepEqual(leaks, []);
        // every resource's connection output is a secret in the checkpoint
        const deployment = s.checkpoint().checkpoint.latest;
        const lvs = deployment.resources.filter((r: any) => r.type.startsWith("pulumi-nodejs:dynamic/lvs:"));
        assert.ok(lvs.length >= 4);
        const plain = lvs.filter(
          (r: any) => r.outputs.connection?.["4dabf18193072939515e22adb298388d"] !== "1b47061264138c4ac30d75fd1eb44270",
        );
        assert.deepEqual(
          plain.map((r: any) => r.urn),
          [],
          "connection outputs are secret",
        );
        figures.record({
          area: "secrets (state + CLI output)",
          tried: Object.keys(secrets).length * 2,
          failed: leaks.length,
          measured: `${lvs.length} connection outputs, all secret`,
        });
      } finally {
        await s.dispose();
      }
    });
  });

  describe("6. injection", () => {
    it("hostile values in every string field are rejected or passed quoted (property test, canary)", async () => {
      const canary = "/tmp/pulumi-lvs-canary";
      await Promise.all(LAB_HOSTS.map((h) => sh(h, `rm -f ${canary}`)));
      const r = await injectionFuzz(canary);
      const hits = (
        await Promise.all(
          LAB_HOSTS.map(async (h) => ((await sh(h, `ls ${canary} 2>/dev/null || true`)).trim() ? h : "")),
        )
      ).filter(Boolean);
      figures.record({
        area: "injection: hostile string values",
        tried: r.tried,
        failed: hits.length + r.problems.length,
        measured: `${r.rejected} rejected at check, ${r.accepted} accepted and applied quoted; canary files: ${hits.length}`,
      });
      assert.deepEqual(r.problems, []);
      assert.deepEqual(hits, [], "no canary file on any host");
      assert.ok(r.accepted > 0 && r.rejected > 0, "both outcomes were exercised");
    });

    it("resource names with shell metacharacters through the CLI: recorded literally, nothing executed", async () => {
      const canary = "/tmp/pulumi-lvs-canary-cli";
      await sh("director", `rm -f ${canary}`);
      const names = [`web$(touch ${canary})`, `rs';touch ${canary};'`, 'rs`touch /tmp/x`"\\', "rs|touch$" + "{IFS}x&"];
      const svc = {
        name: names[0],
        protocol: "tcp",
        address: VIP,
        port: 80,
        scheduler: "rr",
        realServers: names.slice(1).map((name, i) => ({ name, address: `10.0.0.${11 + i}`, forwarding: "dr" })),
      };
      const s = await ipvsStack("injection-cli", [svc]);
      try {
        await s.up();
        const ledger = (await ledgerRules("director")).join("\n");
        const owners = [...ledger.matchAll(/#owner=(\S+)/g)].map((m) =>
          decodeURIComponent(m[1]!).split("/").slice(2).join("/"),
        );
        assert.deepEqual(owners.sort(), [...names].sort(), "each owner recorded exactly as named");
        assert.equal((await sh("director", `ls ${canary} 2>/dev/null || true`)).trim(), "", "no canary");
        await s.preview({ refresh: true, expectNoChanges: true });
        figures.record({ area: "injection: hostile resource names (CLI)", tried: names.length, failed: 0 });
      } finally {
        await s.dispose();
      }
    });
  });

  describe("7. ownership", () => {
    it("what the stack does not manage survives up, update, refresh and destroy unchanged", async () => {
      // made by hand on the director: a service with two real servers, a real server inside the
      // stack's own service, an address, and sysctls; on rs1: an address and a sysctl
      await sh(
        "director",
        [
          "ipvsadm -A -t 10.0.0.200:443 -s lc",
          "ipvsadm -a -t 10.0.0.200:443 -r 10.0.0.11:443 -g -w 5",
          "ipvsadm -a -t 10.0.0.200:443 -r 10.0.0.12:443 -g -w 7",
          "ipvsadm -A -u 10.0.0.200:53 -s rr",
          "ip addr add 10.0.0.201/32 dev eth0",
          "sysctl -qw net.ipv4.conf.eth0.rp_filter=2 net.ipv4.conf.all.send_redirects=0",
        ].join(" && "),
      );
      await sh("rs1", "ip addr add 10.0.0.211/32 dev lo && sysctl -qw net.ipv4.conf.eth0.rp_filter=2");
      const handMade = async () => ({
        rules: (await savedRules()).filter((l) => l.includes("10.0.0.200:") || l.includes("10.0.0.99:")),
        directorAddrs: await sh("director", "ip -o addr show dev eth0 | grep -v 10.0.0.100 | awk '{print $4}'"),
        directorSysctls: await sh(
          "director",
          "sysctl -n net.ipv4.conf.eth0.rp_filter net.ipv4.conf.all.send_redirects net.ipv4.vs.expire_nodest_conn 2>/dev/null",
        ),
        rs1: await sh("rs1", "ip -o addr show dev lo | grep 10.0.0.211; sysctl -n net.ipv4.conf.eth0.rp_filter"),
      });
      const s = await TestStack.create("ownership", { program: "test/e2e/programs/ipvs" });
      const web = (weight: number, scheduler = "rr") => ({
        name: "web",
        protocol: "tcp",
        address: VIP,
        port: 80,
        scheduler,
        realServers: [
          { name: "rs1", address: "10.0.0.11", forwarding: "dr", weight },
          { name: "rs2", address: "10.0.0.12", forwarding: "dr" },
        ],
      });
      let checks = 0;
      try {
        await s.stack.setConfig("director", { value: JSON.stringify(labConnection("director")) });
        await s.stack.setConfig("privateKey", { value: labPrivateKey(), secret: true });
        await s.stack.setConfig("directorHost", {
          value: JSON.stringify({
            vips: [{ address: VIP, interface: "eth0" }],
            ipvsSysctls: { expire_nodest_conn: 1 },
          }),
        });
        await s.stack.setConfig("hosts", { value: JSON.stringify({ rs1: labConnection("rs1") }) });
        await s.stack.setConfig("realServerHosts", {
          value: JSON.stringify([{ name: "rs1-host", host: "rs1", mode: "dr", vips: [VIP] }]),
        });
        await setServices(s, [web(1)]);
        await s.up(); // creates the service: now add a hand-made real server inside it
        await sh("director", `ipvsadm -a -t ${VIP}:80 -r 10.0.0.99:80 -g -w 2`);
        const baseline = await handMade();
        assert.equal(baseline.rules.length, 5);
        const steps: Array<[string, () => Promise<unknown>]> = [
          ["up", () => s.up()],
          [
            "update",
            async () => {
              await setServices(s, [web(4, "wlc")]);
              return s.up();
            },
          ],
          ["refresh", () => s.refresh()],
          ["up --refresh", () => s.up({ refresh: true })],
        ];
        for (const [step, run] of steps) {
          await run();
          assert.deepEqual(await handMade(), baseline, `hand-made state unchanged after ${step}`);
          checks++;
        }
        await s.destroy();
        const after = await handMade();
        // expire_nodest_conn was the stack's (Director) and went back to its value before; the rest is untouched
        assert.deepEqual({ ...after, directorSysctls: "" }, { ...baseline, directorSysctls: "" });
        assert.deepEqual(
          after.directorSysctls.trim().split("\n").slice(0, 2),
          baseline.directorSysctls.trim().split("\n").slice(0, 2),
        );
        assert.ok(
          (await savedRules()).includes(`-a -t ${VIP}:80 -r 10.0.0.99:80 -g -w 2`),
          "the service stays for its hand-made real server",
        );
        checks++;
        figures.record({
          area: "ownership: hand-made objects",
          // each hand-made object, checked after each step
          tried: (baseline.rules.length + 2 + 3) * checks,
          failed: 0,
          measured: `${baseline.rules.length} IPVS rules, 2 addresses, 3 sysctls, through up/update/refresh/up --refresh/destroy`,
        });
      } finally {
        await s.dispose();
        await sh(
          "director",
          "ipvsadm -D -t 10.0.0.200:443; ipvsadm -D -u 10.0.0.200:53; ipvsadm -D -t 10.0.0.100:80; ip addr del 10.0.0.201/32 dev eth0",
          { allowFail: true },
        );
      }
    });
  });

  describe("8. concurrency", () => {
    it("many resources changing one service in one up leave it exactly as declared", async () => {
      const s = await ipvsStack("concurrency", [bigService(80, 40)]);
      try {
        await s.up({ parallel: 32 });
        // in one up: the scheduler, every weight, 10 real servers removed and 10 added
        const weight = (i: number) => (i % 7) + 2;
        const next = bigService(80, 50, (i) => ({ weight: weight(i) }));
        next.scheduler = "wlc";
        next.realServers = next.realServers.slice(10);
        await setServices(s, [next]);
        const r = await s.up({ parallel: 32 });
        const changes = r.summary.resourceChanges ?? {};
        assert.deepEqual(
          { update: changes.update, create: changes.create, delete: changes.delete },
          { update: 31, create: 10, delete: 10 },
        );
        const realServerOf = (rule: string) => rule.split(" ")[4]; // -a -t VIP:80 -r ADDR:80 …
        const removed = new Set(bigServiceRules(80, 10).map(realServerOf));
        const want = bigServiceRules(80, 50, weight, "wlc").filter(
          (l) => !l.startsWith("-a") || !removed.has(realServerOf(l)),
        );
        const got = await savedRules();
        const mismatches = [...want.filter((l) => !got.includes(l)), ...got.filter((l) => !want.includes(l))];
        figures.record({
          area: "concurrency: one service, 51 changes in one up",
          tried: 51,
          failed: mismatches.length,
          measured: `${got.length} rules read back`,
        });
        assert.deepEqual(mismatches, []);
        await s.preview({ refresh: true, expectNoChanges: true });
      } finally {
        await s.dispose();
      }
    });
  });
});

/**
 * A fault that `up` must report with the failed command and a remedy: `inject` breaks the host, the
 * `up` fails with output matching `expected`, `repair` clears the fault, and a rerun must converge to
 * exactly the declared rules (bigService(80, 2)) with nothing left to change. Disposes the stack.
 */
async function remedyFault(
  area: string,
  s: TestStack,
  fault: {
    inject?: () => Promise<unknown>;
    repair: () => Promise<unknown>;
    expected: RegExp[];
    afterFailure?: () => Promise<void>;
  },
): Promise<void> {
  try {
    await fault.inject?.();
    let text: string;
    try {
      text = await failing((onOutput) => s.stack.up({ onOutput }));
    } finally {
      await fault.repair();
    }
    for (const re of fault.expected) assert.match(text, re);
    await fault.afterFailure?.();
    await s.up();
    assert.deepEqual(await savedRules(), bigServiceRules(80, 2));
    await s.preview({ refresh: true, expectNoChanges: true });
    figures.record({ area, tried: 1, failed: 0, measured: "remedy given; rerun converged" });
  } finally {
    await s.dispose();
  }
}

/** The lab's client key, re-encrypted with a passphrase (the same key: the lab hosts accept it). */
function encryptedCopyOfLabKey(passphrase: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lvs-key-"));
  try {
    const f = path.join(dir, "id");
    fs.writeFileSync(f, labPrivateKey(), { mode: 0o600 });
    execFileSync("ssh-keygen", ["-q", "-p", "-f", f, "-N", passphrase, "-P", ""]);
    return fs.readFileSync(f, "utf8");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
