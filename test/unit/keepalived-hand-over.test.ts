import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import { describe, it } from "node:test";
import { mapFiles, readKeepalivedConf } from "../../provider/keepalived/conf";
import { HANDED_OVER_PREFIX, handOver, renderedDifferences, testComplaints } from "../../provider/keepalived/hand-over";
import { INCLUDE_LINE, MAIN_CONF } from "../../provider/keepalived/render";
import { vrrpInstanceInputs } from "../../provider/model/keepalived";
import { validate } from "../../provider/model/validate";
import { checkedVirtualService, type VirtualServiceInputs } from "../../provider/model/virtual-service";
import { serviceHandOver } from "../../provider/resources/virtual-service";
import { instanceHandOver } from "../../provider/resources/vrrp-instance";
import { inSandbox, type Sandbox } from "./fakes/sandbox";
import { conn } from "./fixtures";

// The hand-over of a site's own keepalived blocks (adopt: "exact" on a keepalived-engine
// VirtualService or a VrrpInstance): the provider's real host script in a sandbox, with a stand-in
// keepalived under a stand-in systemd (a reload is `systemctl reload`, logged) that checks:
// `keepalived -t` fails on a configuration that has the word BROKEN outside comments, and, as the
// real one does, complains of pulumi-lvs's notify scripts (which keepalived runs all the same).

const MAIN = [
  "! written by hand, as a site's",
  "global_defs {",
  "   router_id lb1",
  "}",
  "vrrp_instance VI_1 {",
  "    state MASTER",
  "    interface eth0",
  "    virtual_router_id 51",
  "    priority 150",
  "    authentication {",
  "        auth_type PASS",
  "        auth_pass s3cr3t",
  "    }",
  "    unicast_src_ip 10.0.0.21",
  "    unicast_peer {",
  "        10.0.0.22",
  "    }",
  "    virtual_ipaddress {",
  "        10.0.0.130/32",
  "    }",
  "}",
  "include services/*.conf",
  "",
].join("\n");

const SERVICES = [
  "# the web service",
  "virtual_server 10.0.0.130 80 {",
  "    delay_loop 2",
  "    lb_algo wrr",
  "    lb_kind DR",
  "    protocol TCP",
  "    sorry_server 10.0.0.99 80",
  "    real_server 10.0.0.11 80 {",
  "        weight 2",
  "        inhibit_on_failure",
  "        HTTP_GET {",
  "            url {",
  "                path /health",
  "                status_code 200",
  "            }",
  "            connect_timeout 1",
  "        }",
  "    }",
  "    real_server 10.0.0.12 80 {",
  "        weight 1",
  "        TCP_CHECK {",
  "            connect_timeout 1",
  "        }",
  "    }",
  "}",
  "virtual_server 10.0.0.131 80 {",
  "    lb_algo rr",
  "    lb_kind DR",
  "    protocol TCP",
  "    real_server 10.0.0.11 80 {",
  "        weight 1",
  "        SSL_GET {",
  "            url {",
  "                path /",
  "                digest ff20ad2481f97b1754ef3e12ecd3a9cc",
  "            }",
  "        }",
  "    }",
  "}",
  "",
].join("\n");

const SERVICES_FILE = "/etc/keepalived/services/web.conf";

/** A director with keepalived (not started yet) and the site's configuration above. */
function site(box: Sandbox): void {
  box.keepalived({ systemd: true, enabled: true });
  const daemon = fs.readFileSync(box.path("bin/keepalived"), "utf8").split("\n").slice(2);
  // `keepalived -t -f FILE` only checks (the includes followed as far as the stand-in can)
  box.command(
    "keepalived",
    [
      'if [ "$1" = -t ]; then',
      `  cd ${box.path("etc/keepalived")} || exit`,
      '  set -- "$3" services/*.conf',
      '  grep -q \'^include .*/conf.d/\\*\\.conf$\' "$1" && set -- "$@" conf.d/*.conf',
      "  rc=0",
      '  if out=$(sed "s/#.*//" "$@" | grep BROKEN); then echo "BROKEN: $out"; rc=1; fi',
      // what the real one says of pulumi-lvs's notify scripts (it runs them all the same)
      '  if ls conf.d/pulumi-lvs-*.conf >/dev/null 2>&1; then echo "SECURITY VIOLATION - scripts are being executed but script_security not enabled."; rc=1; fi',
      "  exit $rc",
      "fi",
      ...daemon,
    ].join("\n"),
  );
  box.command("pidof", `cat ${box.path("run/keepalived.pid")} 2>/dev/null`);
  fs.mkdirSync(box.path("etc/keepalived/services"), { recursive: true });
  fs.writeFileSync(box.path(MAIN_CONF), MAIN);
  fs.writeFileSync(box.path(SERVICES_FILE), SERVICES);
}

/** The site's configuration as the reader sees it in the sandbox's files. */
function readSiteConf(box: Sandbox) {
  const files = new Map([
    [MAIN_CONF, fs.readFileSync(box.path(MAIN_CONF), "utf8")],
    [SERVICES_FILE, fs.readFileSync(box.path(SERVICES_FILE), "utf8")],
  ]);
  return readKeepalivedConf(mapFiles(files), MAIN_CONF);
}

/** The web service as the program declares it: what the reader makes of the block, edited by `edit`. */
function web(box: Sandbox, edit: (i: Record<string, unknown>) => void = () => {}): VirtualServiceInputs {
  const read = readSiteConf(box).virtualServices.find((v) => v.inputs.address === "10.0.0.130")!;
  const inputs = structuredClone({ ...read.inputs, connection: conn(), adopt: "exact" }) as Record<string, unknown>;
  edit(inputs);
  const { value, failures } = validate(checkedVirtualService, inputs);
  assert.deepEqual(failures, []);
  return value!;
}

/** Starts the stand-in keepalived, and clears the log of calls. */
async function start(box: Sandbox): Promise<string> {
  const r = await box.run("systemctl start keepalived");
  assert.equal(r.code, 0, r.stderr);
  fs.writeFileSync(box.log, "");
  return fs.readFileSync(box.path("run/keepalived.pid"), "utf8").trim();
}

const snapshot = (box: Sandbox) => ({
  main: fs.readFileSync(box.path(MAIN_CONF), "utf8"),
  services: fs.readFileSync(box.path(SERVICES_FILE), "utf8"),
  confD: fs.existsSync(box.path("etc/keepalived/conf.d")) ? fs.readdirSync(box.path("etc/keepalived/conf.d")) : [],
});

describe("keepalived hand-over: a site's own block moves into pulumi-lvs's files", () => {
  it("a virtual_server already as declared: its lines commented out in place, pulumi-lvs's files written, keepalived -t, one reload of the same process", () =>
    inSandbox(async (box) => {
      site(box);
      const pid = await start(box);
      const h = serviceHandOver(web(box));
      await handOver(box.transport(), h);

      const after = fs.readFileSync(box.path(SERVICES_FILE), "utf8").split("\n");
      const before = SERVICES.split("\n");
      assert.equal(after.length, before.length, "every other line keeps its number");
      for (const [i, line] of before.entries())
        assert.equal(after[i], i >= 1 && i <= 24 ? `${HANDED_OVER_PREFIX}${line}` : line, `line ${i + 1}`);
      // (the sandbox's own root stands for / in what its scripts write)
      const include = INCLUDE_LINE.replace("/etc/", `${box.path("etc")}/`);
      assert.ok(fs.readFileSync(box.path(MAIN_CONF), "utf8").endsWith(`\n${include}\n`), "the include appended");
      assert.ok(fs.readFileSync(box.path(MAIN_CONF), "utf8").startsWith(MAIN), "the rest of the main file as it was");
      for (const f of h.declared)
        assert.equal(fs.readFileSync(box.path(f.path), "utf8"), box.rewrite(f.content), f.path);
      assert.equal(fs.readFileSync(box.path("run/keepalived.pid"), "utf8").trim(), pid, "the same keepalived");
      const calls = box.calls();
      assert.ok(
        calls.some((c) => c === `keepalived -t -f ${box.path(MAIN_CONF)}`),
        calls.join("\n"),
      );
      assert.equal(calls.filter((c) => c === "systemctl reload keepalived").length, 1, calls.join("\n"));
      assert.ok(!calls.some((c) => /^systemctl (start|stop|restart)/.test(c)), calls.join("\n"));
      assert.deepEqual(fs.readdirSync(box.path("etc/keepalived/services")), ["web.conf"], "no copy left behind");
      // read again, the block is pulumi-lvs's own now: there is nothing to hand over a second time
      await assert.rejects(handOver(box.transport(), h), /has no such block/);
    }));

  it("a weight edited in the program: the create fails naming the weight, and nothing on the host changes", () =>
    inSandbox(async (box) => {
      site(box);
      await start(box);
      const before = snapshot(box);
      const v = web(box, (i) => {
        const rs = i.realServers as Record<string, { weight?: number }>;
        const key = Object.keys(rs).find((k) => k.startsWith("10.0.0.11"))!;
        rs[key] = { ...rs[key], weight: 4 };
      });
      await assert.rejects(handOver(box.transport(), serviceHandOver(v)), (e: Error) => {
        assert.match(e.message, /virtual_server tcp\/10\.0\.0\.130:80 was not taken over/);
        assert.match(
          e.message,
          /services\/web\.conf:2: real server 10\.0\.0\.11:80: weight: keepalived's configuration has `weight 2`, the program declares `weight 4`/,
        );
        return true;
      });
      assert.deepEqual(snapshot(box), before);
      assert.deepEqual(
        box.calls().filter((c) => c.startsWith("keepalived")),
        [],
        "keepalived neither checked nor reloaded",
      );
    }));

  it("keepalived -t rejects the result: everything is put back byte for byte, and keepalived is not reloaded", () =>
    inSandbox(async (box) => {
      site(box);
      await start(box);
      // a site file that pulumi-lvs's would break: keepalived's check fails once the include is there
      fs.mkdirSync(box.path("etc/keepalived/conf.d"));
      fs.writeFileSync(box.path("etc/keepalived/conf.d/zz.conf"), "vrrp_script BROKEN {\n}\n");
      const before = snapshot(box);
      await assert.rejects(handOver(box.transport(), serviceHandOver(web(box))), (e: Error) => {
        assert.match(e.message, /keepalived -t rejected/);
        assert.match(e.message, /BROKEN: vrrp_script BROKEN \{/, "keepalived's new complaint is quoted");
        assert.doesNotMatch(e.message, /SECURITY VIOLATION/, "what pulumi-lvs's own files always draw is not");
        return true;
      });
      assert.deepEqual(snapshot(box), before);
      assert.equal(box.calls().filter((c) => c.startsWith("systemctl reload")).length, 0);
    }));

  it("a block with what pulumi-lvs cannot represent (SSL_GET) is refused, naming the line: commenting it out would drop it", () =>
    inSandbox(async (box) => {
      site(box);
      await start(box);
      // the reader declares the service (its real server without a check it cannot represent) and
      // lists SSL_GET: the block as keepalived runs it is more than the resource would write
      const read = readSiteConf(box).virtualServices.find((v) => v.inputs.address === "10.0.0.131")!;
      const v = validate(checkedVirtualService, { ...read.inputs, connection: conn(), adopt: "exact" }).value!;
      const before = snapshot(box);
      await assert.rejects(
        handOver(box.transport(), serviceHandOver(v)),
        /services\/web\.conf:32: SSL_GET: .*so the block cannot move into pulumi-lvs's files/,
      );
      assert.deepEqual(snapshot(box), before);
    }));

  it("keepalived not running: nothing to hand over, refused", () =>
    inSandbox(async (box) => {
      site(box);
      const before = snapshot(box);
      await assert.rejects(handOver(box.transport(), serviceHandOver(web(box))), /keepalived is not running/);
      assert.deepEqual(snapshot(box), before);
    }));

  it("a vrrp_instance: its password is compared but never shown, and as declared it moves", () =>
    inSandbox(async (box) => {
      site(box);
      const pid = await start(box);
      const conf = readSiteConf(box);
      const read = conf.vrrpInstances[0]!;
      const declare = (authPass: string) =>
        validate(vrrpInstanceInputs, { ...read.inputs, connection: conn(), authPass, adopt: "exact" }).value!;
      await assert.rejects(handOver(box.transport(), instanceHandOver(declare("other"))), (e: Error) => {
        assert.match(e.message, /auth_pass/);
        assert.doesNotMatch(e.message, /s3cr3t|other/);
        return true;
      });
      await handOver(box.transport(), instanceHandOver(declare("s3cr3t")));
      const main = fs.readFileSync(box.path(MAIN_CONF), "utf8").split("\n");
      assert.equal(main[4], `${HANDED_OVER_PREFIX}vrrp_instance VI_1 {`);
      assert.equal(main[20], `${HANDED_OVER_PREFIX}}`);
      assert.equal(main[21], "include services/*.conf");
      assert.equal(fs.readFileSync(box.path("run/keepalived.pid"), "utf8").trim(), pid);
    }));
});

describe("keepalived hand-over: differences in words", () => {
  const f = (content: string) => [{ path: "/x.conf", content }];
  it("one setting on each side is named with both values; lines on one side only are listed", () => {
    assert.deepEqual(
      renderedDifferences(f("a {\n  weight 2\n  lb_algo rr\n}"), f("a {\n  weight 4\n  ops\n}"), () => "rs"),
      [
        "rs: weight: keepalived's configuration has `weight 2`, the program declares `weight 4`",
        "rs: keepalived's configuration has `lb_algo rr`, the program does not",
        "rs: the program declares `ops`, keepalived's configuration does not",
      ],
    );
  });
  it("comments and blank lines are no difference; a file on one side only is named", () => {
    assert.deepEqual(
      renderedDifferences(f("# x\n\na 1"), f("a 1\n# y"), () => "rs"),
      [],
    );
    assert.deepEqual(
      renderedDifferences([], f("a 1"), () => "rs"),
      ["rs: not in keepalived's configuration"],
    );
  });
  it("keepalived -t's complaints, less those pulumi-lvs's own files always draw", () => {
    const out = [
      "SECURITY VIOLATION - scripts are being executed but script_security not enabled.",
      "SECURITY VIOLATION - check scripts are being executed but script_security not enabled.",
      "Virtual server [10.0.0.150]:tcp:80: no forwarding method set, setting default NAT",
      "(/etc/keepalived/keepalived.conf: Line 19) (VI_1) track script chk not found, ignoring...",
      "",
    ].join("\n");
    assert.deepEqual(testComplaints(out), [
      "(/etc/keepalived/keepalived.conf: Line 19) (VI_1) track script chk not found, ignoring...",
    ]);
  });
  it("a line with a secret value is named, never quoted", () => {
    const d = renderedDifferences(f("auth_pass abc"), f("auth_pass xyz"), () => "vrrp", ["abc", "xyz"]);
    assert.deepEqual(d, [
      "vrrp: auth_pass: keepalived's configuration has `(a secret, not shown)`, the program declares `(a secret, not shown)`",
    ]);
  });
});
