import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { writeFilesScript } from "../../provider/host/persist";
import { realServerChange, serviceChange } from "../../provider/ipvs/change";
import { drainReporter, drains, waitDrained } from "../../provider/ipvs/drain";
import {
  CHANGES_FILE,
  parseKeepalivedHost,
  RESTART_DROPIN,
  readKeepalivedHost,
} from "../../provider/keepalived/daemon";
import {
  applyRealServer,
  applyService,
  deleteService,
  fileState,
  IN_SYNC,
  observeRealServer,
  observeService,
  removeRealServers,
  type ServiceSpec,
} from "../../provider/keepalived/engine";
import {
  MAIN_CONF,
  MAIN_CONF_TEXT,
  realServerFileOf,
  renderRealServer,
  renderVirtualServer,
  renderVrrpInstance,
  serviceFileOf,
} from "../../provider/keepalived/render";
import { vrrpInstanceInputs } from "../../provider/model/keepalived";
import { validate } from "../../provider/model/validate";
import { realServer } from "../../provider/resources/real-server";
import { virtualService } from "../../provider/resources/virtual-service";
import { restoreVipsScript, vrrpInstance } from "../../provider/resources/vrrp-instance";
import { LocalTransport } from "../../provider/transport/local";
import { setProgressSink } from "../../provider/transport/progress";
import { FakeIpvs, useFakeIpvs } from "./fakes/ipvs";
import { inSandbox, Sandbox } from "./fakes/sandbox";
import { conn, realServerFixture, serviceFixture } from "./fixtures";

const svc = { protocol: "tcp" as const, address: "10.0.0.100", port: 80 };
const rs = (address: string, weight = 1) => realServerFixture(address, { weight });
/** A VrrpInstance's inputs: VI_1 on eth0, router 51, priority 100, VIP 10.0.0.100, unless `extra` says otherwise. */
const vrrpNews = (extra: Record<string, unknown> = {}) => ({
  connection: conn(),
  name: "VI_1",
  interface: "eth0",
  virtualRouterId: 51,
  priority: 100,
  vips: [{ address: "10.0.0.100" }],
  ...extra,
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
    validate(vrrpInstanceInputs, vrrpNews(extra)).failures.map((f) => f.reason);

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

describe("what pulumi-lvs reads of a keepalived host (a real shell, one round trip)", () => {
  it("reads files back, tells missing ones, counts globs and reads addresses", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-lvs-probe-"));
    try {
      fs.writeFileSync(`${dir}/a`, "line 1\nline 2\n");
      fs.writeFileSync(`${dir}/b`, "no newline");
      fs.mkdirSync(`${dir}/d`);
      for (const n of ["x", "y", "z"]) fs.writeFileSync(`${dir}/d/${n}.conf`, "");
      const t = new LocalTransport();
      const p = await readKeepalivedHost(
        t,
        [`${dir}/a`, `${dir}/b`, `${dir}/c`],
        [`${dir}/d/*.conf`, `${dir}/e/*.conf`],
      );
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
    assert.equal(parseKeepalivedHost(`${M} running\nyes\n${M} addresses\n`).running, true);
    assert.equal(parseKeepalivedHost(`${M} running\n${M} addresses\n`).running, false);
  });

  it("reads whether keepalived's unit is enabled under systemd, and nothing without systemd", () => {
    const M = "#pulumi-lvs:keepalived";
    assert.equal(parseKeepalivedHost(`${M} enabled\nyes\n`).enabled, true);
    assert.equal(parseKeepalivedHost(`${M} enabled\nno\n`).enabled, false);
    assert.equal(parseKeepalivedHost(`${M} enabled\nno-systemd\n`).enabled, undefined);
  });
});

describe("graceful drain", () => {
  let ipvs: FakeIpvs;
  useFakeIpvs((fake) => {
    ipvs = fake;
  });

  const withActive = (n: number) => {
    ipvs.table.services[0]!.realServers[0]!.stats = { activeConnections: n, inactiveConnections: 0 };
  };

  it("a drain says what it waits for: at its start, when the count changes, and every 5 s", () => {
    const said: string[] = [];
    setProgressSink((l) => said.push(l));
    try {
      const report = drainReporter("real server 10.0.0.11:80 of tcp/10.0.0.100:80", "root@d:22");
      for (const [active, left] of [
        [3, 30],
        [3, 29],
        [3, 28],
        [3, 27],
        [3, 26],
        [3, 25],
        [1, 24],
        [1, 23],
      ] as const)
        report(active, left);
    } finally {
      setProgressSink(undefined);
    }
    assert.deepEqual(said, [
      "pulumi-lvs: draining real server 10.0.0.11:80 of tcp/10.0.0.100:80 on root@d:22: 3 active connections, waiting up to 30 s more",
      "pulumi-lvs: draining real server 10.0.0.11:80 of tcp/10.0.0.100:80 on root@d:22: 3 active connections, waiting up to 25 s more",
      "pulumi-lvs: draining real server 10.0.0.11:80 of tcp/10.0.0.100:80 on root@d:22: 1 active connection, waiting up to 24 s more",
    ]);
  });

  it("UDP services and a zero timeout do not drain", () => {
    assert.equal(drains({ protocol: "udp", address: "10.0.0.100", port: 53 }, 30), false);
    assert.equal(drains(svc, 0), false);
    assert.equal(drains(svc, 30), true);
    assert.equal(drains({ fwmark: 1, family: "ipv4" }, 30), true);
  });

  it("waits until the active connections reach 0, polling fresh reads", async () => {
    await ipvs.apply(serviceChange("add", serviceFixture({ key: svc })));
    await ipvs.apply(realServerChange("add", svc, rs("10.0.0.11")));
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
    await ipvs.apply(serviceChange("add", serviceFixture({ key: svc })));
    await ipvs.apply(realServerChange("add", svc, rs("10.0.0.11")));
    withActive(5);
    let t = 0;
    const told: Array<[number, number]> = [];
    const left = await waitDrained(
      ipvs,
      svc,
      rs("10.0.0.11"),
      10,
      async (ms) => {
        t += ms;
      },
      () => t,
      (active, secondsLeft) => told.push([active, secondsLeft]),
    );
    assert.equal(left, 5);
    assert.equal(t, 10_000);
    // each wait says what it waits for: the active connections and the seconds left
    assert.deepEqual(told[0], [5, 10]);
    assert.deepEqual(told.at(-1), [5, 1]);
    assert.equal(told.length, 10);
  });

  it("RealServer delete with drainTimeout: weight 0 first, the delete only once drained; UDP at once", async () => {
    await ipvs.apply(serviceChange("add", serviceFixture({ key: svc })));
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
    await ipvs.apply(serviceChange("add", serviceFixture({ key: udp })));
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

describe("keepalived on the host (the real scripts, in a sandbox with stand-ins for keepalived and systemctl)", () => {
  const spec: ServiceSpec = { cfg: serviceFixture({ key: svc }) };
  const rsSpec = { service: svc, cfg: rs("10.0.0.11") };
  let box: Sandbox;
  beforeEach(() => {
    box = new Sandbox();
  });
  afterEach(() => box.close());

  const changes = () => {
    const f = box.path(CHANGES_FILE.slice(1));
    return fs.existsSync(f) ? fs.readFileSync(f, "utf8").split("\n").filter(Boolean) : null;
  };
  const mainConf = () => {
    const f = box.path(MAIN_CONF.slice(1));
    return fs.existsSync(f) ? fs.readFileSync(f, "utf8") : null;
  };
  /** keepalived.conf as pulumi-lvs writes it (its paths in the sandbox). */
  const OURS = () => box.rewrite(MAIN_CONF_TEXT);
  /** The table keepalived makes from the service and its real server. */
  const madeByKeepalived = () => {
    const ipvs = new FakeIpvs();
    ipvs.byHand(spec.cfg, [rsSpec.cfg]);
    return ipvs;
  };

  it("inline real servers: one write for all, drift named per entry, and every file gone with the service", async () => {
    box.keepalived({ systemd: false });
    const t = box.transport();
    const entries = [rsSpec, { service: svc, cfg: rs("10.0.0.12") }];
    const inline: ServiceSpec = { ...spec, realServers: entries, drainSeconds: 0 };
    await applyService(t, new FakeIpvs(), inline);
    for (const e of entries) assert.ok(fs.existsSync(box.path(realServerFileOf(svc, e.cfg).slice(1))));
    // keepalived made the service and 10.0.0.11 only: 10.0.0.12 is named
    const made = new FakeIpvs();
    made.byHand(spec.cfg, [rsSpec.cfg]);
    assert.deepEqual((await observeService(t, made, inline)).drifted, ["10.0.0.12:80"]);
    // an update that drops 10.0.0.12 removes its file, and leaves 10.0.0.11's
    await applyService(t, new FakeIpvs(), { ...inline, realServers: [rsSpec], removed: [entries[1]!] });
    assert.equal(fs.existsSync(box.path(realServerFileOf(svc, entries[1]!.cfg).slice(1))), false);
    assert.ok(fs.existsSync(box.path(realServerFileOf(svc, rsSpec.cfg).slice(1))));
    await deleteService(t, new FakeIpvs(), { ...inline, realServers: [rsSpec] });
    assert.equal(fs.existsSync(box.path(realServerFileOf(svc, rsSpec.cfg).slice(1))), false);
    assert.equal(fs.existsSync(box.path(serviceFileOf(svc).slice(1))), false);
  });

  it("a main file of the host's own that does not read conf.d is left as it is, and the write fails saying what to add", async () => {
    box.keepalived({ systemd: false });
    const own = "global_defs {\n  router_id lab\n}\n";
    fs.mkdirSync(path.dirname(box.path(MAIN_CONF.slice(1))), { recursive: true });
    fs.writeFileSync(box.path(MAIN_CONF.slice(1)), own);
    await assert.rejects(applyService(box.transport(), new FakeIpvs(), spec), /add the line `include /);
    assert.equal(mainConf(), own);
    assert.equal(fs.existsSync(box.path(serviceFileOf(svc).slice(1))), false, "nothing written");
  });

  it("with no main file, pulumi-lvs writes one that reads conf.d", async () => {
    box.keepalived({ systemd: false });
    await applyService(box.transport(), new FakeIpvs(), spec);
    assert.equal(mainConf(), OURS());
  });

  it("under systemd, keepalived started for pulumi-lvs's files is also enabled, so that it comes back after a reboot", async () => {
    box.keepalived({ systemd: true, enabled: false, active: false });
    const t = box.transport();
    await applyService(t, new FakeIpvs(), spec);
    assert.equal(box.keepalivedRunning(), true);
    assert.equal(box.keepalivedEnabled(), true, "enabled");
    const calls = box.calls().filter((c) => /^systemctl (enable|start|reload)/.test(c));
    assert.deepEqual(calls, ["systemctl enable -q keepalived", "systemctl start keepalived"]);
    assert.deepEqual(changes(), ["enabled", "restart", "started"], "what pulumi-lvs changed is recorded");
    // Debian's unit has no Restart=: the drop-in brings a keepalived that died back
    assert.match(fs.readFileSync(box.path(RESTART_DROPIN.slice(1)), "utf8"), /^\[Service\]\nRestart=on-failure$/m);
    assert.ok(box.calls().includes("systemctl daemon-reload"));
    // a reload later changes nothing more
    await applyRealServer(t, rsSpec);
    assert.equal(box.calls().filter((c) => /^systemctl (enable|start)/.test(c)).length, 2);
    assert.ok(box.calls().includes("systemctl reload keepalived"));
  });

  it("without systemd (the lab), keepalived is started by itself, and nothing is enabled", async () => {
    box.keepalived({ systemd: false });
    await applyService(box.transport(), new FakeIpvs(), spec);
    assert.equal(box.keepalivedRunning(), true);
    assert.ok(box.calls().some((c) => c.startsWith("keepalived -f ")));
    assert.ok(!box.calls().some((c) => c.startsWith("systemctl")));
    assert.deepEqual(changes(), ["started"]);
  });

  it("a keepalived the user runs and enabled is only reloaded (and given the restart drop-in), and nothing else is recorded", async () => {
    box.keepalived({ systemd: true, enabled: true, active: true });
    await applyService(box.transport(), new FakeIpvs(), spec);
    assert.deepEqual(
      box.calls().filter((c) => /^systemctl (enable|start|reload)/.test(c)),
      ["systemctl reload keepalived"],
    );
    assert.deepEqual(changes(), ["restart"]);
  });

  it("drift: keepalived stopped by a reboot (the table empty), or running but not enabled; reading changes nothing", async () => {
    box.keepalived({ systemd: true, enabled: true, active: true });
    const t = box.transport();
    const files = [
      { path: serviceFileOf(svc), content: renderVirtualServer(spec.cfg) },
      { path: realServerFileOf(svc, rsSpec.cfg), content: renderRealServer(rsSpec) },
    ];
    assert.equal((await t.run(writeFilesScript(files))).code, 0);
    assert.deepEqual(await observeService(t, madeByKeepalived(), spec), IN_SYNC);
    assert.deepEqual(await observeRealServer(t, madeByKeepalived(), rsSpec), IN_SYNC);

    // keepalived started but not enabled (what an earlier pulumi-lvs left)
    fs.rmSync(box.path("var/lib/fake-systemd/enabled"));
    assert.deepEqual(await observeService(t, madeByKeepalived(), spec), { ...IN_SYNC, keepalived: "not enabled" });

    // so a reboot leaves it stopped, and the table it would have made empty
    box.reboot();
    fs.writeFileSync(box.log, "");
    const empty = new FakeIpvs();
    const vs = await observeService(t, empty, spec);
    const r = await observeRealServer(t, empty, rsSpec);
    assert.deepEqual(vs, { config: "ok", live: "missing", keepalived: "stopped" });
    assert.deepEqual(r, { config: "ok", live: "missing", keepalived: "stopped" });
    const props = { ...(await virtualService.check!({}, { connection: conn(), ...svc, engine: "keepalived" })).inputs };
    assert.equal((await virtualService.diff!("id", { ...props, observed: vs }, props)).changes, true);
    // reading had no side effect
    assert.ok(
      box.calls().every((c) => /^systemctl is-(active|enabled) /.test(c)),
      `only reads: ${box.calls().join("; ")}`,
    );
    assert.equal(box.keepalivedRunning(), false);
  });

  it("state recorded before keepalived itself was read shows no drift", async () => {
    const props = (await virtualService.check!({}, { connection: conn(), ...svc, engine: "keepalived" })).inputs;
    const old = { ...props, observed: { config: "ok", live: "ok" } };
    assert.equal((await virtualService.diff!("id", old, props)).changes, false);
  });

  it("VrrpInstance: keepalived not enabled is drift; state recorded before that was read is not", async () => {
    const props = (await vrrpInstance.check!({}, vrrpNews())).inputs;
    const healthy = { config: "ok", running: true, enabled: true, missingVips: [] };
    const diff = (observed: object) => vrrpInstance.diff!("id", { ...props, observed }, props);
    assert.equal((await diff(healthy)).changes, false);
    assert.equal((await diff({ ...healthy, enabled: false })).changes, true);
    assert.equal((await diff({ config: "ok", running: true, missingVips: [] })).changes, false);
  });

  it("under systemd, when pulumi-lvs's last file goes, the keepalived.conf it wrote is removed, keepalived stopped and disabled again", async () => {
    box.keepalived({ systemd: true, enabled: false, active: false });
    const t = box.transport();
    await applyService(t, new FakeIpvs(), spec);
    await applyRealServer(t, rsSpec);
    assert.equal(mainConf(), OURS());
    await removeRealServers(t, new FakeIpvs(), [rsSpec], 0);
    assert.equal(box.keepalivedRunning(), true, "the service's file is still there");
    await deleteService(t, new FakeIpvs(), {
      cfg: serviceFixture({ key: svc }),
    });
    assert.equal(box.keepalivedRunning(), false, "stopped");
    assert.equal(box.keepalivedEnabled(), false, "disabled again");
    assert.equal(mainConf(), null, "keepalived.conf removed");
    assert.equal(fs.existsSync(box.path(RESTART_DROPIN.slice(1))), false, "restart drop-in removed");
    assert.equal(fs.existsSync(box.path("etc/keepalived/pulumi-lvs")), false, "pulumi-lvs's folder removed");
    assert.equal(fs.existsSync(box.path("etc/keepalived/conf.d")), false, "the conf.d it made removed");
    assert.equal(changes(), null);
    assert.ok(box.calls().includes("systemctl disable -q keepalived"));
  });

  it("without systemd, the keepalived pulumi-lvs started is stopped when its last file goes", async () => {
    box.keepalived({ systemd: false });
    const t = box.transport();
    await applyService(t, new FakeIpvs(), spec);
    assert.equal(box.keepalivedRunning(), true);
    await deleteService(t, new FakeIpvs(), {
      cfg: serviceFixture({ key: svc }),
    });
    assert.equal(box.keepalivedRunning(), false);
    assert.equal(mainConf(), null);
  });

  it("a keepalived the user had enabled and running, and their keepalived.conf, stay as they were", async () => {
    box.keepalived({ systemd: true, enabled: true, active: true });
    const theirs = box.rewrite("global_defs {\n  router_id lb1\n}\ninclude /etc/keepalived/conf.d/*.conf\n");
    fs.mkdirSync(box.path("etc/keepalived"), { recursive: true });
    fs.writeFileSync(box.path(MAIN_CONF.slice(1)), theirs);
    const t = box.transport();
    await applyService(t, new FakeIpvs(), spec);
    await deleteService(t, new FakeIpvs(), {
      cfg: serviceFixture({ key: svc }),
    });
    assert.equal(mainConf(), theirs);
    assert.equal(box.keepalivedRunning(), true);
    assert.equal(box.keepalivedEnabled(), true);
    assert.equal(
      fs.existsSync(box.path(RESTART_DROPIN.slice(1))),
      false,
      "the restart drop-in pulumi-lvs added is gone",
    );
    assert.ok(!box.calls().some((c) => /^systemctl (stop|disable|start|enable)/.test(c)), box.calls().join("; "));
    assert.equal(box.calls().filter((c) => c === "systemctl reload keepalived").length, 2);
  });

  it("the keepalived.conf pulumi-lvs wrote stays, and keepalived runs on, while another file in conf.d needs it", async () => {
    box.keepalived({ systemd: true, enabled: false, active: false });
    const t = box.transport();
    await applyService(t, new FakeIpvs(), spec);
    fs.writeFileSync(box.path("etc/keepalived/conf.d/mine.conf"), "# the user's\n");
    await deleteService(t, new FakeIpvs(), {
      cfg: serviceFixture({ key: svc }),
    });
    assert.equal(mainConf(), OURS());
    assert.equal(box.keepalivedRunning(), true);
    assert.equal(changes(), null, "the user's configuration has taken over what pulumi-lvs started");
  });
});

describe("VIPs keepalived lost, put back", () => {
  it("each is added, then announced; the first that cannot be added stops the rest (run by a real shell)", async () => {
    await inSandbox(async (box) => {
      box.command("arping", "exit 0");
      const ip = box.addresses();
      const vips = [
        { address: "10.0.0.100", prefix: 32, device: "eth0" },
        { address: "10.0.0.101", prefix: 32, device: "eth0" },
      ];
      const ok = await box.run(restoreVipsScript(vips).script);
      assert.equal(ok.code, 0, ok.stderr);
      assert.deepEqual(ip.list(), ["10.0.0.100/32", "10.0.0.101/32"]);
      assert.deepEqual(
        box.calls().filter((c) => c.startsWith("arping")),
        ["arping -q -U -c 1 -I eth0 10.0.0.100", "arping -q -U -c 1 -I eth0 10.0.0.101"],
      );
      box.command("ip", "exit 2");
      const failed = await box.run(restoreVipsScript(vips).script);
      assert.notEqual(failed.code, 0);
      assert.doesNotMatch(restoreVipsScript(vips).command, /announce\(\)/, "the message names the commands only");
    });
  });
});
