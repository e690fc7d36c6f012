import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import ts from "typescript";
import { KIND_ORDER, KINDS, type Kind, normalizedText } from "../../cli/import/minimal";
import type { ImportedResource, ImportHost, ImportResult } from "../../cli/import/model";
import { generateProgram, type ProgramOptions } from "../../cli/import/program";
import { mapFiles, readKeepalivedConf } from "../../provider/keepalived/conf";
import { HOST_KEY } from "./fixtures";

const root = path.join(__dirname, "../../..");
const OPTS: ProgramOptions = { project: "lab-import", versions: { pulumi: "^3.259.0", pulumiLvs: "^0.1.0" } };
/** The VRRP password in the directors' keepalived.conf: it must reach no file of the program. */
const AUTH_PASS = "s3cr3t";
const CONF = "/etc/keepalived/keepalived.conf";

const host = (name: string, role: ImportHost["role"], port: number, extra: Partial<ImportHost> = {}): ImportHost => ({
  name,
  role,
  host: "127.0.0.1",
  port,
  user: "root",
  hostKey: HOST_KEY,
  sudo: false,
  ...extra,
});

const resource = (
  kind: Kind,
  on: string,
  name: string,
  args: Record<string, unknown>,
  extra: Partial<ImportedResource> = {},
): ImportedResource => ({ kind, host: on, name, args, source: { host: on }, ...extra }) as ImportedResource;

const result = (
  hosts: ImportHost[],
  resources: ImportedResource[],
  extra: Partial<ImportResult> = {},
): ImportResult => ({
  hosts,
  resources,
  findings: [],
  secrets: [],
  reads: [],
  ...extra,
});

/** A director of the lab's pair: its keepalived.conf differs from the other's in priority and unicast addresses. */
const directorConf = (priority: number, self: string, peer: string) => `global_defs {
  router_id lb
  lvs_sync_daemon eth0 VI_1 id 51
}
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 51
  priority ${priority}
  advert_int 1
  authentication {
    auth_type PASS
    auth_pass ${AUTH_PASS}
  }
  unicast_src_ip ${self}
  unicast_peer {
    ${peer}
  }
  virtual_ipaddress {
    10.0.0.100/32 dev eth0
  }
}
virtual_server 10.0.0.100 80 {
  delay_loop 2
  lb_algo rr
  lb_kind DR
  protocol TCP
  real_server 10.0.0.11 80 {
    weight 1
    HTTP_GET {
      url {
        path /
        status_code 200
      }
      connect_timeout 1
    }
  }
  real_server 10.0.0.12 80 {
    weight 2
    TCP_CHECK {
      connect_timeout 3
    }
  }
}
`;

/**
 * What the readers make of the lab: each director's keepalived.conf read by the provider's own
 * keepalived reader (password and all), a Director on each, and the real servers' hosts.
 */
function labResult(): ImportResult {
  const hosts = [
    host("lb1", "director", 2202),
    host("lb2", "director", 2203),
    ...[1, 2, 3].map((i) => host(`rs${i}`, "real-server", 2210 + i)),
  ];
  const out = result(hosts, []);
  for (const [name, priority, self, peer] of [
    ["lb1", 150, "10.0.0.2", "10.0.0.3"],
    ["lb2", 100, "10.0.0.3", "10.0.0.2"],
  ] as const) {
    const conf = readKeepalivedConf(mapFiles(new Map([[CONF, directorConf(priority, self, peer)]])), CONF);
    const source = (o: { file: string; line: number }) => ({ host: name, file: o.file, line: o.line });
    for (const v of conf.vrrpInstances) {
      const key = `vrrp-${v.inputs.name}`;
      out.resources.push({
        kind: "VrrpInstance",
        host: name,
        name: v.inputs.name as string,
        args: v.inputs,
        authPassKey: key,
        source: source(v),
      });
    }
    for (const s of conf.virtualServices) {
      const i = s.inputs as { protocol: string; address: string; port: number };
      out.resources.push({
        kind: "VirtualService",
        host: name,
        name: `${i.protocol}-${i.address}-${i.port}`,
        args: s.inputs,
        source: source(s),
      });
    }
    for (const d of conf.unsupported)
      out.findings.push({ source: source(d), kind: "unsupported", message: `${d.what}: ${d.why}` });
    for (const s of conf.secrets)
      if (!out.secrets.some((x) => x.key === `vrrp-${s.instance}`))
        out.secrets.push({ key: `vrrp-${s.instance}`, what: `the VRRP password of ${s.instance}` });
    out.resources.push(
      resource("Director", name, "director", { ipvsSysctls: { expire_nodest_conn: 1 }, persist: true }),
    );
    out.reads.push({ host: name, what: ["ipvsadm -S -n", CONF, "sysctl net.ipv4.vs"] });
  }
  for (const i of [1, 2, 3]) {
    out.resources.push(
      resource("RealServerHost", `rs${i}`, "host", { mode: "dr", vips: ["10.0.0.100"], addresses: [`10.0.0.1${i}`] }),
    );
    out.reads.push({ host: `rs${i}`, what: ["ip -j addr", "sysctl net.ipv4.conf"] });
  }
  out.findings.push({
    source: { host: "lb1" },
    kind: "differs",
    message: "tcp 10.0.0.100:80 has real server 10.0.0.13 in the kernel, not in keepalived.conf",
  });
  return out;
}

/** A secret as the stubbed `pulumi.Config` hands it out: its key, never a value. */
class Secret {
  constructor(readonly key: string) {}
}

interface Recorded {
  kind: Kind;
  name: string;
  args: Record<string, unknown>;
  opts?: { dependsOn?: unknown[] };
  self: object;
}

/**
 * Runs a generated index.ts (transpiled) with `@pulumi/pulumi` and `pulumi-lvs` stubbed: each
 * resource records its name, arguments and options; secrets are {@link Secret}s.
 */
function evaluate(indexTs: string): { recorded: Recorded[]; exports: Record<string, unknown> } {
  const js = ts.transpileModule(indexTs, {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    reportDiagnostics: true,
  });
  assert.deepEqual(js.diagnostics ?? [], [], "index.ts has no syntax errors");
  const recorded: Recorded[] = [];
  const lvs = Object.fromEntries(
    KIND_ORDER.map((kind) => [
      kind,
      class {
        readonly id: string;
        readonly role: string;
        constructor(name: string, args: Record<string, unknown>, opts?: Recorded["opts"]) {
          recorded.push({ kind, name, args, opts, self: this });
          this.id = `id of ${name}`;
          this.role = `role of ${name}`;
        }
      },
    ]),
  );
  const pulumi = {
    Config: class {
      requireSecret(key: string) {
        return new Secret(key);
      }
    },
  };
  const modules: Record<string, unknown> = { "@pulumi/pulumi": pulumi, "pulumi-lvs": lvs };
  const exports: Record<string, unknown> = {};
  new Function("require", "exports", js.outputText)((m: string) => {
    assert.ok(m in modules, `index.ts requires ${m}`);
    return modules[m];
  }, exports);
  return { recorded, exports };
}

/** A value without its undefined fields, as Pulumi sends inputs. */
const defined = (o: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

/** Which host of the result a recorded connection is: every field of its ImportHost, and the private key secret. */
function hostOfConnection(r: ImportResult, c: Record<string, unknown>): ImportHost {
  assert.deepEqual(c.privateKey, new Secret("privateKey"));
  const found = r.hosts.filter(
    (h) =>
      h.host === c.host &&
      h.port === c.port &&
      h.user === c.user &&
      h.hostKey === c.hostKey &&
      h.sudo === (c.sudo ?? false),
  );
  assert.equal(found.length, 1, `the connection ${JSON.stringify(c)} is one host's`);
  return found[0]!;
}

/** Each resource as the provider sees it: kind, host, the key of its password, its normalized inputs. */
const normalizedOf = (kind: Kind, on: string, passKey: string | null, args: Record<string, unknown>) => {
  const n = normalizedText(kind, args);
  assert.ok(n !== undefined, `the provider takes the ${kind} on ${on}`);
  return JSON.stringify([kind, on, passKey, n]);
};

/** Generates the program, runs it, and checks that it declares what the result holds, as the provider normalizes it. */
function roundTrip(r: ImportResult): { files: Map<string, string>; recorded: Recorded[] } {
  const files = generateProgram(r, OPTS);
  const { recorded } = evaluate(files.get("index.ts")!);
  const actual = recorded.map((x) => {
    const { connection, adopt, authPass, ...args } = defined(x.args);
    assert.equal(
      adopt,
      KINDS[x.kind as Kind].adopts ? "exact" : undefined,
      `${x.kind} ${x.name} takes over with adopt: "exact" (a VrrpInstance has no adopt)`,
    );
    const on = hostOfConnection(r, connection as Record<string, unknown>);
    assert.ok(authPass === undefined || authPass instanceof Secret, "a password is a secret from the config");
    return normalizedOf(x.kind, on.name, (authPass as Secret | undefined)?.key ?? null, args);
  });
  const expected = r.resources.map((x) =>
    normalizedOf(x.kind, x.host, x.kind === "VrrpInstance" ? (x.authPassKey ?? null) : null, x.args),
  );
  assert.deepEqual(actual.sort(), expected.sort());
  const names = recorded.map((x) => `${x.kind} ${x.name}`);
  assert.equal(new Set(names).size, names.length, "resource names are unique per kind");
  return { files, recorded };
}

/** The one recorded resource of a kind (on a host, when given). */
function only(recorded: Recorded[], kind: Kind, name?: string): Recorded {
  const found = recorded.filter((x) => x.kind === kind && (name === undefined || x.name === name));
  assert.equal(found.length, 1, `one ${kind}${name ? ` ${name}` : ""}`);
  return found[0]!;
}

const shuffled = <T>(xs: T[]): T[] => [...xs].reverse();

describe("pulumi-lvs import: the generated program", () => {
  it("is the same, byte for byte, each time, and whatever order the readers found things in", () => {
    const r = labResult();
    const first = generateProgram(r, OPTS);
    assert.deepEqual(generateProgram(r, OPTS), first);
    const reordered = {
      ...r,
      resources: shuffled(r.resources),
      findings: shuffled(r.findings),
      secrets: shuffled(r.secrets),
    };
    assert.deepEqual(generateProgram(reordered, OPTS), first);
    assert.deepEqual([...first.keys()].sort(), [
      "IMPORT.md",
      "Pulumi.yaml",
      "index.ts",
      "package.json",
      "tsconfig.json",
    ]);
  });

  it("declares what was read, as the provider normalizes it (the printed program run back)", () => {
    roundTrip(labResult());
  });

  it("writes the folder: project name, nodejs runtime, the dependencies' versions", () => {
    const files = generateProgram(labResult(), {
      ...OPTS,
      versions: { pulumi: "^3.300.1", pulumiLvs: "^0.2.0" },
    });
    assert.match(files.get("Pulumi.yaml")!, /^name: lab-import\nruntime: nodejs\n/);
    const pkg = JSON.parse(files.get("package.json")!);
    assert.deepEqual(pkg.dependencies, { "@pulumi/pulumi": "^3.300.1", "pulumi-lvs": "^0.2.0" });
    assert.equal(pkg.main, "index.ts");
    assert.deepEqual(JSON.parse(files.get("tsconfig.json")!).files, ["index.ts"]);
    assert.throws(() => generateProgram(labResult(), { ...OPTS, project: "my project" }), /project name/);
  });

  it("writes what a director pair has alike once, in a loop over both, and what differs per director", () => {
    const { files, recorded } = roundTrip(labResult());
    const index = files.get("index.ts")!;
    assert.match(index, /for \(const \[node, connection\] of Object\.entries\(\{ lb1, lb2 \}\)\) \{/);
    assert.equal(index.match(/new lvs\.VrrpInstance\(/g)?.length, 1);
    assert.equal(index.match(/new lvs\.VirtualService\(/g)?.length, 1);
    assert.match(index, /priority: node === "lb1" \? 150 : 100,/);
    assert.match(index, /unicastSourceAddress: node === "lb1" \? "10\.0\.0\.2" : "10\.0\.0\.3",/);
    assert.deepEqual(
      recorded.filter((x) => x.kind === "VrrpInstance").map((x) => [x.name, x.args.priority]),
      [
        ["VI_1-lb1", 150],
        ["VI_1-lb2", 100],
      ],
    );
  });

  it("puts what only one director of the pair has under if (node === …), depending on that director's settings", () => {
    const r = labResult();
    r.resources.push(
      resource("VirtualService", "lb2", "udp-10.0.0.100-53", { protocol: "udp", address: "10.0.0.100", port: 53 }),
    );
    const { files, recorded } = roundTrip(r);
    assert.match(
      files.get("index.ts")!,
      /if \(node === "lb2"\) \{\n {4}\/\/ read from lb2\n {4}virtualServices\["udp-10\.0\.0\.100-53-lb2"\]/,
    );
    const dns = only(recorded, "VirtualService", "udp-10.0.0.100-53-lb2");
    assert.deepEqual(dns.opts?.dependsOn, [only(recorded, "Director", "director-lb2").self]);
  });

  it("declares a director's settings that only one of the pair has with a conditional; the other's resources depend on none", () => {
    const r = labResult();
    r.resources = r.resources.filter((x) => !(x.kind === "Director" && x.host === "lb2"));
    const { files, recorded } = roundTrip(r);
    assert.match(files.get("index.ts")!, /const director = node === "lb1" \? new lvs\.Director\("director-lb1", /);
    const director = only(recorded, "Director", "director-lb1").self;
    assert.deepEqual(only(recorded, "VrrpInstance", "VI_1-lb1").opts?.dependsOn, [director]);
    assert.deepEqual(only(recorded, "VrrpInstance", "VI_1-lb2").opts?.dependsOn, []);
  });

  it("writes a single director's resources without a loop", () => {
    const r = labResult();
    const single = {
      ...r,
      hosts: r.hosts.filter((h) => h.name !== "lb2"),
      resources: r.resources.filter((x) => x.host !== "lb2"),
    };
    const { files, recorded } = roundTrip(single);
    const index = files.get("index.ts")!;
    assert.doesNotMatch(index, /for \(|node ===/);
    assert.deepEqual(
      recorded.map((x) => x.name),
      ["host-rs1", "host-rs2", "host-rs3", "director", "VI_1", "tcp-10.0.0.100-80"],
    );
  });

  it("makes a director's services and VRRP instances depend on its settings, and a service on its real servers' hosts", () => {
    const { recorded } = roundTrip(labResult());
    for (const node of ["lb1", "lb2"]) {
      const director = only(recorded, "Director", `director-${node}`).self;
      assert.deepEqual(only(recorded, "VrrpInstance", `VI_1-${node}`).opts?.dependsOn, [director]);
      // its real servers are 10.0.0.11 and .12: rs3's host (10.0.0.13) is not one of them
      assert.deepEqual(only(recorded, "VirtualService", `tcp-10.0.0.100-80-${node}`).opts?.dependsOn, [
        director,
        only(recorded, "RealServerHost", "host-rs1").self,
        only(recorded, "RealServerHost", "host-rs2").self,
      ]);
    }
    assert.equal(only(recorded, "RealServerHost", "host-rs3").opts, undefined);
  });

  it("exports each virtual service's id and each VRRP instance's role, by resource name", () => {
    const { exports } = evaluate(generateProgram(labResult(), OPTS).get("index.ts")!);
    assert.deepEqual(exports, {
      virtualServices: {
        "tcp-10.0.0.100-80-lb1": "id of tcp-10.0.0.100-80-lb1",
        "tcp-10.0.0.100-80-lb2": "id of tcp-10.0.0.100-80-lb2",
      },
      vrrpRoles: { "VI_1-lb1": "role of VI_1-lb1", "VI_1-lb2": "role of VI_1-lb2" },
    });
  });

  it("reads every secret from the config by its key, and no password reaches any file", () => {
    const files = generateProgram(labResult(), OPTS);
    for (const [name, text] of files) assert.ok(!text.includes(AUTH_PASS), `${name} holds the VRRP password`);
    const index = files.get("index.ts")!;
    assert.match(index, /const privateKey = config\.requireSecret\("privateKey"\);/);
    assert.match(index, /authPass: config\.requireSecret\("vrrp-VI_1"\),/);
    const md = files.get("IMPORT.md")!;
    assert.match(md, /^pulumi config set --secret privateKey < ~\/\.ssh\/id_ed25519 {2}# /m);
    assert.match(md, /^pulumi config set --secret vrrp-VI_1 {2}# the VRRP password of VI_1$/m);
    const keyFile = generateProgram(labResult(), { ...OPTS, keyFile: "/keys/lab key" }).get("IMPORT.md")!;
    assert.match(keyFile, /^pulumi config set --secret privateKey < '\/keys\/lab key'/m);
  });
});

describe("pulumi-lvs import: defaults left out, as the provider decides them", () => {
  /** [kind, args, a path that the program writes or leaves out, written?] */
  const cases: [Kind, Record<string, unknown>, string, boolean][] = [
    ["VirtualService", { scheduler: "wlc" }, "scheduler", false],
    ["VirtualService", { scheduler: "rr" }, "scheduler", true],
    ["VirtualService", { schedulerFlags: [] }, "schedulerFlags", false],
    ["VirtualService", { onePacket: false }, "onePacket", false],
    ["VirtualService", { exclusive: false }, "exclusive", false],
    ["VirtualService", { exclusive: true }, "exclusive", true],
    ["VirtualService", { realServers: { "10.0.0.11": {} }, exclusive: true }, "exclusive", false],
    ["VirtualService", { realServers: { "10.0.0.11": {} }, exclusive: false }, "exclusive", true],
    ["VirtualService", { persistence: { timeout: 300 } }, "persistence.timeout", false],
    ["VirtualService", { persistence: { timeout: 300 } }, "persistence", true],
    ["VirtualService", { persistence: { timeout: 60 } }, "persistence.timeout", true],
    ["VirtualService", { persistence: { netmask: "255.255.255.255" } }, "persistence.netmask", false],
    ["VirtualService", { persistence: { netmask: "255.255.255.0" } }, "persistence.netmask", true],
    ["VirtualService", { realServers: { "10.0.0.11": { weight: 1 } } }, "realServers.10.0.0.11.weight", false],
    ["VirtualService", { realServers: { "10.0.0.11": { weight: 0 } } }, "realServers.10.0.0.11.weight", true],
    [
      "VirtualService",
      { realServers: { "10.0.0.11": { forwarding: "dr" } } },
      "realServers.10.0.0.11.forwarding",
      false,
    ],
    [
      "VirtualService",
      { realServers: { "10.0.0.11": { forwarding: "nat" } } },
      "realServers.10.0.0.11.forwarding",
      true,
    ],
    [
      "VirtualService",
      { realServers: { "10.0.0.11": { forwarding: "tun", tunnel: { type: "ipip" } } } },
      "realServers.10.0.0.11.tunnel",
      false,
    ],
    [
      "VirtualService",
      { realServers: { "10.0.0.11": { forwarding: "tun", tunnel: { type: "gre" } } } },
      "realServers.10.0.0.11.tunnel.type",
      true,
    ],
    [
      "VirtualService",
      { engine: "keepalived", realServers: { "10.0.0.11": { healthCheck: { type: "tcp", interval: 5, timeout: 1 } } } },
      "realServers.10.0.0.11.healthCheck.interval",
      false,
    ],
    [
      "VirtualService",
      { engine: "keepalived", realServers: { "10.0.0.11": { healthCheck: { type: "tcp", interval: 5, timeout: 1 } } } },
      "realServers.10.0.0.11.healthCheck.timeout",
      true,
    ],
    ["Director", { modules: ["ip_vs"] }, "modules", false],
    ["Director", { modules: ["ip_vs", "ip_vs_wrr"] }, "modules", true],
    ["Director", { vips: [] }, "vips", false],
    ["Director", { persist: true }, "persist", false],
    ["Director", { persist: false }, "persist", true],
    ["RealServerHost", { mode: "dr", vips: ["10.0.0.100"], persist: false }, "persist", true],
    ["RealServerHost", { mode: "dr", vips: ["10.0.0.100"], persist: true }, "persist", false],
    ["VrrpInstance", { advertInterval: 1 }, "advertInterval", false],
    ["VrrpInstance", { advertInterval: 2 }, "advertInterval", true],
    ["VrrpInstance", { preempt: true }, "preempt", false],
    ["VrrpInstance", { preempt: false }, "preempt", true],
    ["VrrpInstance", { vips: [{ address: "10.0.0.100", prefix: 24 }] }, "vips.0.prefix", true],
  ];
  /** The fields a kind needs besides those of a case. */
  const BASE: Record<Kind, Record<string, unknown>> = {
    VirtualService: { protocol: "tcp", address: "10.0.0.100", port: 80 },
    Director: {},
    RealServerHost: {},
    VrrpInstance: {
      name: "VI_1",
      interface: "eth0",
      virtualRouterId: 51,
      priority: 100,
      vips: [{ address: "10.0.0.100" }],
    },
  };
  const at = (v: unknown, p: string): unknown => {
    // a path's parts, with the address keys of realServers whole
    const parts = p
      .match(/realServers\.[^.]+\.[^.]+\.[^.]+\.[^.]+|[^.]+/g)!
      .flatMap((x) => (x.startsWith("realServers.") ? ["realServers", x.slice("realServers.".length)] : [x]));
    return parts.reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], v);
  };
  for (const [kind, args, field, written] of cases) {
    it(`${kind} ${JSON.stringify(args)}: ${field} is ${written ? "written" : "left out"}`, () => {
      const on = kind === "RealServerHost" ? "rs1" : "lb1";
      const r = result(
        [host(on, on === "lb1" ? "director" : "real-server", 2202)],
        [resource(kind, on, "x", { ...BASE[kind], ...args })],
      );
      const { recorded } = roundTrip(r);
      assert.equal(at(recorded[0]!.args, field) !== undefined, written, JSON.stringify(recorded[0]!.args));
    });
  }

  it("never leaves out a key field, even one the provider would default (a fwmark service's family)", () => {
    const r = result(
      [host("lb1", "director", 2202)],
      [resource("VirtualService", "lb1", "fwmark-1", { fwmark: 1, family: "ipv4" })],
    );
    assert.equal(roundTrip(r).recorded[0]!.args.family, "ipv4");
  });

  it("refuses what the provider rejects, naming the resource and why", () => {
    const r = result(
      [host("lb1", "director", 2202)],
      [resource("VirtualService", "lb1", "bad", { protocol: "tcp", address: "10.0.0.100" })],
    );
    assert.throws(() => generateProgram(r, OPTS), /VirtualService bad on lb1: .*port: is required/);
    const lost = result([host("lb1", "director", 2202)], [resource("Director", "lb9", "director", {})]);
    assert.throws(() => generateProgram(lost, OPTS), /Director director is on host lb9, which the import did not read/);
  });
});

describe("pulumi-lvs import: names and identifiers", () => {
  /** Names with what a template literal or a string would read otherwise: backquotes, a placeholder, a backslash. */
  const odd = "a `quoted` $" + "{name}\\";
  const oddPair = "odd `name` $" + "{x}";
  it("makes a valid, unique identifier of any host name, and keeps IPv6 and fwmark resource names as they are", () => {
    const hosts = [
      host("lb-1.example.com", "director", 2202),
      host("lb1ExampleCom", "director", 2203, { host: "fd00::2" }),
      host("10.0.0.2", "director", 2204),
      host("class", "real-server", 2205),
    ];
    const r = result(hosts, [
      resource("VirtualService", "lb-1.example.com", "tcp-[fd00::100]-80", {
        protocol: "tcp",
        address: "fd00::100",
        port: 80,
      }),
      resource("VirtualService", "10.0.0.2", "fwmark-7-ipv6", { fwmark: 7, family: "ipv6" }),
      resource("VirtualService", "10.0.0.2", odd, {
        protocol: "udp",
        address: "10.0.0.9",
        port: 53,
      }),
      resource("RealServerHost", "class", "host", { mode: "dr", vips: ["fd00::100"] }),
    ]);
    const { files, recorded } = roundTrip(r);
    const index = files.get("index.ts")!;
    const idents = [...index.matchAll(/^const (\S+): lvs\.SshConnectionArgs/gm)].map((m) => m[1]!);
    assert.deepEqual(idents, ["lb1ExampleCom", "lb1ExampleCom2", "host10_0_0_2", "class2"]);
    assert.deepEqual(recorded.map((x) => x.name).sort(), [odd, "fwmark-7-ipv6", "host", "tcp-[fd00::100]-80"]);
  });

  it("writes a pair's names with the director's name, escaped inside the loop's template", () => {
    const r = result(
      [host("lb1", "director", 2202), host("lb2", "director", 2203)],
      ["lb1", "lb2"].map((on) => resource("VirtualService", on, oddPair, { fwmark: 3 })),
    );
    const { recorded } = roundTrip(r);
    assert.deepEqual(
      recorded.map((x) => x.name),
      [`${oddPair}-lb1`, `${oddPair}-lb2`],
    );
  });

  it("adds the host to a name that several hosts have, outside the pair", () => {
    const r = result(
      [host("rs1", "real-server", 2211), host("rs2", "real-server", 2212), host("rs3", "real-server", 2213)],
      [
        resource("RealServerHost", "rs1", "host", { mode: "dr", vips: ["10.0.0.100"] }),
        resource("RealServerHost", "rs2", "host", { mode: "dr", vips: ["10.0.0.100"] }),
        resource("RealServerHost", "rs3", "web", { mode: "dr", vips: ["10.0.0.100"] }),
      ],
    );
    assert.deepEqual(
      roundTrip(r).recorded.map((x) => x.name),
      ["host-rs1", "host-rs2", "web"],
    );
  });
});

describe("pulumi-lvs import: IMPORT.md", () => {
  const md = generateProgram(labResult(), OPTS).get("IMPORT.md")!;

  it("says what was read from each host, and lists each resource with where it was read", () => {
    assert.match(
      md,
      /### lb2\n\nA director, reached as `root@127\.0\.0\.1` on port 2203;[^\n]*\n\n- `ipvsadm -S -n`\n- `\/etc\/keepalived\/keepalived\.conf`\n/,
    );
    assert.match(md, /### VrrpInstance \(2\)\n\n- `VI_1-lb1`, read from `lb1:\/etc\/keepalived\/keepalived\.conf:5`\n/);
  });

  it("lists every finding under its kind, with host:file:line", () => {
    assert.match(md, /### Not imported: [^\n]*\(2\)\n\n- `lb1:\/etc\/keepalived\/keepalived\.conf:2`: router_id lb: /);
    assert.match(
      md,
      /### Differences: what the take-over leaves, or would fail on \(the kernel against keepalived\.conf, a setting against the resource\) \(1\)\n\n- `lb1`: tcp 10\.0\.0\.100:80 has real server 10\.0\.0\.13/,
    );
  });

  it("gives the steps: stack, secrets, a preview of take-overs, up, a refreshed preview that expects no changes", () => {
    for (const step of [
      "pulumi stack init",
      "pulumi preview",
      "pulumi up",
      "pulumi preview --refresh --expect-no-changes",
    ])
      assert.ok(md.includes(`\`${step}`), step);
    assert.match(md, /adopt: "exact"/);
    assert.match(md, /may be removed/);
  });
});

describe("pulumi-lvs import: the program type-checks against the SDK", () => {
  it("compiles with tsc (strict), as a user's program sees pulumi-lvs: a pair, and a single director", () => {
    // the pair: lb2 without director settings (its resources depend on none) and with a service of its own
    const pair = labResult();
    pair.resources = pair.resources.filter((x) => !(x.kind === "Director" && x.host === "lb2"));
    pair.resources.push(
      resource("VirtualService", "lb2", "fwmark-5", {
        fwmark: 5,
        scheduler: "sh",
        schedulerFlags: ["sh-port"],
        persistence: { timeout: 60 },
      }),
    );
    const lab = labResult();
    const single = {
      ...lab,
      resources: lab.resources.filter((x) => x.host !== "lb2"),
      hosts: lab.hosts.filter((h) => h.name !== "lb2"),
    };
    const programs = { pair, single };
    const dir = fs.mkdtempSync(path.join(root, "dist", "import-program-"));
    try {
      Object.entries(programs).forEach(([name, r]) => {
        const files = generateProgram(r, OPTS);
        fs.mkdirSync(path.join(dir, name));
        for (const [file, text] of files) fs.writeFileSync(path.join(dir, name, file), text);
      });
      // the programs' own tsconfig.json; as tsconfig.examples.json, the SDK's sources stand for the
      // package (esModuleInterop for them)
      fs.writeFileSync(
        path.join(dir, "tsconfig.check.json"),
        JSON.stringify({
          extends: "./pair/tsconfig.json",
          compilerOptions: {
            noEmit: true,
            esModuleInterop: true,
            baseUrl: ".",
            paths: { "pulumi-lvs": [path.relative(dir, path.join(root, "sdk/index.ts"))] },
            types: ["node"],
          },
          files: Object.keys(programs).map((name) => `${name}/index.ts`),
        }),
      );
      const tsc = spawnSync(
        process.execPath,
        [
          path.join(root, "node_modules/typescript/bin/tsc"),
          "-p",
          path.join(dir, "tsconfig.check.json"),
          "--pretty",
          "false",
        ],
        { encoding: "utf8" },
      );
      const errors = `${tsc.stdout}${tsc.stderr}`.split(/\n(?=\S)/).filter((e) => e.trim() !== "");
      assert.deepEqual(errors, []);
      assert.equal(tsc.status, 0, "tsc ran");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
