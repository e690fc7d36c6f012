import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { importDirector } from "../../cli/import/director";
import { type DirectorFacts, deviceAddress, importFactsScript, parseImportFacts } from "../../cli/import/facts";
import type { Finding, ImportedResource, VirtualServiceArgs } from "../../cli/import/model";
import { importRealServer } from "../../cli/import/real-server";
import { checkVirtualServiceArgs, compareRealServers, serviceName } from "../../cli/import/services";
import { mergeThresholds, parseThresholds } from "../../provider/ipvs/ipvsadm/thresholds";
import { parseRules } from "../../provider/ipvs/rules/parse";
import {
  type IpvsTable,
  isFwmarkKey,
  type RealServerConfig,
  type ServiceEntry,
  serviceKeyText,
  type VirtualServiceConfig,
} from "../../provider/ipvs/types";
import { inlineConfigs, serviceConfigOf } from "../../provider/model/virtual-service";
import { isIPv6 } from "../../provider/net/address";
import { hostScript } from "../../provider/scripts";
import { realServer, serviceConfig } from "./arbitraries";

// The import's script run on lab hosts prepared by hand (fixtures/import/capture.sh).
const fixtures = path.join(__dirname, "../../../test/unit/fixtures/import");
const read = (f: string) => fs.readFileSync(path.join(fixtures, f), "utf8");
const facts = (f: string) => parseImportFacts(read(f));

const ofKind = <K extends ImportedResource["kind"]>(rs: ImportedResource[], kind: K) =>
  rs.filter((r): r is Extract<ImportedResource, { kind: K }> => r.kind === kind);
const messages = (fs: Finding[], kind: Finding["kind"]) => fs.filter((f) => f.kind === kind).map((f) => f.message);

/** The kernel's table in a captured output, read apart from the import: the rules, then the listing's thresholds. */
function kernelTable(text: string): IpvsTable {
  const printed = text.split("#pulumi-lvs:probe ipvsadm\n")[1]!.split("#pulumi-lvs:probe ipvsadm-exit")[0]!;
  const [rules, listing] = printed.split(/(?=IP Virtual Server version)/);
  const t = parseRules(rules!);
  mergeThresholds(t, parseThresholds(listing!));
  return t;
}

/** The configs the provider makes of imported VirtualServices (check's normalization), by kernel key. */
function declaredConfigs(services: VirtualServiceArgs[]) {
  return new Map(
    services.map((args) => {
      const v = checkVirtualServiceArgs(args);
      assert.ok(!Array.isArray(v), `valid: ${JSON.stringify(v)}`);
      return [serviceKeyText(serviceConfigOf(v).key), { config: serviceConfigOf(v), servers: inlineConfigs(v) }];
    }),
  );
}

/** The kernel's configs, by key, real servers in the import's order and without counts. */
function kernelConfigs(t: IpvsTable) {
  return new Map(
    t.services.map((s) => [
      serviceKeyText(s.config.key),
      { config: s.config, servers: s.realServers.map((r) => r.config).sort(compareRealServers) },
    ]),
  );
}

describe("import: the facts of a host (captured)", () => {
  it("reads a director's table with its thresholds, timeouts, sysctls, addresses and keepalived", () => {
    const f = facts("director.txt");
    assert.equal(f.ipvs, "loaded");
    assert.deepEqual(
      f.table.services.map((s) => serviceKeyText(s.config.key)),
      ["tcp/10.0.0.241:80", "tcp/10.0.0.242:80", "tcp/[fd00:10::241]:443", "fwmark/241"],
    );
    const rs = f.table.services[0]!.realServers.find((r) => r.config.address === "10.0.0.11")!;
    assert.deepEqual([rs.config.weight, rs.config.upperThreshold, rs.config.lowerThreshold], [3, 100, 20]);
    assert.deepEqual(f.timeouts, { tcp: 1800, tcpFin: 60, udp: 120 });
    assert.equal(f.sysctls.get("net.ipv4.vs.expire_nodest_conn"), "1");
    assert.equal(f.sysctls.get("net.ipv4.vs.sync_threshold"), "3 50");
    assert.equal(f.sysctls.get("net.ipv4.conf.eth0.arp_ignore"), "0");
    assert.equal(f.sysctls.get("net.ipv4.ip_forward"), "0");
    assert.equal(f.defaultGateway, "10.0.0.1");
    assert.ok(f.addresses.some((a) => a.address === "fd00:10::241" && a.device === "eth0" && a.prefix === 128));
    assert.equal(f.deprecated.has(deviceAddress("eth0", "fd00:10::241")), false);
    assert.ok(f.modules.has("ip_vs_wrr") && f.modules.has("ip_vs_mh"));
    assert.deepEqual(f.keepalived, {
      installed: true,
      pids: [],
      commandLine: [],
      conf: "/etc/keepalived/keepalived.conf",
    });
    assert.deepEqual([...f.files.keys()], ["/etc/keepalived/keepalived.conf.sample"]);
  });

  it("reads a running keepalived: its pids, command line, the file of its -f, and keepalived -t", () => {
    const k = facts("director-keepalived.txt").keepalived;
    assert.equal(k.pids.length, 2);
    assert.deepEqual(k.commandLine.slice(0, 4), [
      "keepalived",
      "-C",
      "-f",
      "/tmp/pulumi-lvs-import-capture/keepalived.conf",
    ]);
    assert.equal(k.conf, "/tmp/pulumi-lvs-import-capture/keepalived.conf");
    assert.equal(k.test?.code, 5);
    assert.match(k.test?.output ?? "", /track script chk_nginx not found/);
    const text = facts("director-keepalived.txt").files.get(k.conf) ?? "";
    assert.match(text, /^! written by hand/);
    assert.match(text, /virtual_server 10\.0\.0\.244 80 \{/);
  });

  it("reads a real server's return path: its rule and its table's route", () => {
    const f = facts("rs-nat.txt");
    assert.ok(f.listings.get("rule")?.has("7100: from 10.0.0.13 sport 8080 lookup 7100"));
    assert.deepEqual([...(f.listings.get("route") ?? [])], ["default via 10.0.0.3 dev eth0"]);
  });

  it("an output whose ipvsadm failed is refused, not read as an empty table", () => {
    const text = read("director.txt").replace("#pulumi-lvs:probe ipvsadm-exit\n0", "#pulumi-lvs:probe ipvsadm-exit\n2");
    assert.throws(() => parseImportFacts(text), /ipvsadm -R .* exited 2/);
  });

  it("the script only reads: no module loaded, nothing written, added, deleted or set", () => {
    // the shared sysctl functions come along (write_sysctl among them, never called)
    const script = importFactsScript().split(hostScript("sysctl.sh")).join("");
    assert.doesNotMatch(importFactsScript(), /^\s*write_sysctl /m);
    assert.match(script, /ip -j addr show/);
    assert.match(script, /ipvsadm -R/);
    assert.doesNotMatch(script, /modprobe|insmod|sysctl -w|--set\b|\b(add|del|replace|flush)\b|rm -|mkdir|mv /);
    // every redirection goes to a descriptor or /dev/null (none writes a file)
    const writes = script.match(/>>?\s*(?!&|\/dev\/null)\S+/g) ?? [];
    assert.deepEqual(writes, []);
  });
});

describe("import: a director", () => {
  const f = facts("director.txt");
  const { resources, findings, secrets } = importDirector("lb2", f);

  it("declares the Director's settings that are not the kernel's, its VIPs, and persist false", () => {
    assert.deepEqual(ofKind(resources, "Director"), [
      {
        kind: "Director",
        host: "lb2",
        name: "director",
        args: {
          // conn_reuse_mode: the lab's own 2 (the kernel's is 1)
          ipvsSysctls: { conn_reuse_mode: 2, expire_nodest_conn: 1 },
          timeouts: { tcp: 1800, tcpFin: 60, udp: 120 },
          modules: [...f.modules].filter((m) => m.startsWith("ip_vs")).sort(),
          vips: [
            { address: "10.0.0.241", interface: "eth0", prefix: 32 },
            { address: "fd00:10::241", interface: "eth0", prefix: 128 },
          ],
          persist: false,
        },
        source: { host: "lb2" },
      },
    ]);
    assert.ok(messages(findings, "note").some((m) => /persist: false/.test(m)));
    assert.deepEqual(secrets, []);
  });

  it("declares one VirtualService per kernel service, named by its key, in key order, real servers inline", () => {
    const services = ofKind(resources, "VirtualService");
    assert.deepEqual(
      services.map((s) => s.name),
      ["tcp-10.0.0.241-80", "tcp-10.0.0.242-80", "tcp-fd00-10--241-443", "fwmark-241"],
    );
    assert.deepEqual(services[0]!.args, {
      protocol: "tcp",
      address: "10.0.0.241",
      port: 80,
      scheduler: "wrr",
      realServers: {
        "10.0.0.11": { forwarding: "dr", weight: 3, upperThreshold: 100, lowerThreshold: 20 },
        "10.0.0.12": { forwarding: "dr", weight: 1 },
      },
    });
    // a port map: the key names the real server's port
    assert.deepEqual(services[1]!.args.realServers, {
      "10.0.0.13:8080": { forwarding: "nat", weight: 1, upperThreshold: 50, lowerThreshold: 10 },
    });
    assert.deepEqual(services[2]!.args.schedulerFlags, ["mh-port"]);
    assert.deepEqual(services[3]!.args.persistence, { timeout: 600, netmask: "255.255.255.0" });
    assert.deepEqual(Object.keys(services[3]!.args.realServers ?? {}), ["10.0.0.11", "10.0.0.12"]);
  });

  it("the imported VirtualServices, normalized as the provider does, are exactly the kernel's table", () => {
    const declared = declaredConfigs(ofKind(resources, "VirtualService").map((r) => r.args));
    assert.deepEqual(declared, kernelConfigs(kernelTable(read("director.txt"))));
  });

  it("the Director would change nothing but the IPVS VIP's source flag, which is a finding", () => {
    assert.deepEqual(messages(findings, "differs"), [
      "VIP fd00:10::241 on eth0 may be a source address. The take-over leaves it as it is; the Director's next update re-adds it as never one (preferred_lft 0), so that the director's own packets do not come from the VIP",
    ]);
    assert.deepEqual(messages(findings, "unsupported"), []);
  });

  it("net.ipv4.vs values: the kernel's defaults and the machine's own are not imported, an unknown one is noted", () => {
    const g: DirectorFacts = { ...f, sysctls: new Map(f.sysctls) };
    g.sysctls.set("net.ipv4.vs.conn_reuse_mode", "1");
    g.sysctls.set("net.ipv4.vs.sync_qlen_max", "123");
    g.sysctls.set("net.ipv4.vs.lblc_expiration", "3600");
    g.sysctls.set("net.ipv4.vs.sync_threshold", "3 60");
    g.sysctls.set("net.ipv4.vs.new_knob", "7");
    const r = importDirector("lb2", g);
    const d = ofKind(r.resources, "Director")[0]!.args;
    assert.deepEqual(d.ipvsSysctls, { expire_nodest_conn: 1, sync_threshold: "3 60" });
    assert.deepEqual(d.sysctls, { "net.ipv4.vs.lblc_expiration": 3600 });
    assert.ok(messages(r.findings, "note").some((m) => m.startsWith("net.ipv4.vs.new_knob = 7:")));
  });

  it("a kernel service pulumi-lvs cannot declare is left as it is, with the schema's reason", () => {
    const table: IpvsTable = structuredClone(f.table);
    table.services[0]!.realServers[1]!.config.lowerThreshold = 5;
    const r = importDirector("lb2", { ...f, table });
    assert.ok(!ofKind(r.resources, "VirtualService").some((s) => s.name === "tcp-10.0.0.241-80"));
    assert.match(
      messages(r.findings, "unsupported").join("\n"),
      /^tcp\/10\.0\.0\.241:80 is left as it is: .*upperThreshold/m,
    );
  });
});

describe("import: a director's keepalived (captured, keepalived running)", () => {
  const f = facts("director-keepalived.txt");
  const r = importDirector("lb2", f);
  const conf = "/tmp/pulumi-lvs-import-capture/keepalived.conf";

  it("its virtual servers stay keepalived's: the kernel services they describe are left out of the program, and listed", () => {
    const services = ofKind(r.resources, "VirtualService");
    assert.deepEqual(
      services.map((s) => `${s.name} ${s.args.engine ?? "ipvsadm"}`),
      ["tcp-10.0.0.241-80 ipvsadm", "tcp-10.0.0.242-80 ipvsadm", "tcp-fd00-10--241-443 ipvsadm", "fwmark-241 ipvsadm"],
    );
    const left = r.findings.filter((x) => x.kind === "unsupported" && /^virtual_server /.test(x.message));
    assert.deepEqual(
      left.map((x) => [x.message.split(":")[0], x.source.line]),
      [
        ["virtual_server tcp/10.0.0.243", 22],
        ["virtual_server tcp/10.0.0.244", left[1]?.source.line],
      ],
    );
    assert.ok(left.every((x) => x.source.file === conf && /not taken over/.test(x.message)));
  });

  it("its VRRP instance stays keepalived's too: listed with why, no resource, no secret asked for, its password nowhere", () => {
    assert.deepEqual(ofKind(r.resources, "VrrpInstance"), []);
    assert.ok(
      r.findings.some(
        (x) =>
          x.kind === "unsupported" &&
          /^vrrp_instance VI_IMPORT stays in keepalived's configuration, not taken over: keepalived runs with \/tmp\/pulumi-lvs-import-capture\/keepalived\.conf; pulumi-lvs's keepalived engine works with \/etc\/keepalived\/keepalived\.conf/.test(
            x.message,
          ),
      ),
    );
    assert.deepEqual(r.secrets, []);
    assert.doesNotMatch(JSON.stringify(r), /s3cr3t/);
  });

  describe("the same configuration as keepalived's own file (/etc/keepalived/keepalived.conf)", () => {
    const moved = (t: string) => t.replaceAll("/tmp/pulumi-lvs-import-capture/", "/etc/keepalived/");
    const g: DirectorFacts = {
      ...f,
      files: new Map([...f.files].map(([p, t]) => [moved(p), moved(t)])),
      keepalived: { ...f.keepalived, conf: moved(f.keepalived.conf) },
    };
    const m = importDirector("lb2", g);

    it("its virtual servers are declared with engine keepalived, to be handed over (adopt: exact), in place of the kernel services they make", () => {
      const services = ofKind(m.resources, "VirtualService");
      assert.deepEqual(
        services.map((s) => `${s.name} ${s.args.engine ?? "ipvsadm"} ${s.source.file ?? ""}:${s.source.line ?? ""}`),
        [
          "tcp-10.0.0.241-80 ipvsadm :",
          "tcp-10.0.0.242-80 ipvsadm :",
          "tcp-fd00-10--241-443 ipvsadm :",
          "fwmark-241 ipvsadm :",
          "tcp-10.0.0.243-80 keepalived /etc/keepalived/keepalived.conf:22",
          "tcp-10.0.0.244-80 keepalived /etc/keepalived/keepalived.conf:42",
        ],
      );
      assert.ok(!m.findings.some((x) => /^virtual_server .* stays in keepalived's configuration/.test(x.message)));
    });

    it("its VRRP instance stays: its track_script cannot move into pulumi-lvs's files, and the line is named", () => {
      assert.deepEqual(ofKind(m.resources, "VrrpInstance"), []);
      const stays = m.findings.find((x) => /^vrrp_instance VI_IMPORT stays/.test(x.message));
      assert.match(stays?.message ?? "", /keepalived\.conf:18: track_script: .*so the block cannot move/);
      assert.deepEqual(m.secrets, [], "no password asked for an instance the program does not declare");
    });

    it("without its track_script, the VRRP instance is declared too, its password a config secret", () => {
      const conf = "/etc/keepalived/keepalived.conf";
      const text = g.files.get(conf)!.replace(/ {4}track_script \{\n {8}chk_nginx\n {4}\}\n/, "");
      const h = importDirector("lb2", { ...g, files: new Map([...g.files, [conf, text]]) });
      const [vrrp] = ofKind(h.resources, "VrrpInstance");
      assert.equal(vrrp?.name, "VI_IMPORT");
      assert.equal(vrrp?.authPassKey, "lb2-VI_IMPORT-authPass");
      assert.deepEqual(
        h.secrets.map((x) => x.key),
        ["lb2-VI_IMPORT-authPass"],
      );
      assert.doesNotMatch(JSON.stringify(h.resources), /s3cr3t/);
    });
  });

  it("what the reader cannot take over, with file and line; keepalived -t's refusal, its secrets hidden", () => {
    const unsupported = r.findings.filter((x) => x.kind === "unsupported");
    assert.ok(
      unsupported.some((x) => x.source.line === 18 && x.source.file === conf && /^track_script/.test(x.message)),
    );
    const g: DirectorFacts = {
      ...f,
      keepalived: { ...f.keepalived, test: { code: 1, output: "bad auth_pass s3cr3t" } },
    };
    assert.equal(
      importDirector("lb2", g).refusal,
      `keepalived -t -f ${conf} rejects its configuration (exit 1): bad auth_pass (secret)`,
      "keepalived's own refusal stops the import, its secrets hidden",
    );
    // the captured keepalived's own check complains of a missing track script: that stops the import too
    assert.match(
      r.refusal ?? "",
      /rejects its configuration \(exit 5\): \(.*keepalived\.conf: Line 19\) \(VI_IMPORT\) track script chk_nginx not found/,
    );
    assert.ok(
      messages(r.findings, "note").some((m) => /runs with -C\/--check: its VRRP instances are not running/.test(m)),
    );
  });

  it("where the kernel and keepalived.conf disagree: services each has alone, a real server taken out", () => {
    const differs = messages(r.findings, "differs");
    for (const key of ["tcp/10.0.0.241:80", "tcp/10.0.0.242:80", "tcp/[fd00:10::241]:443", "fwmark/241"])
      assert.ok(
        differs.some((m) => m.startsWith(`the kernel has ${key} `)),
        key,
      );
    assert.ok(
      differs.some((m) => m.startsWith("keepalived.conf describes tcp/10.0.0.244:80, which the kernel does not have")),
    );
    assert.ok(
      differs.includes(
        "tcp/10.0.0.243:80: real server 10.0.0.12:80 is in keepalived.conf, not in the kernel (keepalived takes out a real server whose health check fails)",
      ),
    );
    assert.ok(!differs.some((m) => m.startsWith("tcp/10.0.0.243:80: real server 10.0.0.11")));
  });

  it("a keepalived that does not run is noted, and its configuration not imported", () => {
    const g: DirectorFacts = { ...f, keepalived: { ...f.keepalived, pids: [], commandLine: [] } };
    const s = importDirector("lb2", g);
    assert.deepEqual(ofKind(s.resources, "VrrpInstance"), []);
    assert.ok(ofKind(s.resources, "VirtualService").every((v) => v.args.engine === undefined));
    assert.ok(messages(s.findings, "note").some((m) => m.startsWith("keepalived is not running")));
  });
});

describe("import: a real server (captured)", () => {
  const services = importDirector("lb2", facts("director.txt")).resources;

  it("DR: the VIPs on lo, the interface of its real-server address, and nothing the resource would change", () => {
    const r = importRealServer("rs1", facts("rs-dr.txt"), services);
    assert.deepEqual(ofKind(r.resources, "RealServerHost")[0]?.args, {
      mode: "dr",
      vips: ["10.0.0.241", "fd00:10::241"],
      interface: "eth0",
      addresses: ["10.0.0.11", "fd00:10::11"],
      persist: false,
    });
    assert.deepEqual(messages(r.findings, "differs"), []);
  });

  it("DR prepared the LVS HOWTO's way (ARP settings on all and lo): declared where they are, nothing left to change", () => {
    const f = facts("rs-dr.txt");
    const set = (dev: string, ignore: string, announce: string) => {
      f.sysctls.set(`net.ipv4.conf.${dev}.arp_ignore`, ignore);
      f.sysctls.set(`net.ipv4.conf.${dev}.arp_announce`, announce);
    };
    set("eth0", "0", "0");
    set("lo", "1", "2");
    const r = importRealServer("rs1", f, services);
    assert.deepEqual(ofKind(r.resources, "RealServerHost")[0]?.args.arpInterfaces, ["all", "lo"]);
    assert.deepEqual(messages(r.findings, "differs"), []);
    set("all", "0", "0");
    const without = importRealServer("rs1", f, services);
    assert.equal(
      ofKind(without.resources, "RealServerHost")[0]?.args.arpInterfaces,
      undefined,
      "not on all: the default, and findings",
    );
    assert.ok(
      messages(without.findings, "differs").some((m) =>
        m.startsWith("sysctl net.ipv4.conf.all.arp_ignore: the host has 0"),
      ),
    );
  });

  it("DR with arp_announce 1 on all: declared, and the difference named with what pulumi-lvs would set", () => {
    const r = importRealServer("rs2", facts("rs-dr-announce.txt"), services);
    assert.equal(ofKind(r.resources, "RealServerHost").length, 1);
    assert.deepEqual(messages(r.findings, "differs"), [
      "sysctl net.ipv4.conf.all.arp_announce: the host has 1, the program declares 2 (the RealServerHost's take-over would fail on it)",
    ]);
  });

  it("NAT: the gateway, interface, ports and addresses of its return path", () => {
    const r = importRealServer("rs3", facts("rs-nat.txt"), services);
    assert.deepEqual(ofKind(r.resources, "RealServerHost")[0]?.args, {
      mode: "nat",
      gateway: "10.0.0.3",
      ports: [8080],
      addresses: ["10.0.0.13"],
      interface: "eth0",
      persist: false,
    });
    assert.deepEqual(messages(r.findings, "differs"), []);
  });

  it("NAT without a return path: the default route's gateway, and what pulumi-lvs would add", () => {
    const nat: ImportedResource = {
      kind: "VirtualService",
      host: "lb2",
      name: "tcp-10.0.0.242-80",
      args: {
        protocol: "tcp",
        address: "10.0.0.242",
        port: 80,
        realServers: { "10.0.0.11:8080": { forwarding: "nat" } },
      },
      source: { host: "lb2" },
    };
    const r = importRealServer("rs1", facts("rs-dr.txt"), [nat]);
    assert.equal(ofKind(r.resources, "RealServerHost")[0]?.args.gateway, "10.0.0.1");
    assert.deepEqual(messages(r.findings, "differs"), [
      "route: default via 10.0.0.1 dev eth0: not on the host (the RealServerHost's take-over would fail on it)",
      "rule: 7100: from 10.0.0.11 sport 8080 lookup 7100: not on the host (the RealServerHost's take-over would fail on it)",
    ]);
  });

  it("TUN: the VIPs on the tunnel devices, its tunnels, and the settings the resource would still make", () => {
    const f = facts("rs-dr.txt");
    const onTunnels = f.addresses.map((a) =>
      a.device === "lo" && a.address.endsWith("::241")
        ? { ...a, device: "ip6tnl0" }
        : a.device === "lo" && a.address === "10.0.0.241"
          ? { ...a, device: "gre0" }
          : a,
    );
    const links = new Map([...f.links, ["gre0", true], ["ip6tnl0", true]]);
    const tun: ImportedResource = {
      kind: "VirtualService",
      host: "lb2",
      name: "tcp-10.0.0.241-80",
      args: {
        protocol: "tcp",
        address: "10.0.0.241",
        port: 80,
        realServers: { "10.0.0.11": { forwarding: "tun", tunnel: { type: "gre", checksum: "csum" } } },
      },
      source: { host: "lb2" },
    };
    const r = importRealServer("rs1", { ...f, addresses: onTunnels, links }, [tun]);
    assert.deepEqual(ofKind(r.resources, "RealServerHost")[0]?.args, {
      mode: "tun",
      vips: ["10.0.0.241", "fd00:10::241"],
      interface: "eth0",
      // gre0 holds the IPv4 VIP: its tunnel first; ip6tnl0's IPv6 VIP is ipip's
      tunnels: [{ type: "gre" }, { type: "ipip" }],
      addresses: ["10.0.0.11"],
      persist: false,
    });
    const differs = messages(r.findings, "differs");
    assert.ok(
      differs.includes(
        "sysctl net.ipv4.conf.gre0.rp_filter: the host has no such parameter, the program declares 0 (the RealServerHost's take-over would fail on it)",
      ),
    );
    assert.ok(differs.includes("module ip_gre: not loaded (the RealServerHost's take-over would fail on it)"));
    assert.ok(differs.includes("device tunl0: not up (the RealServerHost's take-over would fail on it)"));
  });

  it("real servers of several forwarding methods on one host: one mode imported, the others named", () => {
    const mixed = [...services];
    const dr = ofKind(mixed, "VirtualService")[1]!;
    mixed.push({
      ...dr,
      name: "other",
      args: { ...dr.args, address: "10.0.0.249", realServers: { "10.0.0.11:8080": { forwarding: "nat" } } },
    });
    const r = importRealServer("rs1", facts("rs-dr.txt"), mixed);
    assert.equal(ofKind(r.resources, "RealServerHost")[0]?.args.mode, "dr");
    assert.deepEqual(messages(r.findings, "unsupported"), [
      "tcp/10.0.0.249:80 reaches real server 10.0.0.11 by nat; a RealServerHost has one mode, and this one is imported as dr",
    ]);
  });

  it("a host none of whose addresses is a real server gets no RealServerHost", () => {
    const r = importRealServer("client", facts("rs-nat.txt"), ofKind(services, "VirtualService").slice(0, 1));
    assert.deepEqual(r.resources, []);
  });
});

/** A table the kernel can hold and pulumi-lvs can declare: real servers of the service's family, DR/TUN without a port map, sane thresholds. */
const declarableService: fc.Arbitrary<ServiceEntry> = serviceConfig.chain((config) => {
  const key = config.key;
  const fwmark = isFwmarkKey(key);
  const v6 = isFwmarkKey(key) ? key.family === "ipv6" : isIPv6(key.address);
  const fix = (c: VirtualServiceConfig): VirtualServiceConfig => ({
    ...c,
    onePacket: c.onePacket && (fwmark || ("protocol" in c.key && c.key.protocol === "udp")),
  });
  const rs = realServer(v6, fwmark).map((r): RealServerConfig => {
    const out: RealServerConfig = { ...r };
    if (!fwmark && r.forwarding !== "nat") out.port = (config.key as { port: number }).port;
    if (out.lowerThreshold > out.upperThreshold) out.lowerThreshold = out.upperThreshold;
    // the kernel reports a tunnel's checksum mode (nocsum when none was given)
    if (out.tunnel) out.tunnel = { ...out.tunnel, checksum: out.tunnel.checksum ?? "nocsum" };
    return out;
  });
  return fc
    .uniqueArray(rs, { selector: (r) => `${r.address} ${r.port}`, maxLength: 5 })
    .map((servers) => ({ config: fix(config), realServers: servers.map((c) => ({ config: c })) }));
});

describe("import: the round trip on generated tables", () => {
  const base = facts("director.txt");

  it("every declarable kernel table comes back exactly from its imported VirtualServices, under unique names", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(declarableService, { selector: (s) => serviceKeyText(s.config.key), maxLength: 6 }),
        (generated) => {
          // (plain objects, as parsed output gives them: fast-check's records have no prototype)
          const services = JSON.parse(JSON.stringify(generated)) as ServiceEntry[];
          const table: IpvsTable = { services };
          const r = importDirector("lb", { ...base, table, addresses: [] });
          assert.deepEqual(messages(r.findings, "unsupported"), []);
          const imported = ofKind(r.resources, "VirtualService");
          assert.equal(new Set(imported.map((s) => s.name)).size, services.length);
          for (const s of imported)
            assert.equal(s.name, serviceName(serviceConfigOf(checkVirtualServiceArgs(s.args) as never).key));
          assert.deepEqual(declaredConfigs(imported.map((s) => s.args)), kernelConfigs(table));
        },
      ),
      { numRuns: 200 },
    );
  });
});
