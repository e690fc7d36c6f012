import * as assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { doctor } from "./harness/doctor";
import { lab, resetLab, sh } from "./harness/lab";

describe("pulumi-lvs doctor on lab hosts", () => {
  before(() => resetLab());

  it("passes a healthy director", async () => {
    const r = await doctor("director");
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /ok {4}ipvsadm: ipvsadm v1\.31/);
    assert.match(r.out, /no problem found/);
  });

  it("broken host 1: a host key that does not match", async () => {
    const r = await doctor("director", "--host-key", lab().hosts.rs1!.hostKey);
    assert.equal(r.code, 1);
    assert.match(r.out, /FAIL {2}ssh: host key verification failed for root@127\.0\.0\.1:2201/);
  });

  it("broken host 2: keepalived already manages IPVS there", async () => {
    // a process named keepalived (a copy of dash waiting on a sleep): what `pidof keepalived` sees
    await sh(
      "director",
      "cp /bin/dash /tmp/keepalived && (setsid /tmp/keepalived -c 'sleep 600' </dev/null >/dev/null 2>&1 &)",
    );
    const r = await doctor("director");
    await sh("director", "pkill -x keepalived; rm -f /tmp/keepalived");
    assert.equal(r.code, 1);
    assert.match(r.out, /FAIL {2}other IPVS managers: keepalived running/);
    assert.match(r.out, /fix: manage disjoint services/);
  });

  it("broken host 3: a user without passwordless sudo", async () => {
    const r = await doctor("director", "--user", "nosudo", "--sudo");
    assert.equal(r.code, 1);
    assert.match(r.out, /FAIL {2}privileges: .*sudo -n failed/);
  });

  it("broken host 4: a real server without ARP settings or VIP, then fixed by hand", async () => {
    let r = await doctor("rs1", "--role", "real-server", "--vip", "10.0.0.100");
    assert.equal(r.code, 1);
    assert.match(r.out, /FAIL {2}net\.ipv4\.conf\.all\.arp_ignore: is 0, LVS-DR needs 1/);
    assert.match(r.out, /FAIL {2}VIP 10\.0\.0\.100: not on lo/);
    await sh(
      "rs1",
      "sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.eth0.arp_ignore=1 net.ipv4.conf.eth0.arp_announce=2 && ip addr add 10.0.0.100/32 dev lo",
    );
    r = await doctor("rs1", "--role", "real-server", "--vip", "10.0.0.100");
    assert.equal(r.code, 0, r.out);
  });

  it("bad arguments exit 2 with the usage", async () => {
    const r = await doctor("director", "--role", "router");
    assert.equal(r.code, 2);
    assert.match(r.out, /usage: pulumi-lvs doctor/);
  });
});
