import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { RealServerConfig, VirtualServiceConfig } from "../../provider/ipvs/types";
import { type ConfNode, type KeepalivedConf, mapFiles, readKeepalivedConf } from "../../provider/keepalived/conf";
import { parseConf } from "../../provider/keepalived/conf/parse";
import {
  MAIN_CONF,
  MAIN_CONF_TEXT,
  realServerFileOf,
  renderRealServer,
  renderVirtualServer,
  renderVrrpInstance,
  serviceFileOf,
  vipsOf,
  vrrpFileOf,
} from "../../provider/keepalived/render";
import type { HealthCheck } from "../../provider/model/keepalived";
import { vrrpInstanceInputs } from "../../provider/model/keepalived";
import {
  checkedVirtualService,
  inlineConfigs,
  inlineEntries,
  serviceConfigOf,
} from "../../provider/model/virtual-service";
import { isIPv6 } from "../../provider/net/address";
import { ipv4, realServer, serviceConfig } from "./arbitraries";
import { thirdParty } from "./third-party";

const CONNECTION = { host: "director.invalid", insecureIgnoreHostKey: true };

/** Reads one main file (and any others) given as path → text. */
function read(files: Record<string, string>, main = MAIN_CONF): KeepalivedConf {
  return readKeepalivedConf(mapFiles(new Map(Object.entries(files))), main);
}

/** Every statement, depth first. */
function allNodes(nodes: ConfNode[]): ConfNode[] {
  return nodes.flatMap((n) => [n, ...allNodes(n.block ?? [])]);
}

/** A value as plain JSON (fast-check builds objects without a prototype). */
const plain = (x: unknown): unknown => (x === undefined ? undefined : JSON.parse(JSON.stringify(x)));

const brief = (d: { line: number; what: string }) => `${d.line} ${d.what}`;

describe("keepalived.conf syntax", () => {
  it("reads words, quoted strings, comments, escapes, continuations and blocks with their lines", () => {
    const text = [
      "! a comment",
      "global_defs {   # another",
      '  router_id "my router" ! trailing',
      "  script_user a\\#b",
      "}",
      "vrrp_instance VI_1",
      "{",
      "  virtual_ipaddress { 10.0.0.1",
      "  }",
      "  track_interface \\",
      "    eth1",
      "}",
    ].join("\n");
    const parsed = parseConf(mapFiles(new Map([[MAIN_CONF, text]])), MAIN_CONF);
    const f = MAIN_CONF;
    assert.deepEqual(parsed.nodes, [
      {
        keyword: "global_defs",
        args: [],
        file: f,
        line: 2,
        block: [
          { keyword: "router_id", args: ["my router"], file: f, line: 3 },
          { keyword: "script_user", args: ["a#b"], file: f, line: 4 },
        ],
        end: { file: f, line: 5 },
      },
      {
        keyword: "vrrp_instance",
        args: ["VI_1"],
        file: f,
        line: 6,
        block: [
          {
            keyword: "virtual_ipaddress",
            args: [],
            file: f,
            line: 8,
            block: [{ keyword: "10.0.0.1", args: [], file: f, line: 8 }],
            end: { file: f, line: 9 },
          },
          { keyword: "track_interface", args: ["eth1"], file: f, line: 10 },
        ],
        end: { file: f, line: 12 },
      },
    ]);
    assert.deepEqual(parsed.unsupported, []);
  });

  it("lists conditional lines, definitions and sequences with file and line, without evaluating them", () => {
    const text = "@high priority 170\n@^low priority 85\n$IF=eth0\n~SEQ(i, 1, 3)\nvrrp_script s {\n}\n";
    const parsed = parseConf(mapFiles(new Map([[MAIN_CONF, text]])), MAIN_CONF);
    assert.deepEqual(
      parsed.unsupported.map((d) => `${d.file}:${d.line} ${d.what}`),
      [
        `${MAIN_CONF}:1 conditional line @high`,
        `${MAIN_CONF}:2 conditional line @^low`,
        `${MAIN_CONF}:3 definition $IF`,
        `${MAIN_CONF}:4 sequence ~SEQ`,
      ],
    );
    assert.deepEqual(
      parsed.nodes.map((n) => n.keyword),
      ["vrrp_script"],
    );
  });

  it("lists a } that closes nothing and a block never closed", () => {
    const parsed = parseConf(mapFiles(new Map([[MAIN_CONF, "}\nvirtual_server 10.0.0.1 80 {\n"]])), MAIN_CONF);
    assert.deepEqual(parsed.unsupported.map(brief), ["1 }", "2 virtual_server"]);
  });
});

describe("keepalived.conf includes", () => {
  it("reads glob matches in byte order, brace alternatives in order, skipping directories and dot files", () => {
    const conf = "/etc/keepalived";
    const files = {
      [MAIN_CONF]: "include conf.d/*.conf\ninclude {z,a}.x\n",
      [`${conf}/conf.d/b.conf`]: "b_kw\n",
      [`${conf}/conf.d/B.conf`]: "B_kw\n",
      [`${conf}/conf.d/10.conf`]: "ten_kw\n",
      [`${conf}/conf.d/.hidden.conf`]: "hidden_kw\n",
      [`${conf}/conf.d/dir.conf/`]: "",
      [`${conf}/a.x`]: "a_kw\n",
      [`${conf}/z.x`]: "z_kw\n",
    };
    const parsed = parseConf(mapFiles(new Map(Object.entries(files))), MAIN_CONF);
    assert.deepEqual(
      parsed.nodes.map((n) => n.keyword),
      ["ten_kw", "B_kw", "b_kw", "z_kw", "a_kw"],
    );
    assert.deepEqual(parsed.nodes[0]!.file, `${conf}/conf.d/10.conf`);
  });

  it("resolves a relative include against the directory of the file that includes it", () => {
    const files = {
      [MAIN_CONF]: "include conf.d/main.conf\n",
      "/etc/keepalived/conf.d/main.conf": "include ../extra/x.conf\ninclude /opt/abs.conf\n",
      "/etc/keepalived/extra/x.conf": "\n\nx_kw 1\n",
      "/opt/abs.conf": "abs_kw\n",
    };
    const parsed = parseConf(mapFiles(new Map(Object.entries(files))), MAIN_CONF);
    assert.deepEqual(
      parsed.nodes.map((n) => `${n.file}:${n.line} ${n.keyword}`),
      ["/etc/keepalived/extra/x.conf:3 x_kw", "/opt/abs.conf:1 abs_kw"],
    );
  });

  it("warns about an include that matches no file and an include loop, and reads on", () => {
    const files = { [MAIN_CONF]: "include missing/*.conf\nincludew /nowhere.conf\ninclude keepalived.conf\n" };
    const parsed = parseConf(mapFiles(new Map(Object.entries(files))), MAIN_CONF);
    const lines = parsed.warnings.map((w) => `${w.line} ${w.what}: ${w.why}`);
    assert.equal(lines[0], "1 include missing/*.conf: matches no file (keepalived skips it too)");
    assert.equal(lines[1], "2 include /nowhere.conf: matches no file (keepalived skips it too)");
    assert.ok(lines.some((l) => l.includes("nest too deep")));
  });
});

const SERVICE = `virtual_server 10.0.1.100 80 {
  delay_loop 7
  lb_algo WRR
  lb_kind DR
  protocol tcp
  persistence_timeout 600
  persistence_granularity 255.255.255.0
  sorry_server 10.0.1.200 8080
  alpha
  real_server 10.0.1.11 80 {
    weight 3
    uthreshold 100
    lthreshold 10
    inhibit_on_failure
    TCP_CHECK {
      connect_timeout 2
      connect_port 8080
    }
  }
  real_server 10.0.1.12 80 {
    lvs_method NAT
    HTTP_GET {
      url {
        path /health
        status_code 204
        digest 0123
      }
      retry 4
      delay_before_retry 2
    }
  }
  real_server 10.0.1.13 8080 {
    lvs_method nat
    MISC_CHECK {
      misc_path "/usr/local/bin/check 10.0.1.13"
      misc_timeout 9
    }
    SSL_GET {
    }
  }
}
virtual_server fwmark 7 {
  ip_family inet6
  lvs_sched sh
  sh-port
  sh-fallback
  real_server fd00::11 0 {
    weight 1
  }
}
`;

describe("keepalived.conf onto pulumi-lvs inputs", () => {
  it("maps virtual_server and real_server blocks, both spellings, checks with inherited timing", () => {
    const r = read({ [MAIN_CONF]: SERVICE });
    assert.deepEqual(
      r.virtualServices.map((v) => v.inputs),
      [
        {
          address: "10.0.1.100",
          port: 80,
          engine: "keepalived",
          scheduler: "wrr",
          protocol: "tcp",
          persistence: { timeout: 600, netmask: "255.255.255.0" },
          sorryServer: { address: "10.0.1.200", port: 8080 },
          realServers: {
            "10.0.1.11": {
              weight: 3,
              upperThreshold: 100,
              lowerThreshold: 10,
              inhibitOnFailure: true,
              forwarding: "dr",
              healthCheck: { type: "tcp", port: 8080, interval: 7, timeout: 2, retries: 1, retryDelay: 1 },
            },
            "10.0.1.12": {
              forwarding: "nat",
              healthCheck: {
                type: "http",
                path: "/health",
                status: 204,
                interval: 7,
                timeout: 5,
                retries: 4,
                retryDelay: 2,
              },
            },
            "10.0.1.13:8080": {
              forwarding: "nat",
              healthCheck: { type: "script", command: "/usr/local/bin/check 10.0.1.13", interval: 7, timeout: 9 },
            },
          },
        },
        {
          fwmark: 7,
          engine: "keepalived",
          family: "ipv6",
          scheduler: "sh",
          schedulerFlags: ["sh-port", "sh-fallback"],
          realServers: { "fd00::11": { weight: 1, forwarding: "nat" } },
        },
      ],
    );
    assert.deepEqual(
      r.virtualServices.map((v) => `${v.line} ${v.sample ?? false}`),
      ["1", "42"].map((l) => `${l} false`),
    );
    assert.deepEqual(r.unsupported.map(brief), ["9 alpha", "26 digest 0123", "38 SSL_GET"]);
  });

  it("writes out keepalived's defaults where pulumi-lvs's differ, and warns where it cannot match them", () => {
    const r = read({
      [MAIN_CONF]: `virtual_server 10.0.2.1 53 {
  delay_loop 12
  real_server 10.0.2.11 53 {
    MISC_CHECK {
      misc_path /bin/true
    }
  }
  real_server 10.0.2.12 53 {
    HTTP_GET {
      url {
        path /
      }
    }
  }
}
`,
    });
    assert.deepEqual(r.virtualServices[0]?.inputs, {
      address: "10.0.2.1",
      port: 53,
      engine: "keepalived",
      protocol: "udp",
      realServers: {
        "10.0.2.11": {
          forwarding: "nat",
          healthCheck: { type: "script", command: "/bin/true", interval: 12, timeout: 12 },
        },
        "10.0.2.12": {
          forwarding: "nat",
          healthCheck: { type: "http", path: "/", interval: 12, timeout: 5, retries: 1, retryDelay: 1 },
        },
      },
    });
    assert.deepEqual(
      r.warnings.map((w) => `${w.line} ${w.what}: ${w.why}`),
      [
        "1 virtual_server without protocol: keepalived makes it UDP",
        "9 HTTP_GET without status_code: keepalived accepts any status from 200 to 299 there; pulumi-lvs's check wants one code: 200",
      ],
    );
  });

  it("maps vrrp_instance and the sync daemon, keeping the password out of inputs and messages", () => {
    const r = read({
      [MAIN_CONF]: `global_defs {
  lvs_sync_daemon eth1 VI_9 id 5 port 8848 group 239.1.1.1
  router_id lb1
}
vrrp_instance VI_9 {
  state MASTER
  interface eth0
  virtual_router_id 51
  priority 150
  advert_int 2
  nopreempt
  authentication {
    auth_type PASS
    auth_pass s3cr3t
  }
  unicast_src_ip 10.0.0.1
  unicast_peer {
    10.0.0.2
  }
  virtual_ipaddress {
    10.0.0.100
    10.0.0.101/24 dev eth0
    fd00::100/64 dev eth2
    10.0.0.102 dev eth0 label eth0:1
  }
  track_script {
    chk
  }
  notify_master /bin/true
}
`,
    });
    assert.deepEqual(
      r.vrrpInstances.map((v) => v.inputs),
      [
        {
          name: "VI_9",
          initialState: "MASTER",
          interface: "eth0",
          virtualRouterId: 51,
          priority: 150,
          advertInterval: 2,
          preempt: false,
          unicastSourceAddress: "10.0.0.1",
          unicastPeers: ["10.0.0.2"],
          vips: [
            { address: "10.0.0.100" },
            { address: "10.0.0.101", prefix: 24 },
            { address: "fd00::100", prefix: 64, interface: "eth2" },
          ],
          sync: { interface: "eth1", syncId: 5, port: 8848, group: "239.1.1.1" },
        },
      ],
    );
    assert.deepEqual(r.secrets, [{ file: MAIN_CONF, line: 14, instance: "VI_9", field: "authPass", value: "s3cr3t" }]);
    assert.deepEqual(r.unsupported.map(brief), [
      "24 10.0.0.102 dev eth0 label eth0:1",
      "26 track_script",
      "29 notify_master /bin/true",
      "3 router_id lb1",
    ]);
    assert.ok(!JSON.stringify([r.unsupported, r.warnings, r.vrrpInstances]).includes("s3cr3t"));
  });

  it("lists what pulumi-lvs cannot represent, unknown keywords included, each with its line", () => {
    const r = read({
      [MAIN_CONF]: `virtual_server_group g {
  10.0.0.1 80
}
virtual_server group g {
}
vrrp_sync_group G {
  group {
    VI_1
  }
}
frobnicate 1
virtual_server 10.0.0.9 53 {
  protocol UDP
  ops
  quorum 2
  real_server 10.0.0.19 53 {
    DNS_CHECK {
    }
    notify_up /bin/up
  }
}
`,
    });
    assert.deepEqual(r.unsupported.map(brief), [
      "1 virtual_server_group g",
      "4 virtual_server group g",
      "6 vrrp_sync_group G",
      "11 frobnicate 1",
      "15 quorum 2",
      "19 notify_up /bin/up",
      "17 DNS_CHECK",
    ]);
    assert.deepEqual(r.virtualServices[0]!.inputs, {
      address: "10.0.0.9",
      port: 53,
      engine: "keepalived",
      protocol: "udp",
      onePacket: true,
      realServers: { "10.0.0.19": { forwarding: "nat" } },
    });
    const unaccounted = allNodes(r.nodes).filter((n) => !r.accounted.has(n));
    assert.deepEqual(unaccounted, []);
  });

  it("lists an object the provider's schema rejects, with the schema's reason, and a rejected password stays secret", () => {
    const r = read({
      [MAIN_CONF]: `virtual_server 10.0.0.1 80 {
  lb_algo rr
  protocol TCP
  real_server 10.0.0.11 8080 {
    lb_kind DR
  }
}
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 1
  priority 255
  authentication {
    auth_pass muchtoolongpassword
  }
  virtual_ipaddress {
    10.0.0.100
  }
}
`,
    });
    assert.deepEqual(r.virtualServices, []);
    assert.deepEqual(r.vrrpInstances, []);
    const [vs, vrrp] = r.unsupported;
    assert.equal(vs?.line, 1);
    assert.match(
      vs!.why,
      /^rejected by pulumi-lvs: realServers\["10\.0\.0\.11:8080"\]: is 8080 but the virtual service listens on 80/,
    );
    assert.equal(vrrp?.line, 8);
    assert.match(vrrp!.why, /priority: must be from 1 to 254/);
    assert.match(vrrp!.why, /authPass: must be 1 to 8 printable characters/);
    assert.ok(!JSON.stringify([r.unsupported, r.warnings]).includes("muchtoolongpassword"));
  });
});

/** A valid service configuration of the keepalived engine (no persistence engine; one-packet only for UDP). */
const keepalivedService = serviceConfig.map((c) => {
  const out: VirtualServiceConfig = { ...c, onePacket: c.onePacket && ("fwmark" in c.key || c.key.protocol === "udp") };
  delete out.pe;
  return out;
});

const timing = {
  interval: fc.integer({ min: 1, max: 3600 }),
  timeout: fc.integer({ min: 1, max: 600 }),
  retries: fc.integer({ min: 0, max: 100 }),
  retryDelay: fc.integer({ min: 1, max: 600 }),
};
const healthCheck: fc.Arbitrary<HealthCheck> = fc.oneof(
  fc.record(
    {
      type: fc.constant("tcp" as const),
      port: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
      ...timing,
    },
    { requiredKeys: ["type", "interval", "timeout", "retries", "retryDelay"] },
  ),
  fc.record({
    type: fc.constant("http" as const),
    path: fc.constantFrom("/", "/health", "/a/b.html?x=1"),
    status: fc.integer({ min: 100, max: 599 }),
    ...timing,
  }),
  fc.record({
    type: fc.constant("script" as const),
    command: fc.constantFrom("/bin/true", "/usr/local/bin/check --port 80"),
    interval: timing.interval,
    timeout: timing.timeout,
  }),
);

/** A real server its service accepts: same port unless NAT, thresholds in order, the kernel's tunnel checksum. */
function validFor(cfg: VirtualServiceConfig, r: RealServerConfig): RealServerConfig {
  const out = { ...r };
  if (!("fwmark" in cfg.key) && r.forwarding !== "nat") out.port = cfg.key.port;
  if ("fwmark" in cfg.key && r.forwarding !== "nat") out.port = 0;
  if (out.lowerThreshold > out.upperThreshold) out.lowerThreshold = out.upperThreshold;
  if (out.tunnel) out.tunnel = { ...out.tunnel, checksum: out.tunnel.checksum ?? "nocsum" };
  return out;
}

const renderedService = keepalivedService.chain((cfg) => {
  const v6 = "fwmark" in cfg.key ? cfg.key.family === "ipv6" : isIPv6(cfg.key.address);
  const rs = fc.record({
    cfg: realServer(v6, "fwmark" in cfg.key).map((r) => validFor(cfg, r)),
    healthCheck: fc.option(healthCheck, { nil: undefined }),
    inhibitOnFailure: fc.boolean(),
  });
  return fc.record({
    cfg: fc.constant(cfg),
    sorry: fc.option(
      fc.record({ address: v6 ? fc.constant("fd00::99") : ipv4, port: fc.integer({ min: 1, max: 65535 }) }),
      { nil: undefined },
    ),
    realServers: fc.uniqueArray(rs, { maxLength: 4, selector: (r) => r.cfg.address }),
  });
});

describe("keepalived.conf round trip with what pulumi-lvs writes", () => {
  it("reads back the virtual service and real servers that render.ts wrote", () => {
    fc.assert(
      fc.property(renderedService, ({ cfg, sorry, realServers }) => {
        const files: Record<string, string> = {
          [MAIN_CONF]: MAIN_CONF_TEXT,
          [serviceFileOf(cfg.key)]: renderVirtualServer(cfg, sorry),
        };
        for (const r of realServers)
          files[realServerFileOf(cfg.key, r.cfg)] = renderRealServer({ ...r, service: cfg.key });
        const read_ = read(files);
        assert.deepEqual(read_.unsupported, []);
        assert.equal(read_.virtualServices.length, 1);
        const parsed = checkedVirtualService.parse({ connection: CONNECTION, ...read_.virtualServices[0]!.inputs });
        assert.deepEqual(plain(serviceConfigOf(parsed)), plain(cfg));
        const byAddress = (a: RealServerConfig, b: RealServerConfig) => a.address.localeCompare(b.address);
        assert.deepEqual(
          plain(inlineConfigs(parsed).sort(byAddress)),
          plain(realServers.map((r) => r.cfg).sort(byAddress)),
        );
        for (const r of realServers) {
          const got = inlineEntries(parsed).find((e) => e.rs.address === r.cfg.address)?.rs;
          assert.deepEqual(plain(got?.healthCheck), plain(r.healthCheck));
          assert.equal(got?.inhibitOnFailure, r.inhibitOnFailure || undefined);
        }
        assert.deepEqual(plain(parsed.sorryServer), plain(sorry));
      }),
      { numRuns: 200 },
    );
  });

  it("reads back any VRRP instance that render.ts writes, password in the secrets", () => {
    const iface = fc.constantFrom("eth0", "eth1", "bond0.10", "ens3");
    const arb = fc.record(
      {
        name: fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$/),
        interface: iface,
        virtualRouterId: fc.integer({ min: 1, max: 255 }),
        priority: fc.integer({ min: 1, max: 254 }),
        advertInterval: fc.integer({ min: 1, max: 255 }),
        vips: fc.uniqueArray(
          fc.record(
            { address: ipv4, prefix: fc.integer({ min: 1, max: 32 }), interface: iface },
            { requiredKeys: ["address"] },
          ),
          { minLength: 1, maxLength: 4, selector: (v) => v.address },
        ),
        authPass: fc.stringMatching(/^[\x21-\x7e]{1,8}$/).filter((p) => !/["'\\{}#!$]/.test(p)),
        preempt: fc.boolean(),
        preemptDelay: fc.integer({ min: 0, max: 1000 }),
        unicastPeers: fc.uniqueArray(ipv4, { minLength: 1, maxLength: 3 }),
        unicastSourceAddress: ipv4,
        sync: fc.record(
          {
            interface: iface,
            syncId: fc.integer({ min: 0, max: 255 }),
            port: fc.integer({ min: 1, max: 65535 }),
            group: fc.constantFrom("239.1.1.1", "224.0.0.81"),
          },
          { requiredKeys: ["interface", "syncId"] },
        ),
      },
      { requiredKeys: ["name", "interface", "virtualRouterId", "priority", "advertInterval", "vips", "preempt"] },
    );
    fc.assert(
      fc.property(arb, (raw) => {
        const input = plain(raw) as Record<string, unknown>;
        if (input.unicastPeers === undefined) delete input.unicastSourceAddress;
        if (!input.preempt) delete input.preemptDelay;
        const v = vrrpInstanceInputs.parse({ connection: CONNECTION, ...input });
        const r = read({ [MAIN_CONF]: MAIN_CONF_TEXT, [vrrpFileOf(v.name)]: renderVrrpInstance(v) });
        assert.deepEqual(r.unsupported, []);
        const secret = r.secrets.find((x) => x.instance === v.name)?.value;
        const back = vrrpInstanceInputs.parse({
          connection: CONNECTION,
          ...r.vrrpInstances[0]?.inputs,
          ...(secret !== undefined ? { authPass: secret } : {}),
        });
        assert.deepEqual(vipsOf(back), vipsOf(v));
        assert.deepEqual({ ...back, vips: [] }, { ...v, vips: [] });
      }),
      { numRuns: 200 },
    );
  });
});

const { dir: SAMPLES, missing: samplesMissing } = thirdParty("keepalived-samples");

describe("keepalived's sample configurations", () => {
  const names = samplesMissing ? [] : fs.readdirSync(SAMPLES).filter((f) => f.startsWith("keepalived.conf"));
  it("reads each sample, every virtual_server mapped or listed, no statement dropped", { skip: samplesMissing }, () => {
    assert.ok(names.length > 0);
    for (const name of names) {
      const file = `/etc/keepalived/${name}`;
      const r = read({ [file]: fs.readFileSync(path.join(SAMPLES, name), "utf8") }, file);
      const unaccounted = allNodes(r.nodes).filter((n) => !r.accounted.has(n));
      assert.deepEqual(
        unaccounted.map((n) => `${n.line} ${n.keyword}`),
        [],
        `${name}: statements neither mapped nor listed`,
      );
      for (const vs of r.nodes.filter((n) => n.keyword === "virtual_server")) {
        const mapped = r.virtualServices.some((m) => m.line === vs.line);
        const listed = r.unsupported.some((u) => u.line === vs.line);
        assert.ok(mapped || listed, `${name}:${vs.line}: virtual_server neither mapped nor listed`);
      }
    }
  });

  it("marks the packaged default configuration's services and VIPs as sample data", { skip: samplesMissing }, () => {
    const file = "/etc/keepalived/keepalived.conf";
    const r = read({ [file]: fs.readFileSync(path.join(SAMPLES, "keepalived.conf.packaged-default"), "utf8") }, file);
    const mapped = [...r.virtualServices, ...r.vrrpInstances];
    assert.ok(mapped.length >= 2);
    assert.deepEqual(
      mapped.map((m) => m.sample),
      mapped.map(() => true),
    );
    assert.ok(r.warnings.some((w) => w.why.includes("keepalived.conf.sample")));
  });
});
