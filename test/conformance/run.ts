/**
 * Runs in the lab guest, in the director's namespace, as root (see test/e2e/local-netlink.test.ts):
 *   node run.js             the conformance suite against the real kernel, ipvsadm and netlink;
 *                           one JSON line per case and implementation, then a summary line
 *   node run.js --only P    only the cases whose name starts with P (e.g. "scheduler ")
 *   node run.js --bench N   adds N real servers to one service through each way, then deletes them;
 *                           prints one JSON line of timings
 *   node run.js --capture   prints raw netlink dumps and ipvsadm -S of one state (a unit-test fixture)
 *   node run.js --counters tcp/ADDR:PORT   prints a service's traffic counters read through netlink
 * Both ways share one ledger file, as on a real director. Only the suite's objects are touched.
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { realServerChange, serviceChange } from "../../provider/ipvs/change";
import { IpvsadmClient } from "../../provider/ipvs/ipvsadm/client";
import { NetlinkIpvsClient } from "../../provider/ipvs/netlink/client";
import { Cmd, CmdAttr } from "../../provider/ipvs/netlink/constants";
import { openIpvsSocket } from "../../provider/ipvs/netlink/socket";
import { decodeAttrs, encodeAttrs, parseService, serviceKeyAttrs } from "../../provider/ipvs/netlink/wire";
import { findService, type RealServerConfig, SCHEDULERS, type VirtualServiceConfig } from "../../provider/ipvs/types";
import { LocalTransport } from "../../provider/transport/local";
import { cases, cleanUp, isSuiteKey, runSuite } from "./suite";

const DIR = "/tmp/pulumi-lvs-conformance";
const LEDGER = `${DIR}/ipvs.rules`;

const clients = () => ({
  ipvsadm: new IpvsadmClient(new LocalTransport(), LEDGER),
  netlink: new NetlinkIpvsClient({ ledger: LEDGER }),
});

/** The schedulers this kernel has a module for (Linux 6.1 has no twos). */
function kernelSchedulers() {
  return SCHEDULERS.filter((s) => spawnSync("modprobe", ["-n", `ip_vs_${s}`], { stdio: "ignore" }).status === 0);
}

async function suite(only: string | undefined): Promise<void> {
  const schedulers = kernelSchedulers();
  const outcomes = await runSuite(
    clients,
    schedulers,
    (o) => console.log(JSON.stringify(o)),
    (c) => only === undefined || c.name.startsWith(only),
  );
  // timeouts, both ways (the e2e test compares them)
  console.log(
    JSON.stringify({
      timeouts: await new NetlinkIpvsClient({ ledger: LEDGER }).timeouts(),
      ipvsadm: execFileSync("ipvsadm", ["-L", "--timeout"], { encoding: "utf8" }).trim(),
    }),
  );
  console.log(
    JSON.stringify({
      summary: true,
      kernel: execFileSync("uname", ["-r"], { encoding: "utf8" }).trim(),
      schedulers,
      missing: SCHEDULERS.filter((s) => !schedulers.includes(s)),
      passed: outcomes.filter((o) => o.ok).length,
      failed: outcomes.filter((o) => !o.ok).length,
    }),
  );
}

async function bench(n: number): Promise<void> {
  const service: VirtualServiceConfig = {
    key: { protocol: "tcp", address: "10.99.1.1", port: 80 },
    scheduler: "wrr",
    schedulerFlags: [],
    onePacket: false,
  };
  const servers: RealServerConfig[] = Array.from({ length: n }, (_, i) => ({
    address: `10.98.${Math.floor(i / 250)}.${1 + (i % 250)}`,
    port: 80,
    forwarding: "nat",
    weight: 1,
    upperThreshold: 0,
    lowerThreshold: 0,
  }));
  const time = async (f: () => Promise<unknown>) => {
    const t0 = process.hrtime.bigint();
    await f();
    return Number(process.hrtime.bigint() - t0) / 1e9;
  };
  const out: Record<string, number | string> = { realServers: n };
  for (const [name, make] of Object.entries({
    netlink: () => new NetlinkIpvsClient({ ledger: LEDGER }),
    ipvsadm: () => new IpvsadmClient(new LocalTransport(), LEDGER),
  })) {
    const c = make();
    await cleanUp(c);
    await c.apply(serviceChange("add", service));
    // all at once, as the engine issues them
    out[`${name}AddSeconds`] = await time(() =>
      Promise.all(servers.map((r) => c.apply(realServerChange("add", service.key, r)))),
    );
    const count = findService((await make().snapshot()).table, service.key)?.realServers.length;
    if (count !== n) throw new Error(`${name}: ${count} real servers in the kernel, wanted ${n}`);
    out[`${name}ReadSeconds`] = await time(() => make().snapshot());
    out[`${name}DeleteSeconds`] = await time(() =>
      Promise.all(servers.map((r) => c.apply(realServerChange("delete", service.key, r)))),
    );
    await c.apply(serviceChange("delete", service.key));
  }
  // one ipvsadm process per real server, one after the other: what a script (or remote.Command) does
  const c = new NetlinkIpvsClient({ ledger: LEDGER });
  await c.apply(serviceChange("add", service));
  out.ipvsadmInvocationsAddSeconds = await time(async () => {
    for (const r of servers)
      execFileSync("ipvsadm", ["-a", "-t", "10.99.1.1:80", "-r", `${r.address}:80`, "-m", "-w", "1"]);
  });
  await c.apply(serviceChange("delete", service.key));
  out.ratioIpvsadmInvocationsToNetlink =
    (out.ipvsadmInvocationsAddSeconds as number) / (out.netlinkAddSeconds as number);
  out.ratioIpvsadmClientToNetlink = (out.ipvsadmAddSeconds as number) / (out.netlinkAddSeconds as number);
  console.log(JSON.stringify(out));
}

/**
 * Makes every case's state at once with ipvsadm, then prints what the kernel dumps over netlink
 * (raw attribute payloads, hex) next to `ipvsadm -S -n`: the fixture of the netlink parser's unit
 * test (test/unit/fixtures/netlink/dump.json).
 */
async function capture(): Promise<void> {
  const c = new IpvsadmClient(new LocalTransport(), LEDGER);
  await cleanUp(c);
  const all = cases(kernelSchedulers()).flatMap((k) => k.services);
  for (const s of all) {
    await c.apply(serviceChange("add", s.config));
    for (const r of s.realServers) await c.apply(realServerChange("add", s.config.key, r));
  }
  const sock = await openIpvsSocket();
  if (!sock) throw new Error("no IPVS family");
  const services: Array<{ service: string; realServers: string[] }> = [];
  for (const m of await sock.request(Cmd.GET_SERVICE, Buffer.alloc(0), { dump: true })) {
    const svc = decodeAttrs(m).get(CmdAttr.SERVICE)!;
    const key = parseService(svc).key;
    if (!isSuiteKey(key)) continue;
    const dests = await sock.request(
      Cmd.GET_DEST,
      encodeAttrs([[CmdAttr.SERVICE, encodeAttrs(serviceKeyAttrs(key))]]),
      {
        dump: true,
      },
    );
    services.push({
      service: svc.toString("hex"),
      realServers: dests.map((d) => decodeAttrs(d).get(CmdAttr.DEST)!.toString("hex")),
    });
  }
  sock.close();
  const save = execFileSync("ipvsadm", ["-S", "-n"], { encoding: "utf8" });
  // -S has no thresholds: the ipvsadm client reads them from this listing
  const thresholds = execFileSync("ipvsadm", ["-L", "-n", "--thresholds"], { encoding: "utf8" });
  await cleanUp(c);
  const kernel = execFileSync("uname", ["-r"], { encoding: "utf8" }).trim();
  console.log(
    JSON.stringify(
      { kernel, ipvsadm: execFileSync("ipvsadm", ["-v"], { encoding: "utf8" }).trim(), save, thresholds, services },
      null,
      1,
    ),
  );
}

/** The traffic counters of one service (`tcp/10.0.0.100:8080`) through netlink, as JSON. */
async function counters(service: string): Promise<void> {
  const m = /^(tcp|udp|sctp)\/(.+):(\d+)$/.exec(service);
  if (!m) throw new Error(`not a service: ${service}`);
  const key = { protocol: m[1] as "tcp", address: m[2]!, port: Number(m[3]) };
  const c = await new NetlinkIpvsClient({ ledger: LEDGER }).counters(key);
  if (!c) throw new Error(`no service ${service}`);
  const text = (x: object) => Object.fromEntries(Object.entries(x).map(([k, v]) => [k, String(v)]));
  console.log(
    JSON.stringify({
      service: text(c.service),
      realServers: Object.fromEntries([...c.realServers].map(([k, v]) => [k, text(v)])),
    }),
  );
}

async function main(): Promise<void> {
  fs.mkdirSync(DIR, { recursive: true });
  const ci = process.argv.indexOf("--counters");
  if (ci >= 0) return counters(process.argv[ci + 1] ?? "");
  const i = process.argv.indexOf("--bench");
  if (i >= 0) await bench(Number(process.argv[i + 1] ?? 1000));
  else if (process.argv.includes("--capture")) await capture();
  else {
    const o = process.argv.indexOf("--only");
    await suite(o >= 0 ? process.argv[o + 1] : undefined);
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
