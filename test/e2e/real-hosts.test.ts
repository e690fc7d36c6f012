import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { testComplaints } from "../../provider/keepalived/hand-over";
import { doctor } from "./harness/doctor";
import { FolderStack, languageHost, run } from "./harness/folder";
import { lab, labAddress, labConnection, labPrivateKey, ledgerRules, requests, resetLab, sh } from "./harness/lab";
import { installedPackage } from "./harness/package";
import { cacheDir } from "./harness/paths";
import { savedRules } from "./harness/setup";
import { TestStack } from "./harness/stack";
import { background, waitFor } from "./harness/traffic";
import { ArpWatch, acceptedConnections, bootId, labCommand, vmLanMac } from "./harness/vm";

// The real-host tier: pulumi-lvs against Debian 12 VMs that boot with systemd, run OpenSSH's
// server and Debian's packages (test/lab/vm.sh), with real `systemctl reboot`s and hard power
// cycles. The namespace lab emulates a boot; these boot. vmdirector (10.0.0.21) and vmrs
// (10.0.0.22) sit on the lab's LAN with the namespace hosts, so the lab's client reaches them.

const VIP = "10.0.0.120";
// the VMs run only for this file: the suites after it get the machine's two cores back
after(() => {
  if (!process.env.PULUMI_LVS_E2E_KEEP_PAIR) labCommand("vm", "down");
});
const PROGRAM = "test/e2e/programs/ipvs";
const figures: Record<string, unknown> = {};

/** Everything a test may compare before and after: what pulumi-lvs could have left on a host. */
async function hostSnapshot(host: string): Promise<string> {
  return sh(
    host,
    "sudo -n sh -c 'ip -o addr show | sort; ls /etc/sysctl.d /etc/modules-load.d /etc/systemd/system /etc/systemd/system/multi-user.target.wants /etc/keepalived 2>&1; " +
      "sysctl net.ipv4.conf.all.arp_ignore net.ipv4.conf.all.arp_announce net.ipv4.ip_forward; ipvsadm -S -n 2>/dev/null | sort; systemctl is-enabled keepalived 2>&1; systemctl is-active keepalived 2>&1'",
    { allowFail: true },
  );
}

/** Starts a shell loop in the background on a lab host; returns a function that stops it. */
async function loop(host: string, body: string): Promise<() => Promise<void>> {
  const pid = (await sh(host, `(while :; do ${body}; done) >/dev/null 2>&1 </dev/null & echo $!`)).trim();
  return async () => {
    await sh(host, `kill ${pid}`, { allowFail: true });
  };
}

/** The units that failed during the current boot (empty when every unit worked). */
async function failedUnits(host: string): Promise<string> {
  return (await sh(host, "systemctl --failed --no-legend --plain | awk '{print $1}'")).trim();
}

/**
 * The rules on `vip` that the director's ledger holds (without their owner tags and the zero
 * thresholds that `ipvsadm -S` leaves out), and the kernel's, as ipvsadm saves them.
 */
async function ledgerAndKernel(host: string, vip: string): Promise<{ ledger: string[]; kernel: string[] }> {
  const ledger = (await ledgerRules(host))
    .map((l) =>
      l
        .replace(/\s*#owner=.*$/, "")
        .replace(/ -x 0 -y 0$/, "")
        .trim(),
    )
    .filter((l) => l && !l.startsWith("#") && l.includes(vip))
    .sort();
  return { ledger, kernel: (await savedRules(host)).filter((r) => r.includes(vip)) };
}

describe("real hosts: Debian VMs with systemd and OpenSSH", () => {
  let s: TestStack;
  const vmrsLogin = labConnection("vmrs", { user: "deploy", sudo: true });
  const config = (opts: { persist?: boolean; extraRealServers?: number; rsVips?: string[] } = {}) => ({
    director: { value: JSON.stringify(labConnection("vmdirector")) },
    privateKey: { value: labPrivateKey(), secret: true },
    directorHost: {
      value: JSON.stringify({
        vips: [{ address: VIP, interface: "eth0" }],
        ipvsSysctls: { expire_nodest_conn: 1 },
        persist: opts.persist ?? true,
      }),
    },
    hosts: { value: JSON.stringify({ vmrs: vmrsLogin, rs1: labConnection("rs1") }) },
    realServerHosts: {
      value: JSON.stringify(
        ["vmrs", "rs1"].map((h) => ({
          name: `${h}-host`,
          host: h,
          mode: "dr",
          vips: h === "vmrs" ? (opts.rsVips ?? [VIP]) : [VIP],
          persist: opts.persist ?? true,
        })),
      ),
    },
    services: {
      value: JSON.stringify([
        {
          name: "web",
          protocol: "tcp",
          address: VIP,
          port: 80,
          scheduler: "rr",
          realServers: [
            { name: "vmrs", address: labAddress("vmrs"), forwarding: "dr" },
            { name: "rs1", address: labAddress("rs1"), forwarding: "dr" },
            // real servers that answer nothing, at weight 0: only to make an up long enough to cut
            ...Array.from({ length: opts.extraRealServers ?? 0 }, (_, i) => ({
              name: `idle${i}`,
              address: `10.0.0.${200 + i}`,
              forwarding: "dr",
              weight: 0,
            })),
          ],
        },
      ]),
    },
  });
  let vmrsBefore = "";
  let vmdirectorBefore = "";

  before(async () => {
    resetLab();
    labCommand("vm", "reset");
    vmrsBefore = await hostSnapshot("vmrs");
    vmdirectorBefore = await hostSnapshot("vmdirector");
    s = await TestStack.create("real-hosts", { program: PROGRAM });
    await s.setConfig(config());
  });
  after(async () => {
    console.log(`[real-hosts] figures: ${JSON.stringify(figures)}`);
    await s?.dispose();
  });

  it("deploys LVS-DR on a systemd director to a VM real server (a deploy user with sudo) and a namespace one", async () => {
    // Debian's PATH for a non-root user has no /usr/sbin, where ipvsadm, ip and sysctl live
    assert.doesNotMatch(await sh("deploy@vmrs", "echo $PATH"), /\/usr\/sbin/);
    await s.up();
    assert.deepEqual(await requests("client", `http://${VIP}/`, 20), { rs1: 10, vmrs: 10 });
    await s.preview({ refresh: true, expectNoChanges: true });
    assert.equal(await failedUnits("vmrs"), "");
  });

  it("a real reboot of the real-server VM: not one ARP reply for the VIP from it, traffic back by itself, refresh clean", async () => {
    const watch = await ArpWatch.start(VIP, [vmLanMac("vmrs"), vmLanMac("vmdirector")]);
    // the client asks for the VIP's MAC all through the reboot, and loops requests
    const stops = [
      await loop("client", `arping -q -c 1 -w 1 -I eth0 ${VIP}`),
      await loop("client", `timeout 2 wget -qO- http://${VIP}/`),
    ];
    try {
      const before = await bootId("vmrs");
      const t0 = Date.now();
      labCommand("reboot", "vmrs");
      figures.rsRebootToSshMs = Date.now() - t0;
      assert.notEqual(await bootId("vmrs"), before, "the VM did not reboot");
      figures.rsTrafficBackMs =
        Date.now() -
        t0 +
        (await waitFor(
          "a request answered by vmrs after its reboot",
          async () => (await requests("client", `http://${VIP}/`, 4)).vmrs !== undefined,
          60_000,
        ));
    } finally {
      for (const stop of stops) await stop();
    }
    const replies = await watch.replies();
    await watch.stop();
    figures.arpRepliesDuringRsReboot = replies;
    // the director answered for its VIP (the watch sees replies), the real server never did
    assert.ok(
      replies[vmLanMac("vmdirector")]! > 0,
      `no ARP reply from the director counted: ${JSON.stringify(replies)}`,
    );
    assert.equal(replies[vmLanMac("vmrs")], 0, `the real server answered ARP for the VIP: ${JSON.stringify(replies)}`);
    assert.equal(await failedUnits("vmrs"), "");
    assert.equal((await sh("vmrs", "systemctl is-active pulumi-lvs-realserver.service")).trim(), "active");
    await s.preview({ refresh: true, expectNoChanges: true });
  });

  it("a real reboot of the director VM: VIP, sysctls and owned rules come back by systemd alone, nothing else, and Debian's ipvsadm autoload keeps its own rules", async () => {
    // a rule made by hand (owned by nobody, kept by nothing) and one the user keeps in Debian's
    // /etc/ipvsadm.rules with the package's autoload on: the one must go, the other come back once
    await sh(
      "vmdirector",
      "ipvsadm -A -t 10.0.0.121:80 -s rr && " +
        "printf '# ipvsadm.rules\\n-A -t 10.0.0.122:80 -s wlc\\n' > /etc/ipvsadm.rules && sed -i 's/^AUTO=.*/AUTO=\"true\"/' /etc/default/ipvsadm",
    );
    const owned = (await savedRules("vmdirector")).filter((r) => r.includes(VIP));
    const before = await bootId("vmdirector");
    const t0 = Date.now();
    labCommand("reboot", "vmdirector");
    figures.directorRebootToSshMs = Date.now() - t0;
    assert.notEqual(await bootId("vmdirector"), before, "the VM did not reboot");
    // (ssh can answer before the unit that adds the VIP, after the network is online, has run)
    await waitFor(
      "the director's boot units",
      async () =>
        !/activating|inactive/.test(
          await sh(
            "vmdirector",
            "systemctl is-active pulumi-lvs-director.service pulumi-lvs-director-network.service",
            {
              allowFail: true,
            },
          ),
        ),
      60_000,
    );
    assert.equal(await failedUnits("vmdirector"), "");
    const rules = await savedRules("vmdirector");
    assert.deepEqual(
      rules.filter((r) => r.includes(VIP)),
      owned,
      "the owned rules, each once",
    );
    assert.deepEqual(
      rules.filter((r) => !r.includes(VIP)),
      ["-A -t 10.0.0.122:80 -s wlc"],
      "the user's rule from /etc/ipvsadm.rules, once; the hand-made one gone",
    );
    assert.match(await sh("vmdirector", "ip -o addr show dev eth0"), /10\.0\.0\.120\/32/);
    assert.equal((await sh("vmdirector", "sysctl -n net.ipv4.vs.expire_nodest_conn")).trim(), "1");
    await s.preview({ refresh: true, expectNoChanges: true });
    assert.deepEqual(await requests("client", `http://${VIP}/`, 20), { rs1: 10, vmrs: 10 });
    await sh(
      "vmdirector",
      // (sync: the power cycle of the next test must not bring the old files back)
      "ipvsadm -D -t 10.0.0.122:80 && printf '# ipvsadm.rules\\n' > /etc/ipvsadm.rules && sed -i 's/^AUTO=.*/AUTO=\"false\"/' /etc/default/ipvsadm && sync",
    );
  });

  it("a power cycle of each VM in the middle of an up: the rerun converges, and the ledger and the kernel agree", async () => {
    // the director: cut while the up adds 24 real servers
    await s.setConfig(config({ extraRealServers: 24 }));
    let up = s.up().then(
      () => "finished",
      (e: Error) => `failed: ${e.message.split("\n")[0]}`,
    );
    await waitFor(
      "the first new real server in the director's table",
      async () => (await savedRules("vmdirector")).some((r) => r.includes("10.0.0.2")),
      120_000,
    );
    labCommand("power-cycle", "vmdirector");
    figures.directorPowerCycleUp = await up;
    await s.up({ refresh: true });
    let { ledger, kernel } = await ledgerAndKernel("vmdirector", VIP);
    assert.equal(kernel.filter((r) => r.startsWith("-a")).length, 26);
    assert.equal(ledger.length, 27);
    assert.deepEqual(ledger, kernel, "the ledger holds exactly the kernel's (owned) rules");
    await s.preview({ refresh: true, expectNoChanges: true });

    // the real server: cut while the up adds VIPs to its host
    const extra = Array.from({ length: 8 }, (_, i) => `10.0.0.${140 + i}`);
    await s.setConfig(config({ extraRealServers: 24, rsVips: [VIP, ...extra] }));
    up = s.up().then(
      () => "finished",
      (e: Error) => `failed: ${e.message.split("\n")[0]}`,
    );
    await waitFor(
      "the real-server host's update on vmrs",
      async () =>
        /10\.0\.0\.14\d/.test(
          await sh("vmrs", "ip -o addr show dev lo; cat /etc/pulumi-lvs/*.sh 2>/dev/null", { allowFail: true }),
        ),
      120_000,
    );
    labCommand("power-cycle", "vmrs");
    figures.rsPowerCycleUp = await up;
    await s.up({ refresh: true });
    const lo = await sh("vmrs", "ip -o addr show dev lo");
    for (const a of [VIP, ...extra]) assert.match(lo, new RegExp(`${a.replace(/\./g, "\\.")}/32`));
    await s.preview({ refresh: true, expectNoChanges: true });
    ({ ledger, kernel } = await ledgerAndKernel("vmdirector", VIP));
    assert.deepEqual(ledger, kernel);
    // back to the plain stack
    await s.setConfig(config());
    await s.up();
    assert.deepEqual(await requests("client", `http://${VIP}/`, 20), { rs1: 10, vmrs: 10 });
  });

  it("with persist off, a reboot is drift that preview names and up repairs", async () => {
    await s.setConfig(config({ persist: false }));
    await s.up();
    assert.equal((await sh("vmdirector", "ls /etc/systemd/system | grep -c pulumi-lvs || true")).trim(), "0");
    labCommand("reboot", "vmdirector");
    assert.deepEqual(
      (await savedRules("vmdirector")).filter((r) => r.includes(VIP)),
      [],
      "nothing restored the rules",
    );
    const text = await s.previewDrift({ diff: true });
    assert.match(text, /Director|VirtualService|RealServer/);
    await s.up({ refresh: true });
    assert.deepEqual(await requests("client", `http://${VIP}/`, 20), { rs1: 10, vmrs: 10 });
    await s.preview({ refresh: true, expectNoChanges: true });
  });

  it("doctor passes the director VM and the real-server VM as the stack prepared them (root, and deploy with sudo)", async () => {
    let r = await doctor("vmdirector");
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /ok {4}ipvsadm: ipvsadm v1\.31/);
    r = await doctor("vmrs", "--role", "real-server", "--vip", VIP);
    assert.equal(r.code, 0, r.out);
    r = await doctor("vmrs", "--user", "deploy", "--sudo", "--role", "real-server", "--vip", VIP);
    assert.equal(r.code, 0, r.out);
  });

  it("destroy leaves both VMs as they were", async () => {
    await s.destroy();
    assert.equal(await hostSnapshot("vmrs"), vmrsBefore);
    assert.equal(await hostSnapshot("vmdirector"), vmdirectorBefore);
  });

  it("doctor fails a real-server VM that is not prepared, and a director VM where keepalived runs", async () => {
    let r = await doctor("vmrs", "--user", "deploy", "--sudo", "--role", "real-server", "--vip", VIP);
    assert.equal(r.code, 1);
    assert.match(r.out, /FAIL {2}net\.ipv4\.conf\.all\.arp_ignore: is 0, LVS-DR needs 1/);
    assert.match(r.out, new RegExp(`FAIL {2}VIP ${VIP.replace(/\./g, "\\.")}: not on lo`));
    // Debian's keepalived, started through systemd on a configuration of the user's (one LVS
    // service, no VRRP): another manager of IPVS on this director
    try {
      await sh(
        "vmdirector",
        "printf 'virtual_server 10.0.0.170 80 {\\n  lb_algo rr\\n  lb_kind DR\\n  protocol TCP\\n}\\n' > /etc/keepalived/keepalived.conf && systemctl start keepalived",
        { timeoutMs: 120_000 },
      );
      r = await doctor("vmdirector");
      assert.equal(r.code, 1);
      assert.match(r.out, /FAIL {2}other IPVS managers: keepalived running/);
    } finally {
      await sh("vmdirector", "systemctl stop keepalived; rm -f /etc/keepalived/keepalived.conf; sync", {
        allowFail: true,
      });
    }
  });
});

/** Waits until keepalived has made both real servers' rules on the director VM. */
async function keepalivedRules(what: string, ms: number): Promise<void> {
  await waitFor(what, async () => (await savedRules("vmdirector")).filter((r) => r.startsWith("-a")).length === 2, ms);
}

describe("real hosts: keepalived as a systemd service", () => {
  let s: TestStack;
  const KVIP = "10.0.0.130";
  let before0 = "";
  before(async () => {
    before0 = await hostSnapshot("vmdirector");
    s = await TestStack.create("real-hosts-keepalived", { program: PROGRAM });
    await s.setConfig({
      director: { value: JSON.stringify(labConnection("vmdirector")) },
      privateKey: { value: labPrivateKey(), secret: true },
      directorHost: { value: JSON.stringify({ vips: [{ address: KVIP, interface: "eth0" }] }) },
      hosts: { value: JSON.stringify({ vmrs: labConnection("vmrs"), rs1: labConnection("rs1") }) },
      realServerHosts: {
        value: JSON.stringify(["vmrs", "rs1"].map((h) => ({ name: `${h}-host`, host: h, mode: "dr", vips: [KVIP] }))),
      },
      services: {
        value: JSON.stringify([
          {
            name: "web",
            protocol: "tcp",
            address: KVIP,
            port: 80,
            scheduler: "rr",
            engine: "keepalived",
            realServers: ["vmrs", "rs1"].map((h) => ({
              name: h,
              address: labAddress(h),
              forwarding: "dr",
              healthCheck: { type: "http", path: "/", status: 200, interval: 2, timeout: 1 },
            })),
          },
        ]),
      },
    });
  });
  after(async () => {
    await s?.dispose();
  });

  it("enables and starts Debian's keepalived unit, and balances", async () => {
    await s.up();
    assert.equal((await sh("vmdirector", "systemctl is-enabled keepalived")).trim(), "enabled");
    assert.equal((await sh("vmdirector", "systemctl is-active keepalived")).trim(), "active");
    await keepalivedRules("both real servers in keepalived's table", 30_000);
    assert.deepEqual(await requests("client", `http://${KVIP}/`, 20), { rs1: 10, vmrs: 10 });
    await s.preview({ refresh: true, expectNoChanges: true });
  });

  it("kill -9 of keepalived: systemd brings it back, and refresh is clean", async () => {
    const pid = (await sh("vmdirector", "systemctl show -p MainPID --value keepalived")).trim();
    await sh("vmdirector", `kill -9 ${pid}`);
    figures.keepalivedBackMs = await waitFor(
      "keepalived running again under a new pid",
      async () => {
        const now = (await sh("vmdirector", "systemctl show -p MainPID --value keepalived")).trim();
        return now !== "0" && now !== pid;
      },
      30_000,
    );
    await keepalivedRules("keepalived's rules back", 30_000);
    await s.preview({ refresh: true, expectNoChanges: true });
  });

  it("keepalived stopped and disabled by hand is drift on every keepalived object, and up --refresh brings it back", async () => {
    await sh("vmdirector", "systemctl disable --now keepalived");
    const text = await s.previewDrift({ diff: true });
    assert.match(text, /web/);
    await s.up({ refresh: true });
    assert.equal((await sh("vmdirector", "systemctl is-enabled keepalived")).trim(), "enabled");
    await keepalivedRules("keepalived's rules back", 30_000);
    await s.preview({ refresh: true, expectNoChanges: true });
  });

  it("a reboot keeps the service: keepalived is back, with its rules, and refresh is clean", async () => {
    labCommand("reboot", "vmdirector");
    assert.equal((await sh("vmdirector", "systemctl is-active keepalived", { allowFail: true })).trim(), "active");
    await keepalivedRules("keepalived's rules after the boot", 60_000);
    assert.deepEqual(await requests("client", `http://${KVIP}/`, 20), { rs1: 10, vmrs: 10 });
    await s.preview({ refresh: true, expectNoChanges: true });
  });

  it("destroy stops and disables keepalived again, and leaves the director as it was", async () => {
    await s.destroy();
    assert.equal(await hostSnapshot("vmdirector"), before0);
  });
});

/** A keepalived director of the pair, configured by hand as a site's: a VRRP pair with unicast peers, and an include. */
const siteKeepalived = (self: "vmdirector" | "vmrs") => {
  const master = self === "vmdirector";
  const [me, peer] = master ? ["10.0.0.21", "10.0.0.22"] : ["10.0.0.22", "10.0.0.21"];
  return `! keepalived.conf of ${self}, written by hand
global_defs {
   router_id ${self}
}
vrrp_instance VI_SITE {
    state ${master ? "MASTER" : "BACKUP"}
    interface eth0
    virtual_router_id 150
    priority ${master ? 150 : 100}
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass ${SITE_PASS}
    }
    unicast_src_ip ${me}
    unicast_peer {
        ${peer}
    }
    virtual_ipaddress {
        ${SITE_VIP}/32 dev eth0
    }
}
include site/*.conf
`;
};
const SITE_VIP = "10.0.0.150";
const SITE_PASS = "e2eVRRP1";
const SITE_SERVICES = `# the web service, with its health checks
virtual_server ${SITE_VIP} 80 {
    delay_loop 2
    lb_algo wrr
    lb_kind DR
    protocol TCP
    sorry_server 10.0.0.13 80
    real_server 10.0.0.11 80 {
        weight 2
        inhibit_on_failure
        HTTP_GET {
            url {
                path /
                status_code 200
            }
            connect_timeout 2
        }
    }
    real_server 10.0.0.12 80 {
        weight 1
        TCP_CHECK {
            connect_timeout 2
        }
    }
}
`;
const PAIR = ["vmdirector", "vmrs"] as const;

describe("real hosts: pulumi-lvs import of a keepalived director pair, handed over without a restart", {
  skip: !languageHost() && "no pulumi-language-nodejs (see harness/folder.ts)",
}, () => {
  let work = "";
  let stack: FolderStack | undefined;
  const pids = () =>
    Promise.all(PAIR.map(async (h) => (await sh(h, "systemctl show -p MainPID --value keepalived")).trim()));
  const tables = () => Promise.all(PAIR.map((h) => sh(h, "ipvsadm -S -n")));
  const vipHolders = async () =>
    (
      await Promise.all(
        PAIR.map(async (h) => ((await sh(h, "ip -o addr show dev eth0")).includes(` ${SITE_VIP}/32 `) ? h : "")),
      )
    ).filter(Boolean);
  const bothRealServers = (h: string) =>
    waitFor(
      `keepalived's table on ${h}: both real servers`,
      async () =>
        /10\.0\.0\.11:80 .*-w 2/.test(await sh(h, "ipvsadm -S -n")) &&
        /10\.0\.0\.12:80 .*-w 1/.test(await sh(h, "ipvsadm -S -n")),
      60_000,
    );

  before(async () => {
    labCommand("vm", "up");
    work = fs.mkdtempSync(path.join(cacheDir, "e2e", "import-pair-"));
    // the real servers, prepared by hand for LVS-DR
    for (const h of ["rs1", "rs2"])
      await sh(
        h,
        `sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 && ip addr add ${SITE_VIP}/32 dev lo`,
      );
    // each director: what /etc/keepalived had kept aside, the site's files, keepalived enabled and started
    for (const h of PAIR) {
      await sh(h, "tar -C /etc -czf /root/keepalived-before.tgz keepalived");
      await sh(
        h,
        `mkdir -p /etc/keepalived/site && cat > /etc/keepalived/keepalived.conf <<'EOF'\n${siteKeepalived(h)}EOF\ncat > /etc/keepalived/site/web.conf <<'EOF'\n${SITE_SERVICES}EOF\nsystemctl enable -q --now keepalived`,
      );
    }
    await waitFor("the VIP on vmdirector (MASTER)", async () => (await vipHolders()).join() === "vmdirector", 60_000);
    for (const h of PAIR) await bothRealServers(h);
  });
  after(async () => {
    if (stack) {
      await stack.destroy().catch((e) => console.log(`[import-pair] destroy: ${e}`));
      await stack.pulumi(["stack", "rm", "--yes", "--force", stack.name], { quiet: true }).catch(() => undefined);
    }
    for (const h of PAIR)
      await sh(
        h,
        `systemctl disable -q --now keepalived; rm -rf /etc/keepalived /etc/systemd/system/keepalived.service.d /var/lib/pulumi-lvs; tar -C /etc -xzf /root/keepalived-before.tgz; rm -f /root/keepalived-before.tgz; systemctl daemon-reload; ip addr del ${SITE_VIP}/32 dev eth0 2>/dev/null; ipvsadm -D -t ${SITE_VIP}:80 2>/dev/null; true`,
        { allowFail: true },
      );
    for (const h of ["rs1", "rs2"])
      await sh(
        h,
        `ip addr del ${SITE_VIP}/32 dev lo; sysctl -qw net.ipv4.conf.all.arp_ignore=0 net.ipv4.conf.all.arp_announce=0`,
        {
          allowFail: true,
        },
      );
  });

  it("imports both directors into one program: keepalived's blocks as a VirtualService and a VrrpInstance over the pair, taken over as they are", async () => {
    const target = (h: string) => `root@127.0.0.1:${lab().hosts[h]!.port}`;
    const bin = path.join(await installedPackage(), "node_modules", ".bin", "pulumi-lvs");
    await run(
      bin,
      [
        "import",
        ...PAIR.flatMap((h) => ["--host", target(h)]),
        "--key",
        lab().privateKeyPath,
        "--known-hosts",
        lab().knownHostsPath,
        "--out",
        path.join(work, "pair"),
      ],
      { cwd: cacheDir, env: process.env },
    );
    const index = fs.readFileSync(path.join(work, "pair", "index.ts"), "utf8");
    assert.match(index, /for \(const \[node, connection\] of Object\.entries\(\{ vmdirector, vmrs \}\)\) \{/);
    assert.equal(index.match(/new lvs\.VrrpInstance\(/g)?.length, 1, index);
    assert.equal(index.match(/new lvs\.VirtualService\(/g)?.length, 1, index);
    assert.match(index, /engine: "keepalived"/);
    assert.match(index, /initialState: node === "vmdirector" \? "MASTER" : undefined|initialState/);
    assert.match(index, /priority: node === "vmdirector" \? 150 : 100/);
    assert.ok(!index.includes(SITE_PASS), "the VRRP password is not in the program");
  });

  it("first `pulumi up` hands keepalived's blocks over: same keepalived processes, the VIP stays on the master, the tables unchanged, no request lost; refresh clean", async () => {
    const dir = path.join(work, "pair");
    stack = await FolderStack.create("import-pair", { program: dir });
    const secrets = [
      ...fs.readFileSync(path.join(dir, "IMPORT.md"), "utf8").matchAll(/pulumi config set --secret (\S+)/g),
    ].map((m) => m[1]!);
    assert.ok(secrets.includes("privateKey") && secrets.length > 1, `IMPORT.md's secrets: ${secrets.join(", ")}`);
    for (const key of new Set(secrets))
      await stack.pulumi(["config", "set", "--secret", key], {
        input: key === "privateKey" ? fs.readFileSync(lab().privateKeyPath, "utf8") : SITE_PASS,
        quiet: true,
      });
    const preview = await stack.preview();
    assert.doesNotMatch(preview, /to (update|delete|replace)/, "a fresh import previews take-overs only");
    const [pidsBefore, tablesBefore] = [await pids(), await tables()];
    await background(
      "client",
      `while [ ! -e /tmp/pair-stop ]; do if timeout 5 wget -q -O /dev/null http://${SITE_VIP}/; then echo ok; else echo FAIL; fi; done`,
      "/tmp/pair-loop.log",
    );
    await stack.up();
    await sh("client", "touch /tmp/pair-stop; sleep 6; rm -f /tmp/pair-stop");
    const loop = await sh("client", "cat /tmp/pair-loop.log");
    const counts = { ok: (loop.match(/^ok$/gm) ?? []).length, failed: (loop.match(/^FAIL$/gm) ?? []).length };
    console.log(
      `    [import-pair] requests through the VIP during the first up: ${counts.ok} answered, ${counts.failed} failed`,
    );
    assert.ok(counts.ok > 0, "the client loop ran");
    assert.equal(counts.failed, 0, `requests failed during the first up: ${JSON.stringify(counts)}`);
    assert.deepEqual(await pids(), pidsBefore, "keepalived was reloaded, never restarted");
    assert.deepEqual(await tables(), tablesBefore, "the IPVS tables are as they were");
    assert.deepEqual(await vipHolders(), ["vmdirector"], "the VIP stays on the master");
    assert.deepEqual(
      JSON.parse(await stack.pulumi(["stack", "output", "vrrpRoles", "--json"], { quiet: true })),
      { "VI_SITE-vmdirector": "MASTER", "VI_SITE-vmrs": "BACKUP" },
      "each instance's role, as the director shows it (keepalived reports transitions only)",
    );
    for (const h of PAIR) {
      assert.match(
        await sh(h, "cat /etc/keepalived/site/web.conf"),
        /^#pulumi-lvs-handed-over# virtual_server 10\.0\.0\.150 80 \{$/m,
      );
      assert.match(
        await sh(h, "cat /etc/keepalived/keepalived.conf"),
        /^#pulumi-lvs-handed-over# vrrp_instance VI_SITE \{$/m,
      );
      const test = await sh(h, "keepalived -t -f /etc/keepalived/keepalived.conf 2>&1", { allowFail: true });
      assert.deepEqual(testComplaints(test), [], `keepalived -t on ${h}: only what pulumi-lvs's files always draw`);
    }
    await stack.preview({ refresh: true, expectNoChanges: true });
  });

  it("then a weight edited in the program goes through keepalived on both directors, still without a restart", async () => {
    const index = path.join(stack!.dir, "index.ts");
    const text = fs.readFileSync(index, "utf8");
    assert.equal(text.match(/weight: 2\b/g)?.length, 1, "one weight 2 (10.0.0.11)");
    fs.writeFileSync(index, text.replace(/weight: 2\b/, "weight: 3"));
    const pidsBefore = await pids();
    await stack!.up();
    for (const h of PAIR)
      await waitFor(
        `weight 3 in ${h}'s table`,
        async () => /10\.0\.0\.11:80 -g -w 3/.test(await sh(h, "ipvsadm -S -n")),
        30_000,
      );
    assert.deepEqual(await pids(), pidsBefore);
    await stack!.preview({ refresh: true, expectNoChanges: true });
  });
});

describe("real hosts: LVS-NAT's return path through a real reboot, and LVS-TUN over GRE", () => {
  const NVIP = "10.0.0.140";
  const routing = () =>
    sh(
      "vmrs",
      "ip -4 rule show; echo; ip -4 route show table main; echo; ip -4 route show table 7100 2>/dev/null || true",
    );
  /** One stack on vmdirector with vmrs as its one real server, prepared for `host`. */
  const config = (host: Record<string, unknown>, realServer: Record<string, unknown>, port: number) => ({
    director: { value: JSON.stringify(labConnection("vmdirector")) },
    privateKey: { value: labPrivateKey(), secret: true },
    directorHost: {
      value: JSON.stringify({
        ipForward: true,
        sysctls: { "net.ipv4.conf.all.send_redirects": 0, "net.ipv4.conf.eth0.send_redirects": 0 },
        vips: [{ address: NVIP, interface: "eth0" }],
      }),
    },
    hosts: { value: JSON.stringify({ vmrs: labConnection("vmrs") }) },
    realServerHosts: {
      value: JSON.stringify([{ name: "vmrs-host", host: "vmrs", addresses: [labAddress("vmrs")], ...host }]),
    },
    services: {
      value: JSON.stringify([
        {
          name: "web",
          protocol: "tcp",
          address: NVIP,
          port,
          scheduler: "rr",
          realServers: [{ name: "vmrs", address: labAddress("vmrs"), ...realServer }],
        },
      ]),
    },
  });
  let before0 = "";
  let routingBefore = "";
  before(async () => {
    labCommand("vm", "up"); // (running already when the whole file runs)
    before0 = await hostSnapshot("vmrs");
    routingBefore = await routing();
  });

  it("NAT: a LAN client is answered through the director, the return path comes back after a real reboot, destroy restores the routing", async () => {
    const s = await TestStack.create("real-hosts-nat", { program: PROGRAM });
    try {
      await s.setConfig(
        config({ mode: "nat", gateway: labAddress("vmdirector"), ports: [80] }, { forwarding: "nat", port: 80 }, 8080),
      );
      await s.up();
      assert.deepEqual(await requests("client", `http://${NVIP}:8080/`, 10), { vmrs: 10 });
      const before = await bootId("vmrs");
      labCommand("reboot", "vmrs");
      assert.notEqual(await bootId("vmrs"), before, "the VM did not reboot");
      assert.equal(await failedUnits("vmrs"), "");
      assert.match(await routing(), /^7100:\s+from 10\.0\.0\.22 sport 80 lookup 7100/m);
      await s.preview({ refresh: true, expectNoChanges: true });
      assert.deepEqual(await requests("client", `http://${NVIP}:8080/`, 10), { vmrs: 10 });
      await s.destroy();
      assert.equal(await routing(), routingBefore);
      assert.equal(await hostSnapshot("vmrs"), before0);
    } finally {
      await s.dispose();
    }
  });

  it("TUN over GRE to the systemd real server", async () => {
    const s = await TestStack.create("real-hosts-gre", { program: PROGRAM });
    try {
      await s.setConfig(
        config(
          { mode: "tun", vips: [NVIP], tunnels: [{ type: "gre" }] },
          { forwarding: "tun", tunnel: { type: "gre" } },
          80,
        ),
      );
      await s.up();
      assert.deepEqual(await requests("client", `http://${NVIP}/`, 10), { vmrs: 10 });
      assert.match(await sh("vmrs", "ip -o addr show dev gre0"), /10\.0\.0\.140\/32/);
      await s.destroy();
      assert.equal((await sh("vmrs", "ip -o link show up dev gre0")).trim(), "", "gre0 is down again");
    } finally {
      await s.dispose();
    }
  });
});

describe("real hosts: OpenSSH's limits and host keys", () => {
  it("200 real servers at --parallel 32 through one OpenSSH connection (MaxSessions 10)", async () => {
    const s = await TestStack.create("real-hosts-ssh", { program: PROGRAM });
    try {
      const services = Array.from({ length: 2 }, (_, i) => ({
        name: `many${i}`,
        protocol: "tcp",
        address: `10.0.0.${150 + i}`,
        port: 80,
        scheduler: "rr",
        realServers: Array.from({ length: 100 }, (_, j) => ({
          name: `many${i}-${j}`,
          address: `10.1.${i}.${j + 1}`,
          port: 80,
          forwarding: "nat",
        })),
      }));
      await s.setConfig({
        director: { value: JSON.stringify(labConnection("vmdirector")) },
        privateKey: { value: labPrivateKey(), secret: true },
        services: { value: JSON.stringify(services) },
      });
      const c0 = await acceptedConnections("vmdirector");
      const t0 = Date.now();
      await s.up({ parallel: 32 });
      figures.up200Ms = Date.now() - t0;
      // (c0's own connection was made before the provider's, and is not in c0)
      const connections = (await acceptedConnections("vmdirector")) - c0 - 1;
      figures.up200Connections = connections;
      assert.equal(connections, 1);
      assert.equal((await savedRules("vmdirector")).filter((r) => r.startsWith("-a")).length, 200);
      // what OpenSSH logs when a connection asks for more than MaxSessions channels
      const refused = await sh(
        "vmdirector",
        "journalctl -b -u ssh.service -o cat --no-pager | grep -c 'no more sessions' || true",
      );
      assert.equal(Number(refused.trim()), 0);
    } finally {
      await s.dispose();
    }
    assert.deepEqual(await savedRules("vmdirector"), []);
  });

  it("a wrong host key is refused before any command runs", async () => {
    const s = await TestStack.create("real-hosts-hostkey", { program: PROGRAM });
    try {
      await s.setConfig({
        director: { value: JSON.stringify(labConnection("vmdirector", { hostKey: labConnection("vmrs").hostKey })) },
        privateKey: { value: labPrivateKey(), secret: true },
        services: { value: JSON.stringify([{ name: "x", protocol: "tcp", address: "10.0.0.160", port: 80 }]) },
      });
      await assert.rejects(s.up(), /host key/i);
      assert.deepEqual(await savedRules("vmdirector"), []);
    } finally {
      await s.dispose().catch(() => undefined);
    }
  });
});
