import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { FolderStack, languageHost, run } from "./harness/folder";
import { lab, resetLab, sh } from "./harness/lab";
import { installedPackage } from "./harness/package";
import { cacheDir } from "./harness/paths";
import { background } from "./harness/traffic";

// `pulumi-lvs import` of a director made by hand with ipvsadm, and of its three DR real servers
// prepared by hand, through the packaged CLI; then the generated program's first `pulumi up`,
// typed in the generated folder, must change nothing on any host while traffic flows.

const DIRECTOR_BY_HAND = [
  "set -e",
  // a DR service with wrr weights and thresholds
  "ipvsadm -A -t 10.0.0.100:80 -s wrr",
  "ipvsadm -a -t 10.0.0.100:80 -r 10.0.0.11:80 -g -w 3",
  "ipvsadm -a -t 10.0.0.100:80 -r 10.0.0.12:80 -g -w 2 -x 200 -y 50",
  "ipvsadm -a -t 10.0.0.100:80 -r 10.0.0.13:80 -g -w 1",
  // a fwmark service with persistence
  "ipvsadm -A -f 7 -s rr -p 600 -M 255.255.255.0",
  "ipvsadm -a -f 7 -r 10.0.0.11 -g",
  "ipvsadm -a -f 7 -r 10.0.0.12 -g",
  // an IPv6 service with mh and mh-port
  "ipvsadm -A -t [fd00:10::100]:80 -s mh -b mh-port",
  "ipvsadm -a -t [fd00:10::100]:80 -r [fd00:10::11]:80 -g",
  "ipvsadm -a -t [fd00:10::100]:80 -r [fd00:10::12]:80 -g",
  // a NAT service with a port map
  "ipvsadm -A -t 10.0.0.101:8080 -s wlc",
  "ipvsadm -a -t 10.0.0.101:8080 -r 172.16.0.21:80 -m -w 5",
  // non-default timeouts and sysctls, VIPs on eth0
  "ipvsadm --set 1800 90 120",
  "sysctl -qw net.ipv4.vs.expire_nodest_conn=1 net.ipv4.vs.sloppy_tcp=1 net.ipv4.ip_forward=1",
  "ip addr add 10.0.0.100/32 dev eth0",
  "ip addr add 10.0.0.101/32 dev eth0",
  "ip -6 addr add fd00:10::100/128 dev eth0 nodad",
].join("\n");

/** rs1 and rs2 the LVS HOWTO's way (ARP settings on all and lo), rs3 on all and eth0. */
const realServerByHand = (name: string) =>
  [
    "set -e",
    name === "rs3"
      ? "sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.eth0.arp_ignore=1 net.ipv4.conf.eth0.arp_announce=2"
      : "sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.lo.arp_ignore=1 net.ipv4.conf.lo.arp_announce=2",
    "ip addr add 10.0.0.100/32 dev lo",
    ...(name === "rs3" ? [] : ["ip -6 addr add fd00:10::100/128 dev lo nodad"]),
  ].join("\n");

const REAL_SERVERS = ["rs1", "rs2", "rs3"];

async function byHand(): Promise<void> {
  resetLab();
  await sh("director", DIRECTOR_BY_HAND);
  await Promise.all(REAL_SERVERS.map((h) => sh(h, realServerByHand(h))));
}

/**
 * Everything an import must leave as it was, read with the hosts' own tools: the rules as
 * `ipvsadm -S -n` saves them, the thresholds (`--thresholds`, its connection counters cut off:
 * the traffic moves them), the timeouts, every net.ipv4.vs sysctl and ip_forward, and each host's
 * addresses and ARP settings.
 */
async function hostsAsTheyAre(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  out["director: ipvsadm -S -n"] = await sh("director", "ipvsadm -S -n");
  out["director: ipvsadm -L -n --thresholds"] = (await sh("director", "ipvsadm -L -n --thresholds"))
    .split("\n")
    .map((l) => (/^\s+->/.test(l) ? l.replace(/\s+\d+\s+\d+\s*$/, "") : l))
    .join("\n");
  out["director: timeouts, sysctls, addresses"] = await sh(
    "director",
    "ipvsadm -L -n --timeout; sysctl net.ipv4.vs net.ipv4.ip_forward; ip -o addr show dev eth0",
  );
  for (const h of REAL_SERVERS)
    out[`${h}: addresses and ARP settings`] = await sh(
      h,
      "ip -o addr show dev lo; sysctl net.ipv4.conf.all.arp_ignore net.ipv4.conf.all.arp_announce net.ipv4.conf.lo.arp_ignore net.ipv4.conf.lo.arp_announce net.ipv4.conf.eth0.arp_ignore net.ipv4.conf.eth0.arp_announce",
    );
  return out;
}

const target = (h: string) => `root@127.0.0.1:${lab().hosts[h]!.port}`;

/** `pulumi-lvs import` from the packaged CLI; resolves with its output, rejects with it when it fails. */
async function importCli(args: string[]): Promise<string> {
  const bin = path.join(await installedPackage(), "node_modules", ".bin", "pulumi-lvs");
  return run(bin, ["import", ...args], { cwd: cacheDir, env: process.env });
}

const importArgs = (out: string, extra: string[] = []) => [
  "--host",
  target("director"),
  ...REAL_SERVERS.flatMap((h) => ["--real-server", target(h)]),
  "--key",
  lab().privateKeyPath,
  "--known-hosts",
  lab().knownHostsPath,
  "--out",
  out,
  ...extra,
];

const filesOf = (dir: string) =>
  Object.fromEntries(
    fs
      .readdirSync(dir)
      .sort()
      .map((f) => [f, fs.readFileSync(path.join(dir, f), "utf8")]),
  );

describe("pulumi-lvs import: a director made by hand with ipvsadm, and its DR real servers", {
  skip: !languageHost() && "no pulumi-language-nodejs (see harness/folder.ts)",
}, () => {
  let work = "";
  let stack: FolderStack;
  before(async () => {
    work = fs.mkdtempSync(path.join(cacheDir, "e2e", "import-"));
    await byHand();
  });
  after(async () => {
    await stack?.pulumi(["stack", "rm", "--yes", "--force", stack.name], { quiet: true }).catch(() => undefined);
  });

  it("writes a program folder that declares exactly what is there, byte-identical on a second run", async () => {
    const out = path.join(work, "lb");
    await importCli(importArgs(out));
    const files = filesOf(out);
    assert.deepEqual(Object.keys(files), ["IMPORT.md", "Pulumi.yaml", "index.ts", "package.json", "tsconfig.json"]);
    const index = files["index.ts"]!;
    for (const expected of ['"wrr"', "fwmark: 7", '"mh-port"', "fd00:10::100", '"nat"', "upperThreshold: 200", "1800"])
      assert.ok(index.includes(expected), `index.ts declares ${expected}`);
    assert.ok(!index.includes("BEGIN OPENSSH PRIVATE KEY"), "no key in the program");
    assert.match(files["IMPORT.md"]!, /pulumi config set --secret privateKey/);
    const again = path.join(work, "again", "lb");
    await importCli(importArgs(again));
    assert.deepEqual(filesOf(again), files, "a second import of unchanged hosts writes the same bytes");
  });

  it("refuses an output folder that exists, unless --force, and writes nothing", async () => {
    const out = path.join(work, "lb");
    const before = filesOf(out);
    await assert.rejects(importCli(importArgs(out)), /exists.*--force/s);
    assert.deepEqual(filesOf(out), before);
  });

  it("names the host it cannot reach or trust, and writes nothing", async () => {
    const out = path.join(work, "bad");
    const key = ["--key", lab().privateKeyPath, "--out", out];
    await assert.rejects(
      importCli([
        "--host",
        target("director"),
        "--host-key",
        lab().hosts.rs1!.hostKey,
        "--key",
        lab().privateKeyPath,
        "--out",
        out,
      ]),
      /host key verification failed for root@127\.0\.0\.1:2201/,
    );
    await assert.rejects(
      importCli([
        "--host",
        `nosudo@127.0.0.1:${lab().hosts.director!.port}`,
        "--sudo",
        "--known-hosts",
        lab().knownHostsPath,
        ...key,
      ]),
      /nosudo@127\.0\.0\.1:2201: sudo refused .*passwordless sudo/,
    );
    await assert.rejects(
      importCli([
        "--host",
        "root@127.0.0.1:2299",
        "--key",
        lab().privateKeyPath,
        "--host-key",
        lab().hosts.director!.hostKey,
        "--out",
        out,
      ]),
      /127\.0\.0\.1:2299/,
    );
    assert.equal(fs.existsSync(out), false);
  });

  it("first `pulumi up` takes everything over and changes nothing on any host, with traffic flowing", async () => {
    const hostsBefore = await hostsAsTheyAre();
    stack = await FolderStack.create("import-lab", { program: path.join(work, "lb") });
    await stack.pulumi(["config", "set", "--secret", "privateKey"], {
      input: fs.readFileSync(lab().privateKeyPath, "utf8"),
      quiet: true,
    });
    const preview = await stack.preview();
    assert.match(preview, /to create/);
    assert.doesNotMatch(preview, /to (update|delete|replace)/, "a fresh import previews take-overs only");
    await background(
      "client",
      "while [ ! -e /tmp/import-stop ]; do if timeout 5 wget -q -O /dev/null http://10.0.0.100/; then echo ok; else echo FAIL; fi; done",
      "/tmp/import-loop.log",
    );
    await stack.up();
    await sh("client", "touch /tmp/import-stop; sleep 6; rm -f /tmp/import-stop");
    const loop = await sh("client", "cat /tmp/import-loop.log");
    const counts = { ok: (loop.match(/^ok$/gm) ?? []).length, failed: (loop.match(/^FAIL$/gm) ?? []).length };
    assert.ok(counts.ok > 0, "the client loop ran");
    assert.equal(counts.failed, 0, `requests failed during the first up: ${JSON.stringify(counts)}`);
    console.log(
      `    [import] requests through the VIP during the first up: ${counts.ok} answered, ${counts.failed} failed`,
    );
    assert.deepEqual(await hostsAsTheyAre(), hostsBefore, "every host is as it was");
    await stack.preview({ refresh: true, expectNoChanges: true });
  });

  it("after the take-over, an edit in the program is applied as in any stack", async () => {
    const index = path.join(stack.dir, "index.ts");
    const text = fs.readFileSync(index, "utf8");
    assert.equal(text.match(/weight: 3\b/g)?.length, 1, "one weight 3 (10.0.0.11 in the wrr service)");
    fs.writeFileSync(index, text.replace(/weight: 3\b/, "weight: 4"));
    await stack.up();
    assert.match(await sh("director", "ipvsadm -S -n"), /-a -t 10\.0\.0\.100:80 -r 10\.0\.0\.11:80 -g -w 4/);
    await stack.preview({ refresh: true, expectNoChanges: true });
  });
});

describe("pulumi-lvs import: a program edited before its first up", {
  skip: !languageHost() && "no pulumi-language-nodejs (see harness/folder.ts)",
}, () => {
  let stack: FolderStack | undefined;
  after(async () => {
    await stack?.pulumi(["stack", "rm", "--yes", "--force", stack.name], { quiet: true }).catch(() => undefined);
  });

  it("fails for the service whose weight differs, naming it, and the kernel is unchanged", async () => {
    await byHand();
    const work = fs.mkdtempSync(path.join(cacheDir, "e2e", "import-"));
    const out = path.join(work, "lb");
    await importCli(importArgs(out));
    const index = path.join(out, "index.ts");
    fs.writeFileSync(index, fs.readFileSync(index, "utf8").replace(/weight: 3\b/, "weight: 4"));
    const hostsBefore = await hostsAsTheyAre();
    stack = await FolderStack.create("import-edited", { program: out });
    await stack.pulumi(["config", "set", "--secret", "privateKey"], {
      input: fs.readFileSync(lab().privateKeyPath, "utf8"),
      quiet: true,
    });
    await assert.rejects(stack.up(), /real server 10\.0\.0\.11:80: weight: the kernel has 3, the program declares 4/);
    assert.deepEqual(await hostsAsTheyAre(), hostsBefore, "nothing changed on any host");
  });
});
