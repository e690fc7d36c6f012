import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { parseProbe, probe } from "../../provider/keepalived/daemon";
import { drains, fileState, waitDrained } from "../../provider/keepalived/engine";
import {
  realServerFileOf,
  renderRealServer,
  renderVirtualServer,
  renderVrrpInstance,
  serviceFileOf,
} from "../../provider/keepalived/render";
import { vrrpInstanceInputs } from "../../provider/model/keepalived";
import { validate } from "../../provider/model/validate";
import { resetClaims, setIpvsClientFactory } from "../../provider/resources/common";
import { realServer } from "../../provider/resources/real-server";
import { virtualService } from "../../provider/resources/virtual-service";
import { LocalTransport } from "../../provider/transport/local";
import { FakeIpvs } from "./fakes/ipvs";
import { conn } from "./fixtures";

const svc = { protocol: "tcp" as const, address: "10.0.0.100", port: 80 };
const rs = (address: string, weight = 1) => ({
  address,
  port: 80,
  forwarding: "dr" as const,
  weight,
  upperThreshold: 0,
  lowerThreshold: 0,
});

/** The non-comment lines of a rendered file, trimmed. */
const body = (text: string) =>
  text
    .split("\n")
    .filter((l) => l.trim() && !l.startsWith("#"))
    .map((l) => l.trim());

describe("keepalived rendering", () => {
  it("renders a virtual_server with scheduler flags, persistence granularity, ops and a sorry server, including its real servers' files", () => {
    const text = renderVirtualServer(
      {
        key: { protocol: "udp", address: "10.0.0.100", port: 53 },
        scheduler: "sh",
        schedulerFlags: ["sh-fallback", "sh-port"],
        persistence: { timeout: 600, netmask: "255.255.255.0" },
        onePacket: true,
      },
      { address: "10.0.0.99" },
    );
    assert.deepEqual(body(text), [
      "virtual_server 10.0.0.100 53 {",
      "lvs_sched sh",
      "sh-fallback",
      "sh-port",
      "protocol UDP",
      "persistence_timeout 600",
      "persistence_granularity 255.255.255.0",
      "ops",
      "sorry_server 10.0.0.99 53",
      "include /etc/keepalived/pulumi-lvs/udp_10.0.0.100_53/*.conf",
      "}",
    ]);
    assert.equal(serviceFileOf(svc), "/etc/keepalived/conf.d/pulumi-lvs-vs-tcp_10.0.0.100_80.conf");
  });

  it("renders an IPv6 fwmark service with its family, and no granularity for a full mask", () => {
    const text = renderVirtualServer({
      key: { fwmark: 7, family: "ipv6" },
      scheduler: "wlc",
      schedulerFlags: [],
      persistence: { timeout: 300, netmask: "128" },
      onePacket: false,
    });
    assert.deepEqual(body(text).slice(0, 4), [
      "virtual_server fwmark 7 {",
      "ip_family inet6",
      "lvs_sched wlc",
      "persistence_timeout 300",
    ]);
  });

  it("renders a real_server with its forwarding method, tunnel, thresholds, inhibit and an HTTP check that reports its verdict", () => {
    const text = renderRealServer({
      service: svc,
      cfg: {
        ...rs("10.0.0.11", 3),
        forwarding: "tun",
        tunnel: { type: "gue", port: 6080, checksum: "remcsum" },
        upperThreshold: 100,
        lowerThreshold: 10,
      },
      inhibitOnFailure: true,
      healthCheck: { type: "http", path: "/healthz", status: 204, interval: 2, timeout: 1, retries: 2, retryDelay: 1 },
    });
    const lines = body(text);
    assert.deepEqual(lines.slice(0, 10), [
      "real_server 10.0.0.11 80 {",
      "weight 3",
      "lvs_method TUN",
      "tun_type gue",
      "tun_port 6080",
      "tun_remcsum",
      "uthreshold 100",
      "lthreshold 10",
      "inhibit_on_failure",
      'notify_up "/etc/keepalived/pulumi-lvs/notify-real-server.sh /run/pulumi-lvs/keepalived/rs-tcp_10.0.0.100_80-10.0.0.11_80 UP"',
    ]);
    assert.deepEqual(lines.slice(11), [
      "HTTP_GET {",
      "url {",
      "path /healthz",
      "status_code 204",
      "}",
      "connect_timeout 1",
      "retry 2",
      "delay_before_retry 1",
      "delay_loop 2",
      "}",
      "}",
    ]);
    assert.equal(
      realServerFileOf(svc, rs("10.0.0.11")),
      "/etc/keepalived/pulumi-lvs/tcp_10.0.0.100_80/10.0.0.11_80.conf",
    );
  });

  it("renders TCP and script checks, and no notify lines without a check", () => {
    assert.deepEqual(
      body(
        renderRealServer({
          service: svc,
          cfg: rs("10.0.0.12"),
          healthCheck: { type: "tcp", port: 8080, interval: 5, timeout: 3, retries: 1, retryDelay: 1 },
        }),
      ).slice(5),
      [
        "TCP_CHECK {",
        "connect_timeout 3",
        "retry 1",
        "delay_before_retry 1",
        "delay_loop 5",
        "connect_port 8080",
        "}",
        "}",
      ],
    );
    assert.deepEqual(
      body(
        renderRealServer({
          service: svc,
          cfg: rs("10.0.0.12"),
          healthCheck: { type: "script", command: "/usr/local/bin/check 10.0.0.12", interval: 5, timeout: 3 },
        }),
      ).slice(5),
      ["MISC_CHECK {", 'misc_path "/usr/local/bin/check 10.0.0.12"', "misc_timeout 3", "delay_loop 5", "}", "}"],
    );
    assert.deepEqual(body(renderRealServer({ service: svc, cfg: rs("10.0.0.12") })), [
      "real_server 10.0.0.12 80 {",
      "weight 1",
      "lvs_method DR",
      "}",
    ]);
  });

  it("renders a VRRP instance with password, unicast peers, preemption delay and the sync daemon", () => {
    const { value, failures } = validate(vrrpInstanceInputs, {
      connection: conn(),
      name: "VI_WEB",
      interface: "eth0",
      virtualRouterId: 51,
      priority: 150,
      authPass: "s3cret",
      preemptDelay: 10,
      unicastPeers: ["10.0.0.3"],
      unicastSourceAddress: "10.0.0.2",
      vips: [{ address: "10.0.0.100" }, { address: "fd00:10::100", prefix: 64, interface: "eth1" }],
      sync: { interface: "eth0", syncId: 51, group: "224.0.0.81", port: 8848 },
    });
    assert.deepEqual(failures, []);
    assert.deepEqual(body(renderVrrpInstance(value!)), [
      "global_defs {",
      "vrrp_notify_fifo /run/keepalived-pulumi-lvs-vrrp.fifo",
      "vrrp_notify_fifo_script /etc/keepalived/pulumi-lvs/vrrp-state.sh",
      "lvs_sync_daemon eth0 VI_WEB id 51 port 8848 group 224.0.0.81",
      "}",
      "vrrp_instance VI_WEB {",
      "state BACKUP",
      "interface eth0",
      "virtual_router_id 51",
      "priority 150",
      "advert_int 1",
      "preempt_delay 10",
      "authentication {",
      "auth_type PASS",
      "auth_pass s3cret",
      "}",
      "unicast_src_ip 10.0.0.2",
      "unicast_peer {",
      "10.0.0.3",
      "}",
      "virtual_ipaddress {",
      "10.0.0.100/32 dev eth0",
      "fd00:10::100/64 dev eth1",
      "}",
      "}",
    ]);
  });
});

describe("keepalived inputs", () => {
  const vrrp = (extra: Record<string, unknown>) =>
    validate(vrrpInstanceInputs, {
      connection: conn(),
      name: "VI_1",
      interface: "eth0",
      virtualRouterId: 51,
      priority: 100,
      vips: [{ address: "10.0.0.100" }],
      ...extra,
    }).failures.map((f) => f.reason);

  it("rejects bad VRRP settings, naming the field", () => {
    assert.match(vrrp({ virtualRouterId: 256 }).join(), /^virtualRouterId: must be from 1 to 255/);
    assert.match(vrrp({ priority: 255 }).join(), /^priority: .*255 is for the address owner/);
    assert.match(vrrp({ authPass: "longer-than-8" }).join(), /^authPass: must be 1 to 8 printable/);
    assert.match(vrrp({ preempt: false, preemptDelay: 5 }).join(), /^preemptDelay: needs preempt: true/);
    assert.match(vrrp({ unicastSourceAddress: "10.0.0.2" }).join(), /^unicastSourceAddress: needs unicastPeers/);
    assert.match(
      vrrp({ sync: { interface: "eth0", syncId: 1, group: "10.0.0.9" } }).join(),
      /^sync.group: .*not a multicast/,
    );
    assert.match(vrrp({ vips: [] }).join(), /^vips: must list at least one VIP/);
    assert.match(vrrp({ name: "bad name;rm" }).join(), /^name: must be 1 to 32 letters/);
    assert.deepEqual(vrrp({}), []);
  });

  it("health checks, inhibit and the sorry server need engine keepalived; hostile check text is refused", async () => {
    const rsFail = async (extra: Record<string, unknown>, engine?: string) => {
      const r = await realServer.check!(
        {},
        {
          connection: conn(),
          service: { ...svc, ...(engine ? { engine } : {}) },
          address: "10.0.0.11",
          ...extra,
        },
      );
      return (r.failures ?? []).map((f) => f.reason).join("; ");
    };
    assert.match(
      await rsFail({ healthCheck: { type: "tcp" } }),
      /^healthCheck: needs a virtual service with engine "keepalived"/,
    );
    assert.match(
      await rsFail({ inhibitOnFailure: true }),
      /^inhibitOnFailure: needs a virtual service with engine "keepalived"/,
    );
    assert.equal(await rsFail({ healthCheck: { type: "http" } }, "keepalived"), "");
    assert.match(
      await rsFail({ healthCheck: { type: "script", command: 'x" ; touch /tmp/p' } }, "keepalived"),
      /^healthCheck.command: .*without quotes/,
    );
    assert.match(
      await rsFail({ healthCheck: { type: "http", path: "/a b" } }, "keepalived"),
      /^healthCheck.path: must be a path/,
    );
    assert.match(await rsFail({ healthCheck: { type: "ping" } }, "keepalived"), /^healthCheck/);
    assert.match(await rsFail({ drainTimeout: -1 }), /^drainTimeout: must be from 0/);
    const vs = await virtualService.check!({}, { connection: conn(), ...svc, sorryServer: { address: "10.0.0.99" } });
    assert.match((vs.failures ?? []).map((f) => f.reason).join(), /^sorryServer: needs engine "keepalived"/);
    const ex = await virtualService.check!({}, { connection: conn(), ...svc, engine: "keepalived", exclusive: true });
    assert.match((ex.failures ?? []).map((f) => f.reason).join(), /^exclusive: does not apply with engine keepalived/);
  });
});

describe("keepalived probe (a real shell, one round trip)", () => {
  it("reads files back, tells missing ones, counts globs and reads addresses", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-lvs-probe-"));
    try {
      fs.writeFileSync(`${dir}/a`, "line 1\nline 2\n");
      fs.writeFileSync(`${dir}/b`, "no newline");
      fs.mkdirSync(`${dir}/d`);
      for (const n of ["x", "y", "z"]) fs.writeFileSync(`${dir}/d/${n}.conf`, "");
      const t = new LocalTransport();
      const p = await probe(t, [`${dir}/a`, `${dir}/b`, `${dir}/c`], [`${dir}/d/*.conf`, `${dir}/e/*.conf`]);
      assert.equal(t.stats.commands, 1, "one round trip");
      assert.equal(fileState(p.files.get(`${dir}/a`), "line 1\nline 2\n"), "ok");
      assert.equal(fileState(p.files.get(`${dir}/a`), "line 1\nline 3\n"), "changed");
      assert.equal(fileState(p.files.get(`${dir}/b`), "no newline"), "ok");
      assert.equal(fileState(p.files.get(`${dir}/c`), "anything"), "missing");
      assert.equal(p.counts.get(`${dir}/d/*.conf`), 3);
      assert.equal(p.counts.get(`${dir}/e/*.conf`), 0);
      assert.ok(p.addresses.some((a) => a.address === "127.0.0.1" && a.prefix === 8 && a.device === "lo"));
      assert.equal(p.running, fs.existsSync("/run/keepalived.pid"), "no keepalived on this machine");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("reads keepalived as running only when the pid file names a live process", () => {
    const M = "#pulumi-lvs:keepalived";
    assert.equal(parseProbe(`${M} running\nyes\n${M} addresses\n`).running, true);
    assert.equal(parseProbe(`${M} running\n${M} addresses\n`).running, false);
  });
});

describe("graceful drain", () => {
  let ipvs: FakeIpvs;
  beforeEach(() => {
    ipvs = new FakeIpvs();
    setIpvsClientFactory(() => ipvs);
    resetClaims();
  });
  afterEach(() => setIpvsClientFactory(undefined));

  const withActive = (n: number) => {
    ipvs.table.services[0]!.realServers[0]!.stats = { activeConnections: n, inactiveConnections: 0 };
  };

  it("UDP services and a zero timeout do not drain", () => {
    assert.equal(drains({ protocol: "udp", address: "10.0.0.100", port: 53 }, 30), false);
    assert.equal(drains(svc, 0), false);
    assert.equal(drains(svc, 30), true);
    assert.equal(drains({ fwmark: 1, family: "ipv4" }, 30), true);
  });

  it("waits until the active connections reach 0, polling fresh reads", async () => {
    await ipvs.addService({ key: svc, scheduler: "rr", schedulerFlags: [], onePacket: false });
    await ipvs.addRealServer(svc, rs("10.0.0.11"));
    withActive(2);
    let polls = 0;
    const left = await waitDrained(ipvs, svc, rs("10.0.0.11"), 60, async () => {
      polls++;
      if (polls === 3) withActive(0);
    });
    assert.equal(left, 0);
    assert.equal(polls, 3);
  });

  it("gives up at the timeout and reports what is left", async () => {
    await ipvs.addService({ key: svc, scheduler: "rr", schedulerFlags: [], onePacket: false });
    await ipvs.addRealServer(svc, rs("10.0.0.11"));
    withActive(5);
    let t = 0;
    const left = await waitDrained(
      ipvs,
      svc,
      rs("10.0.0.11"),
      10,
      async (ms) => {
        t += ms;
      },
      () => t,
    );
    assert.equal(left, 5);
    assert.equal(t, 10_000);
  });

  it("RealServer delete with drainTimeout: weight 0 first, the delete only once drained; UDP at once", async () => {
    await ipvs.addService({ key: svc, scheduler: "rr", schedulerFlags: [], onePacket: false });
    const inputs = (
      await realServer.check!({}, { connection: conn(), service: svc, address: "10.0.0.11", drainTimeout: 30 })
    ).inputs;
    await realServer.create!(inputs);
    withActive(1);
    const weights: number[] = [];
    const realSnapshot = ipvs.snapshot.bind(ipvs);
    let n = 0;
    ipvs.snapshot = async () => {
      const s = await realSnapshot();
      const entry = s.table.services[0]?.realServers[0];
      if (entry) weights.push(entry.config.weight);
      if (++n === 2) withActive(0);
      return s;
    };
    const t0 = Date.now();
    await realServer.delete!("id", inputs);
    assert.ok(weights.length >= 2 && weights.every((w) => w === 0), `weights seen while draining: ${weights}`);
    assert.ok(Date.now() - t0 >= 900, "did not wait for the connection");
    assert.equal(ipvs.table.services[0]!.realServers.length, 0);
    assert.deepEqual(
      ipvs.calls.filter((c) => !c.startsWith("snapshot")),
      [
        "add tcp/10.0.0.100:80",
        "add tcp/10.0.0.100:80 10.0.0.11:80",
        "edit tcp/10.0.0.100:80 10.0.0.11:80",
        "delete tcp/10.0.0.100:80 10.0.0.11:80",
      ],
    );

    const udp = { protocol: "udp" as const, address: "10.0.0.100", port: 53 };
    await ipvs.addService({ key: udp, scheduler: "rr", schedulerFlags: [], onePacket: false });
    const u = (
      await realServer.check!({}, { connection: conn(), service: udp, address: "10.0.0.11", drainTimeout: 30 })
    ).inputs;
    await realServer.create!(u);
    ipvs.calls = [];
    await realServer.delete!("id", u);
    assert.deepEqual(
      ipvs.calls.filter((c) => !c.startsWith("snapshot")),
      ["delete udp/10.0.0.100:53 10.0.0.11:53"],
    );
  });
});
