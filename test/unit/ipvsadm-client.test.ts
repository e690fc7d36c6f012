import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { type Change, realServerChange, serviceChange } from "../../provider/ipvs/change";
import { IpvsAlreadyExistsError, IpvsError, IpvsNotFoundError, scopedSnapshot } from "../../provider/ipvs/client";
import {
  batchScript,
  onePassFits as fits,
  ipvsOp,
  onePassScript,
  parseBatch,
  parseOnePass,
  parseTouched,
  type RecordedOp,
  readScript,
  tookEffect,
  touchedServices,
} from "../../provider/ipvs/ipvsadm/batch";
import { IpvsadmClient } from "../../provider/ipvs/ipvsadm/client";
import { mergeThresholds, parseThresholds } from "../../provider/ipvs/ipvsadm/thresholds";
import { replayLedger } from "../../provider/ipvs/ledger";
import { parseRules } from "../../provider/ipvs/rules/parse";
import { serviceKeyText, type VirtualServiceConfig } from "../../provider/ipvs/types";
import { LocalTransport } from "../../provider/transport/local";
import { type Transport, TransportError } from "../../provider/transport/transport";
import { CannedTransport } from "./fakes/canned-transport";
import { realServerFixture, serviceFixture } from "./fixtures";

const svc = serviceFixture();
const rs = (address: string, weight = 1) => realServerFixture(address, { weight });

describe("IpvsadmClient error semantics (stderr captured from ipvsadm 1.31)", () => {
  const cases: Array<[string, (c: IpvsadmClient) => Promise<void>, new (...a: any[]) => Error, RegExp]> = [
    [
      "Service already exists",
      (c) => c.apply(serviceChange("add", svc)),
      IpvsAlreadyExistsError,
      /virtual service tcp\/10\.0\.0\.100:80 already exists/,
    ],
    [
      "Destination already exists",
      (c) => c.apply(realServerChange("add", svc.key, rs("10.0.0.11"))),
      IpvsAlreadyExistsError,
      /real server 10\.0\.0\.11:80 .* already exists/,
    ],
    ["No such service", (c) => c.apply(serviceChange("edit", svc)), IpvsNotFoundError, /does not exist/],
    [
      "Service not defined",
      (c) => c.apply(realServerChange("add", svc.key, rs("10.0.0.11"))),
      IpvsNotFoundError,
      /virtual service tcp\/10\.0\.0\.100:80 does not exist/,
    ],
    [
      "No such destination",
      (c) => c.apply(realServerChange("edit", svc.key, rs("10.0.0.11"))),
      IpvsNotFoundError,
      /real server 10\.0\.0\.11:80 .* does not exist/,
    ],
    [
      "Scheduler or persistence engine not found",
      (c) => c.apply(serviceChange("add", svc)),
      IpvsError,
      /What to do: the kernel lacks the scheduler/,
    ],
    ["sh: 1: ipvsadm: not found", (c) => c.apply(serviceChange("add", svc)), IpvsError, /install ipvsadm/],
  ];
  for (const [stderr, op, type, message] of cases) {
    it(`maps "${stderr}"`, async () => {
      const t = new CannedTransport({
        stdout: "",
        stderr: `${stderr}\n`,
        code: stderr.includes("not found") && stderr.startsWith("sh") ? 127 : 255,
      });
      const err = await op(new IpvsadmClient(t)).then(
        () => undefined,
        (e: Error) => e,
      );
      assert.ok(err instanceof type, `${err?.name} is a ${type.name}`);
      assert.match(err.message, message);
      assert.match(err.message, /^on root@director:22: ipvsadm /, "names the host and the command");
    });
  }
});

/** A stand-in ipvsadm (POSIX sh) for the ledger tests: see where it is written. */
function standInIpvsadm(dir: string, toolsPath: string): string {
  return `#!/bin/sh
# its own tools are not the ones counted
PATH='${toolsPath}'
K="${dir}/kernel"; touch "$K"
# (the words of an IPv4 fwmark service begin those of the IPv6 one: -f 8, -f 8 -6)
own='index($0 " ", p) == 1 && substr($0 " ", length(p) + 1, 3) != "-6 "'
has() { awk -v p="$1 " "$own { f = 1 } END { exit !f }" "$K"; }
drop() { for x in "$1" "$2"; do awk -v p="$x " "!($own)" "$K" > "$K.t"; mv "$K.t" "$K"; done; }
# ipvsadm -L -n <service>: its line, then its real servers' (the words of each rule after the key
# stand for the listing's columns); a missing service stops ipvsadm (-R too), as the real one does
list() {
  echo "-L -n $*" >> "${dir}/reads"
  has "-A $*" || { echo "No such service" >&2; exit 1; }
  case "$1" in -t) h="TCP  $2";; -u) h="UDP  $2";; --sctp-service) h="SCTP $2";; *) h="FWM  $2\${3:+ IPv6}";; esac
  echo "Prot LocalAddress:Port Scheduler Flags"
  awk -v s="-A $* " -v r="-a $* -r " -v h="$h" '
    function at(p) { return index($0 " ", p) == 1 && substr($0 " ", length(p) + 1, 3) != "-6 " }
    at(s) { print h " " substr($0, length(s) + 1) }
    at(r) { rs[n++] = "  -> " substr($0, length(r) + 1) " 0 0" }
    END { for (i = 0; i < n; i++) print rs[i] }' "$K"
}
case "$1" in
  -S) echo "-S" >> "${dir}/reads"; cat "$K"; exit 0;;
  -L) case "$*" in
        *--timeout*) echo "Timeout (tcp tcpfin udp): 900 120 300";;
        "-L -n --thresholds") echo "IP Virtual Server version 1.2.1 (size=4096)";;
        *) shift 2; list "$@";;
      esac; exit 0;;
  -R) while read -r l; do "$0" $l || [ $? -ne 1 ] || exit 1; done; exit 0;;
esac
if [ "$4" = -6 ]; then w="$2 $3 -6"; r="$6"; else w="$2 $3"; r="$5"; fi
svc="-A $w"; rs="-a $w -r $r"
# a probe (the delete of a real server that no service can have) reads: it is not logged with the changes
case "$1 $r" in "-d 0.0.0.0:0"|"-d [::]:0")
  echo "-d $w" >> "${dir}/reads"
  if has "$svc"; then echo "No such destination" >&2; else echo "Service not defined" >&2; fi; exit 255;;
esac
echo "$*" >> "${dir}/calls"
# "cut": the round trip is cut short right after the kernel changed (the shell dies)
if [ -e "${dir}/cut" ]; then kill -9 $PPID; fi
if [ -e "${dir}/fail" ]; then cat "${dir}/fail" >&2; exit 255; fi
# one address that always exists already
case "$*" in *10.0.0.66*) echo "Destination already exists" >&2; exit 255;; esac
line=$(echo "$*" | sed -e 's/^-E/-A/' -e 's/^-e/-a/' -e 's/ -x [0-9]* -y [0-9]*//')
case "$1" in
  -A) has "$svc" && { echo "Service already exists" >&2; exit 255; }; echo "$line" >> "$K";;
  -E) has "$svc" || { echo "No such service" >&2; exit 255; }; drop "$svc" "$svc"; echo "$line" >> "$K";;
  -D) has "$svc" || { echo "No such service" >&2; exit 255; }; drop "$svc" "-a $w -r";;
  -a) has "$svc" || { echo "Service not defined" >&2; exit 255; }
      has "$rs" && { echo "Destination already exists" >&2; exit 255; }; echo "$line" >> "$K";;
  -e) has "$svc" || { echo "Service not defined" >&2; exit 255; }
      has "$rs" || { echo "No such destination" >&2; exit 255; }; drop "$rs" "$rs"; echo "$line" >> "$K";;
  -d) has "$svc" || { echo "Service not defined" >&2; exit 255; }
      has "$rs" || { echo "No such destination" >&2; exit 255; }; drop "$rs" "$rs";;
esac
`;
}

describe("IpvsadmClient ledger, run by a real shell against a stand-in ipvsadm", () => {
  let dir: string;
  let ledger: string;
  let client: IpvsadmClient;
  let savedPath: string | undefined;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lvs-ledger-"));
    ledger = path.join(dir, "state", "ipvs.rules");
    // stand-in ipvsadm: logs its arguments, keeps a table (in `kernel`, as -S prints it) with the
    // real one's error messages, and reads -R like the real one (it goes on after a failed line
    // and exits 0); fails like the real one when FAIL is set
    savedPath = process.env.PATH;
    fs.writeFileSync(path.join(dir, "ipvsadm"), standInIpvsadm(dir, savedPath ?? ""), { mode: 0o755 });
    // the tools a script might start, each logging its name before it runs
    for (const tool of ["awk", "mv", "cp", "rm", "cat", "sed", "mkdir", "flock", "md5sum"]) {
      const real = execFileSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).trim();
      fs.writeFileSync(path.join(dir, tool), `#!/bin/sh\necho ${tool} >> '${dir}/started'\nexec ${real} "$@"\n`, {
        mode: 0o755,
      });
    }
    process.env.PATH = `${dir}:${savedPath}`;
    client = new IpvsadmClient(new LocalTransport(), ledger, { gatherMs: 0 });
  });
  afterEach(() => {
    process.env.PATH = savedPath;
    fs.rmSync(dir, { recursive: true, force: true });
  });
  /** The rules the ledger holds (its journal replayed), sorted. */
  const lines = () => replayLedger(fs.readFileSync(ledger, "utf8")).sort();
  /** Makes the stand-in ipvsadm fail with `stderr`, and checks that `change` is refused with `error`. */
  const refused = async (stderr: string, change: Change, error: new (...a: any[]) => Error) => {
    fs.writeFileSync(path.join(dir, "fail"), stderr);
    await assert.rejects(client.apply(change), error);
  };

  it("records owned objects, replaces them on edit, and forgets them on delete", async () => {
    await client.apply(serviceChange("add", svc));
    await client.apply(realServerChange("add", svc.key, rs("10.0.0.11")));
    await client.apply(realServerChange("add", svc.key, rs("10.0.0.111")));
    await client.apply(realServerChange("edit", svc.key, rs("10.0.0.11", 5)));
    await client.apply(serviceChange("edit", { ...svc, scheduler: "wlc" }));
    assert.deepEqual(
      lines(),
      [
        "-A -t 10.0.0.100:80 -s wlc",
        "-a -t 10.0.0.100:80 -r 10.0.0.111:80 -g -w 1 -x 0 -y 0",
        "-a -t 10.0.0.100:80 -r 10.0.0.11:80 -g -w 5 -x 0 -y 0",
      ].sort(),
    );
    await client.apply(realServerChange("delete", svc.key, rs("10.0.0.11")));
    assert.deepEqual(
      lines(),
      ["-A -t 10.0.0.100:80 -s wlc", "-a -t 10.0.0.100:80 -r 10.0.0.111:80 -g -w 1 -x 0 -y 0"].sort(),
    );
    await client.apply(serviceChange("delete", svc.key));
    assert.deepEqual(lines(), []);
    assert.deepEqual(fs.readFileSync(path.join(dir, "calls"), "utf8").trim().split("\n"), [
      "-A -t 10.0.0.100:80 -s rr",
      "-a -t 10.0.0.100:80 -r 10.0.0.11:80 -g -w 1 -x 0 -y 0",
      "-a -t 10.0.0.100:80 -r 10.0.0.111:80 -g -w 1 -x 0 -y 0",
      "-e -t 10.0.0.100:80 -r 10.0.0.11:80 -g -w 5 -x 0 -y 0",
      "-E -t 10.0.0.100:80 -s wlc",
      "-d -t 10.0.0.100:80 -r 10.0.0.11:80",
      "-D -t 10.0.0.100:80",
    ]);
  });

  /**
   * A client whose round trips are counted (only mutations requested at once share one, unless
   * `gatherMs`); its transport is ready after `connectMs` (a connection being opened), or fails so.
   */
  function counted(
    gatherMs = 0,
    connect?: { ms: number; error?: Error },
  ): { client: IpvsadmClient; trips: () => number } {
    const local = new LocalTransport();
    let trips = 0;
    const opened =
      connect &&
      new Promise<void>((ok, fail) => setTimeout(() => (connect.error ? fail(connect.error) : ok()), connect.ms));
    opened?.catch(() => undefined);
    const counting: Transport = {
      label: local.label,
      stats: local.stats,
      exclusive: (fn) => local.exclusive(fn),
      run: async (c, o) => {
        await opened;
        trips++;
        return local.run(c, o);
      },
      ...(opened ? { ready: () => opened } : {}),
    };
    return { client: new IpvsadmClient(counting, ledger, { gatherMs }), trips: () => trips };
  }
  const kernel = () => fs.readFileSync(path.join(dir, "kernel"), "utf8").trim().split("\n").sort();

  it("mutations sent together run in one round trip and one ipvsadm -R, each with its own ledger entry", async () => {
    const { client: batched, trips } = counted();
    await batched.apply(serviceChange("add", svc));
    assert.equal(trips(), 1);
    const addresses = ["10.0.0.11", "10.0.0.12", "10.0.0.13", "10.0.0.14", "10.0.0.15"];
    await Promise.all(addresses.map((a) => batched.apply(realServerChange("add", svc.key, rs(a), `p/s/${a}`))));
    assert.equal(trips(), 2, "the five adds shared one round trip");
    const calls = fs.readFileSync(path.join(dir, "calls"), "utf8").trim().split("\n");
    assert.deepEqual(
      calls.slice(1).map((l) => l.split(" ")[4]),
      addresses.map((a) => `${a}:80`),
      "run in the order they came",
    );
    assert.deepEqual(
      lines().map((l) => l.replace(/ #owner=.*/, "")),
      ["-A -t 10.0.0.100:80 -s rr", ...addresses.map((a) => `-a -t 10.0.0.100:80 -r ${a}:80 -g -w 1 -x 0 -y 0`)].sort(),
    );
    assert.equal(lines().filter((l) => l.includes("#owner=p%2Fs%2F10.0.0.1")).length, 5, "each with its owner");
    // edits and deletes together: one round trip too
    await Promise.all([
      batched.apply(realServerChange("edit", svc.key, rs("10.0.0.11", 7))),
      batched.apply(realServerChange("delete", svc.key, rs("10.0.0.12"))),
      batched.apply(realServerChange("edit", svc.key, rs("10.0.0.13", 3), "p/s/new-owner")),
    ]);
    assert.equal(trips(), 3);
    assert.deepEqual(kernel(), [
      "-A -t 10.0.0.100:80 -s rr",
      "-a -t 10.0.0.100:80 -r 10.0.0.11:80 -g -w 7",
      "-a -t 10.0.0.100:80 -r 10.0.0.13:80 -g -w 3",
      "-a -t 10.0.0.100:80 -r 10.0.0.14:80 -g -w 1",
      "-a -t 10.0.0.100:80 -r 10.0.0.15:80 -g -w 1",
    ]);
    assert.deepEqual(
      lines().map((l) => l.replace(/ #owner=p%2Fs%2F10\.0\.0\.1\d$/, "")),
      [
        "-A -t 10.0.0.100:80 -s rr",
        "-a -t 10.0.0.100:80 -r 10.0.0.11:80 -g -w 7 -x 0 -y 0",
        "-a -t 10.0.0.100:80 -r 10.0.0.13:80 -g -w 3 -x 0 -y 0 #owner=p%2Fs%2Fnew-owner",
        "-a -t 10.0.0.100:80 -r 10.0.0.14:80 -g -w 1 -x 0 -y 0",
        "-a -t 10.0.0.100:80 -r 10.0.0.15:80 -g -w 1 -x 0 -y 0",
      ].sort(),
    );
  });

  it("mutations requested a few milliseconds apart share one round trip", async () => {
    const { client: gathering, trips } = counted(25);
    const services = [80, 81, 82, 83].map((port) => ({ ...svc, key: { ...svc.key, port } }));
    // as the engine sends the creates of one wave: the first alone, the others a little later
    const first = gathering.apply(serviceChange("add", services[0]!));
    await new Promise((r) => setTimeout(r, 10));
    await Promise.all([first, ...services.slice(1).map((s) => gathering.apply(serviceChange("add", s)))]);
    assert.equal(trips(), 1);
    assert.equal(kernel().length, 4);
  });

  it("mutations requested while the connection opens join the first round trip; if it cannot open, each fails with why", async () => {
    const { client: connecting, trips } = counted(0, { ms: 150 });
    const services = [80, 81, 82].map((port) => ({ ...svc, key: { ...svc.key, port } }));
    const first = connecting.apply(serviceChange("add", services[0]!));
    await new Promise((r) => setTimeout(r, 50));
    await Promise.all([first, ...services.slice(1).map((s) => connecting.apply(serviceChange("add", s)))]);
    assert.equal(trips(), 1);
    assert.equal(kernel().length, 3);
    const down = new TransportError("unreachable", "root@director:22", "could not connect to root@director:22");
    const { client: unreachable, trips: none } = counted(0, { ms: 10, error: down });
    const results = await Promise.allSettled(services.map((s) => unreachable.apply(serviceChange("delete", s.key))));
    assert.deepEqual(
      results.map((r) => (r.status === "rejected" ? (r.reason as Error).message : r.status)),
      services.map(() => down.message),
    );
    assert.equal(none(), 0);
  });

  it("records a change with the shell's builtins: a batch starts no process but the lock's and ipvsadm, until compaction is due", async () => {
    const started = () =>
      fs.existsSync(path.join(dir, "started")) ? fs.readFileSync(path.join(dir, "started"), "utf8") : "";
    const { client: batched } = counted();
    await batched.apply(serviceChange("add", svc));
    fs.rmSync(path.join(dir, "started"), { force: true }); // the first round trip made the ledger's directory
    await Promise.all(
      ["10.0.0.11", "10.0.0.12", "10.0.0.13"].map((a) => batched.apply(realServerChange("add", svc.key, rs(a)))),
    );
    await batched.apply(realServerChange("delete", svc.key, rs("10.0.0.13")));
    assert.equal(started(), "flock\nflock\n", "one flock per round trip; no awk, mv, cp, rm, cat, sed or mkdir");
    assert.match(fs.readFileSync(ledger, "utf8"), /^#drop -a -t 10\.0\.0\.100:80 -r 10\.0\.0\.13:80 #tx=\S+$/m);
    // a journal grown well past its rules is compacted by the next round trip after a read
    for (let w = 2; w < 260; w++) await batched.apply(realServerChange("edit", svc.key, rs("10.0.0.11", w)));
    await batched.snapshot({ fresh: true });
    await batched.apply(realServerChange("edit", svc.key, rs("10.0.0.12", 9)));
    assert.match(started(), /flock\nmd5sum\nmv\n$/, "compacted under the lock, as worked out from the read: no awk");
    assert.deepEqual(
      fs
        .readFileSync(ledger, "utf8")
        .replace(/ #tx=\S+/g, "")
        .trim()
        .split("\n")
        .sort(),
      [
        "-A -t 10.0.0.100:80 -s rr",
        "-a -t 10.0.0.100:80 -r 10.0.0.11:80 -g -w 259 -x 0 -y 0",
        "-a -t 10.0.0.100:80 -r 10.0.0.12:80 -g -w 1 -x 0 -y 0",
        "-a -t 10.0.0.100:80 -r 10.0.0.12:80 -g -w 9 -x 0 -y 0",
      ].sort(),
      "the three rules compacted, then the one change recorded after",
    );
    assert.equal(lines().length, 3);
  });

  it("a journal that changed since it was read is compacted as it is then (awk), keeping what was appended meanwhile", async () => {
    const started = () =>
      fs.existsSync(path.join(dir, "started")) ? fs.readFileSync(path.join(dir, "started"), "utf8") : "";
    const { client: batched } = counted();
    await batched.apply(serviceChange("add", svc));
    await batched.apply(realServerChange("add", svc.key, rs("10.0.0.11")));
    for (let w = 2; w < 260; w++) await batched.apply(realServerChange("edit", svc.key, rs("10.0.0.11", w)));
    await batched.snapshot({ fresh: true });
    // another writer (another stack) appends after the read
    const theirs = "-A -t 10.0.0.101:80 -s rr #owner=p%2Fother #tx=theirs";
    fs.appendFileSync(ledger, `${theirs}\n`);
    fs.rmSync(path.join(dir, "started"), { force: true });
    await batched.apply(realServerChange("edit", svc.key, rs("10.0.0.11", 7)));
    assert.match(
      started(),
      /^flock\nmd5sum\nawk\nmv\n/,
      "the read's compaction no longer applies: awk compacts the file",
    );
    assert.deepEqual(
      fs
        .readFileSync(ledger, "utf8")
        .replace(/ #tx=\S+/g, "")
        .trim()
        .split("\n"),
      [
        "-A -t 10.0.0.100:80 -s rr",
        "-a -t 10.0.0.100:80 -r 10.0.0.11:80 -g -w 259 -x 0 -y 0",
        "-A -t 10.0.0.101:80 -s rr #owner=p%2Fother",
        "-a -t 10.0.0.100:80 -r 10.0.0.11:80 -g -w 7 -x 0 -y 0",
      ],
      "the other writer's record kept; then this change",
    );
  });

  it("in a batch, a refused mutation is cancelled in the ledger and gets its own error; the others take effect", async () => {
    const { client: batched, trips } = counted();
    await batched.apply(serviceChange("add", svc));
    await batched.apply(realServerChange("add", svc.key, rs("10.0.0.20"), "p/s/kept"));
    // .66 is refused by the stand-in; .20 exists already; .21 is deleted but does not exist
    const results = await Promise.allSettled([
      batched.apply(realServerChange("add", svc.key, rs("10.0.0.11"), "p/s/a")),
      batched.apply(realServerChange("add", svc.key, rs("10.0.0.66"), "p/s/b")),
      batched.apply(realServerChange("add", svc.key, rs("10.0.0.20"), "p/s/intruder")),
      batched.apply(realServerChange("delete", svc.key, rs("10.0.0.21"))),
      batched.apply(realServerChange("add", svc.key, rs("10.0.0.12"), "p/s/c")),
    ]);
    // one pass; ipvsadm -R complained, so one read of the table; one round trip for the three that
    // did not take effect; and the missing one's ledger entry is forgotten (as for any delete of an
    // object already gone)
    assert.equal(trips(), 6);
    assert.deepEqual(
      results.map((r) => r.status),
      ["fulfilled", "rejected", "rejected", "rejected", "fulfilled"],
    );
    const reasons = results.map((r) => (r.status === "rejected" ? (r.reason as Error) : undefined));
    assert.ok(reasons[1] instanceof IpvsAlreadyExistsError);
    assert.match(reasons[1]!.message, /ipvsadm -a -t 10\.0\.0\.100:80 -r 10\.0\.0\.66:80/);
    assert.ok(reasons[2] instanceof IpvsAlreadyExistsError);
    assert.ok(reasons[3] instanceof IpvsNotFoundError);
    assert.deepEqual(
      lines(),
      [
        "-A -t 10.0.0.100:80 -s rr",
        "-a -t 10.0.0.100:80 -r 10.0.0.11:80 -g -w 1 -x 0 -y 0 #owner=p%2Fs%2Fa",
        "-a -t 10.0.0.100:80 -r 10.0.0.12:80 -g -w 1 -x 0 -y 0 #owner=p%2Fs%2Fc",
        "-a -t 10.0.0.100:80 -r 10.0.0.20:80 -g -w 1 -x 0 -y 0 #owner=p%2Fs%2Fkept",
      ],
      "the refused ones left the ledger as it was: .20 still belongs to its owner",
    );
  });

  it("a batch reads only the services it touches, not the whole table", async () => {
    const { client: batched } = counted();
    const services = [80, 81, 82, 83, 84].map((port) => ({ ...svc, key: { ...svc.key, port } }));
    for (const s of services) await batched.apply(serviceChange("add", s));
    for (const s of services) await batched.apply(realServerChange("add", s.key, rs("10.0.0.11")));
    fs.rmSync(path.join(dir, "reads"), { force: true });
    // two real servers of one of the five services, and a service removed
    await Promise.all([
      batched.apply(realServerChange("add", services[2]!.key, rs("10.0.0.12"))),
      batched.apply(realServerChange("edit", services[2]!.key, rs("10.0.0.11", 4))),
      batched.apply(serviceChange("delete", services[4]!.key)),
    ]);
    assert.deepEqual(fs.readFileSync(path.join(dir, "reads"), "utf8").trim().split("\n"), [
      "-d -t 10.0.0.100:84",
      "-L -n -t 10.0.0.100:82",
    ]);
    assert.equal(kernel().length, 4 + 4 + 1, "four services left, each with its real server, and the one added");
  });

  it("in a batch of service adds, one that existed already is told from those it made", async () => {
    const { client: batched, trips } = counted();
    const [a, b, c] = [80, 81, 82].map((port) => ({ ...svc, key: { ...svc.key, port } }));
    // b made by hand, with a real server, before the batch
    fs.writeFileSync(
      path.join(dir, "kernel"),
      "-A -t 10.0.0.100:81 -s wlc\n-a -t 10.0.0.100:81 -r 10.0.0.9:80 -g -w 1\n",
    );
    const results = await Promise.allSettled(
      [a!, b!, c!].map((s) => batched.apply(serviceChange("add", s, `p/s/${s.key.port}`))),
    );
    assert.deepEqual(
      results.map((r) => r.status),
      ["fulfilled", "rejected", "fulfilled"],
    );
    const refusal = (results[1] as PromiseRejectedResult).reason as Error;
    assert.ok(refusal instanceof IpvsAlreadyExistsError, String(refusal));
    assert.match(refusal.message, /ipvsadm -A -t 10\.0\.0\.100:81 -s rr/, "with its own command");
    // the pass; the services read again; the refused one on its own
    assert.equal(trips(), 3);
    assert.deepEqual(
      lines(),
      ["-A -t 10.0.0.100:80 -s rr #owner=p%2Fs%2F80", "-A -t 10.0.0.100:82 -s rr #owner=p%2Fs%2F82"],
      "the ledger claims the two it made, not the one made by hand",
    );
  });

  it("keeps an IPv4 fwmark service's ledger line apart from the IPv6 one with the same mark", async () => {
    const v4: VirtualServiceConfig = { ...svc, key: { fwmark: 8, family: "ipv4" } };
    const v6: VirtualServiceConfig = { ...svc, key: { fwmark: 8, family: "ipv6" } };
    await client.apply(serviceChange("add", v6, "p/s/v6"));
    await client.apply(serviceChange("add", v4, "p/s/v4"));
    await client.apply(serviceChange("edit", { ...v4, scheduler: "wlc" }, "p/s/v4"));
    assert.deepEqual(lines(), ["-A -f 8 -6 -s rr #owner=p%2Fs%2Fv6", "-A -f 8 -s wlc #owner=p%2Fs%2Fv4"]);
    await client.apply(serviceChange("delete", v4.key));
    assert.deepEqual(lines(), ["-A -f 8 -6 -s rr #owner=p%2Fs%2Fv6"]);
  });

  it("records each entry's owner, and snapshot reads it back", async () => {
    await client.apply(serviceChange("add", svc, "shop/prod/web vip"));
    await client.apply(realServerChange("add", svc.key, rs("10.0.0.11"), "shop/prod/web-rs1"));
    await client.apply(realServerChange("add", svc.key, rs("10.0.0.12")));
    assert.deepEqual(lines(), [
      "-A -t 10.0.0.100:80 -s rr #owner=shop%2Fprod%2Fweb%20vip",
      "-a -t 10.0.0.100:80 -r 10.0.0.11:80 -g -w 1 -x 0 -y 0 #owner=shop%2Fprod%2Fweb-rs1",
      "-a -t 10.0.0.100:80 -r 10.0.0.12:80 -g -w 1 -x 0 -y 0",
    ]);
    const owned = (await client.snapshot()).owned.services[0]!;
    assert.equal(owned.owner, "shop/prod/web vip");
    assert.deepEqual(
      owned.realServers.map((r) => [r.config.address, r.owner]),
      [
        ["10.0.0.11", "shop/prod/web-rs1"],
        ["10.0.0.12", undefined],
      ],
    );
    // an edit keeps one line per object, with the new owner
    await client.apply(realServerChange("edit", svc.key, rs("10.0.0.11", 3), "shop/prod/renamed"));
    assert.equal(lines().filter((l) => l.includes("10.0.0.11")).length, 1);
    assert.match(lines().join("\n"), /-w 3 -x 0 -y 0 #owner=shop%2Fprod%2Frenamed/);
  });

  it("writes the ledger before ipvsadm runs: a round trip cut short leaves the owner recorded", async () => {
    await client.apply(serviceChange("add", svc, "p/s/web"));
    fs.writeFileSync(path.join(dir, "cut"), "");
    await assert.rejects(client.apply(realServerChange("add", svc.key, rs("10.0.0.11"), "p/s/rs1")));
    assert.match(fs.readFileSync(path.join(dir, "calls"), "utf8"), /-a -t 10\.0\.0\.100:80 -r 10\.0\.0\.11:80/);
    const owned = (await client.snapshot()).owned.services[0]!;
    assert.equal(owned.realServers[0]?.owner, "p/s/rs1", "the ledger claims what the kernel may have");
  });

  it("leaves the ledger alone when ipvsadm fails", async () => {
    await client.apply(serviceChange("add", svc));
    await refused(
      "Destination already exists\n",
      realServerChange("add", svc.key, rs("10.0.0.11")),
      IpvsAlreadyExistsError,
    );
    assert.deepEqual(lines(), ["-A -t 10.0.0.100:80 -s rr"]);
  });

  it("forgets a real server that is already gone when deleting it", async () => {
    await client.apply(serviceChange("add", svc));
    await client.apply(realServerChange("add", svc.key, rs("10.0.0.11")));
    await refused("No such destination\n", realServerChange("delete", svc.key, rs("10.0.0.11")), IpvsNotFoundError);
    assert.deepEqual(lines(), ["-A -t 10.0.0.100:80 -s rr"]);
  });

  it("snapshot reads the ledger and, with ip_vs not loaded, an empty table, without running ipvsadm", async () => {
    await client.apply(serviceChange("add", svc));
    await client.apply(realServerChange("add", svc.key, rs("10.0.0.11")));
    const calls = fs.readFileSync(path.join(dir, "calls"), "utf8");
    const snap = await client.snapshot();
    assert.equal(snap.loaded, fs.existsSync("/proc/net/ip_vs"));
    if (!snap.loaded) assert.deepEqual(snap.table, { services: [] });
    assert.equal(snap.owned.services.length, 1);
    assert.equal(snap.owned.services[0]!.realServers[0]!.config.address, "10.0.0.11");
    assert.equal(fs.readFileSync(path.join(dir, "calls"), "utf8"), calls, "reading ran no ipvsadm command");
  });

  it("keeps ledger entries of other services when a service is deleted", async () => {
    const other: VirtualServiceConfig = { ...svc, key: { protocol: "tcp", address: "10.0.0.100", port: 8080 } };
    await client.apply(serviceChange("add", svc));
    await client.apply(serviceChange("add", other));
    await client.apply(realServerChange("add", other.key, rs("10.0.0.11")));
    await client.apply(serviceChange("delete", svc.key));
    assert.deepEqual(
      lines(),
      ["-A -t 10.0.0.100:8080 -s rr", "-a -t 10.0.0.100:8080 -r 10.0.0.11:80 -g -w 1 -x 0 -y 0"].sort(),
    );
  });
});

describe("one-pass batches", () => {
  const key = svc.key;
  const op = (kind: Change["kind"], address?: string, service = key): Change => {
    if (address)
      return kind === "delete"
        ? realServerChange(kind, service, { address, port: 80 })
        : realServerChange(kind, service, rs(address));
    return kind === "delete" ? serviceChange(kind, service) : serviceChange(kind, { ...svc, key: service });
  };
  it("runs in one pass only mutations of distinct objects whose order does not matter", () => {
    const onePassFits = (cs: Array<Change | undefined>) =>
      fits(cs.map((c) => (c ? (ipvsOp(c) as RecordedOp) : undefined)));
    assert.equal(onePassFits([op("add", "10.0.0.11"), op("add", "10.0.0.12")]), true);
    assert.equal(onePassFits([op("add", "10.0.0.11"), op("edit", "10.0.0.11")]), false, "one object twice");
    assert.equal(onePassFits([op("add"), op("add", "10.0.0.11")]), false, "a service and its real server");
    assert.equal(onePassFits([op("add", "10.0.0.11"), op("delete")]), false, "a real server and its service");
    const other = { protocol: "tcp" as const, address: "10.0.0.101", port: 80 };
    assert.equal(onePassFits([op("delete"), op("add", undefined, other)]), true, "two services");
    assert.equal(onePassFits([op("add", "10.0.0.11"), undefined]), false, "a script that is not a mutation");
    assert.equal(
      onePassFits([realServerChange("add", key, rs("10.0.0.11 x"))]),
      false,
      "a word ipvsadm -R would split",
    );
  });
  it("tells which mutations took effect from the services they touch, read before and after", () => {
    const other = { protocol: "tcp" as const, address: "10.0.0.101", port: 80 };
    const third = { protocol: "tcp" as const, address: "10.0.0.102", port: 80 };
    const ops = [
      op("edit", "10.0.0.11"), // weight changed: took effect
      op("edit", "10.0.0.12"), // unchanged: unsure, runs again
      op("delete", "10.0.0.13"), // gone: took effect
      op("add", "10.0.0.14"), // new: took effect
      op("add", "10.0.0.12"), // was there before: refused
      op("delete", "10.0.0.16"), // was never there
      op("add", undefined, other), // the probe found it missing before: took effect
      op("add", undefined, third), // the probe found it there before: refused
    ];
    const touched = touchedServices(ops.map((c) => ipvsOp(c)));
    assert.deepEqual(touched.probed, [other, third]);
    assert.deepEqual(touched.listed, [key]);
    // what ipvsadm -L -n -t 10.0.0.100:80 lists, and what the probes answer
    const listing = (weights: Record<string, number>) =>
      [
        "Prot LocalAddress:Port Scheduler Flags",
        "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
        "TCP  10.0.0.100:80 rr",
        ...Object.entries(weights).map(([a, w]) => `  -> ${a}:80              Route   ${w}      3          7`),
        "Timeout (tcp tcpfin udp): 900 120 300",
      ].join("\n");
    const stderr = (...answers: string[]) => ["#pulumi-lvs:fast errors", ...answers, ""].join("\n");
    const before = parseTouched(
      touched,
      listing({ "10.0.0.11": 1, "10.0.0.12": 1, "10.0.0.13": 1 }),
      stderr("Service not defined", "No such destination", "Destination already exists"),
    );
    assert.deepEqual(before.complaints, ["Destination already exists"]);
    const after = parseTouched(
      touched,
      listing({ "10.0.0.11": 5, "10.0.0.12": 1, "10.0.0.14": 1, "10.0.0.15": 1 }),
      stderr("No such destination", "No such destination"),
    );
    assert.deepEqual(tookEffect(ops, before, after), [
      "applied",
      "refused",
      "applied",
      "applied",
      "refused",
      "refused",
      "applied",
      "refused",
    ]);
    // a probe that answered neither way: whether its service was there is unknown
    const unsure = parseTouched(touched, listing({}), stderr("Memory allocation problem", "No such destination"));
    assert.deepEqual(tookEffect(ops, unsure, after).slice(6), ["unknown", "refused"]);
  });
  it("reads the script's output: the services before, whether ipvsadm -R got to its rules, its complaints", () => {
    const touched = touchedServices([ipvsOp(op("add", "10.0.0.11")), ipvsOp(op("add", "10.0.0.12"))]);
    const stdout = [
      "#pulumi-lvs:fast recorded",
      "Prot LocalAddress:Port Scheduler Flags",
      "TCP  10.0.0.100:80 rr",
      "Timeout (tcp tcpfin udp): 900 120 300",
      "#pulumi-lvs:fast rc 0",
    ].join("\n");
    const out = parseOnePass(touched, stdout, "#pulumi-lvs:fast errors\nDestination already exists\n");
    assert.equal(out.recorded, true);
    assert.equal(out.before.reached, true);
    assert.equal(out.clean, false, "ipvsadm -R exits 0 even when a line fails: its complaint counts");
    assert.deepEqual([...out.before.seen.keys()], ["tcp/10.0.0.100:80"]);
    assert.equal(parseOnePass(touched, stdout, "#pulumi-lvs:fast errors\n").clean, true);
    assert.equal(
      parseOnePass(touched, stdout, "sudo: unable to resolve host director\n#pulumi-lvs:fast errors\n").clean,
      true,
      "what the shell said before ipvsadm ran is not ipvsadm's complaint",
    );
    const notFound = parseOnePass(
      touched,
      "#pulumi-lvs:fast recorded\n#pulumi-lvs:fast rc 127",
      "#pulumi-lvs:fast errors\nsh: ipvsadm: not found",
    );
    assert.deepEqual([notFound.recorded, notFound.before.reached, notFound.clean], [true, false, false]);
    // a listed service is missing: ipvsadm stopped at its listing, before the timeouts' line and any rule
    const missing = parseOnePass(
      touched,
      "#pulumi-lvs:fast recorded\n#pulumi-lvs:fast rc 1",
      "#pulumi-lvs:fast errors\nNo such service",
    );
    assert.deepEqual([missing.before.reached, missing.clean], [false, false]);
    assert.equal(parseOnePass(touched, "", "sh: can't create /var/lib/pulumi-lvs/ipvs.rules").recorded, false);
  });
  it("reads and saves only the services its mutations touch: it probes those it changes, lists those whose real servers it changes", () => {
    const others = [101, 102, 103].map((n) => ({ protocol: "tcp" as const, address: `10.0.0.${n}`, port: 80 }));
    const script = onePassScript("/l", [
      ipvsOp(op("add", "10.0.0.11")) as RecordedOp,
      ipvsOp(op("delete", "10.0.0.12")) as RecordedOp,
      ipvsOp(op("add", undefined, others[0])) as RecordedOp,
      ipvsOp(op("delete", undefined, others[1])) as RecordedOp,
    ]);
    const input = script.slice(script.indexOf("<<'PULUMI_LVS_RULES'\n") + 21, script.lastIndexOf("\nPULUMI_LVS_RULES"));
    assert.deepEqual(input.split("\n"), [
      "-d -t 10.0.0.101:80 -r 0.0.0.0:0",
      "-d -t 10.0.0.102:80 -r 0.0.0.0:0",
      "-L -n -t 10.0.0.100:80",
      "-L -n --timeout",
      "-a -t 10.0.0.100:80 -r 10.0.0.11:80 -g -w 1 -x 0 -y 0",
      "-d -t 10.0.0.100:80 -r 10.0.0.12:80",
      "-A -t 10.0.0.101:80 -s rr",
      "-D -t 10.0.0.102:80",
    ]);
    assert.deepEqual(
      readScript(touchedServices([ipvsOp(op("add", undefined, others[2]))]))
        .split("\n")
        .slice(2, -1),
      ["-d -t 10.0.0.103:80 -r 0.0.0.0:0", "-L -n --timeout"],
    );
    const v6 = touchedServices([ipvsOp(serviceChange("delete", { fwmark: 8, family: "ipv6" }))]);
    assert.match(readScript(v6), /^-d -f 8 -6 -r \[::\]:0$/m);
  });
});

describe("a batch of scripts in one round trip", () => {
  it("gives each script its output and exit status, and none to those the shell never finished (run by a real shell)", () => {
    const scripts = ["echo one", "echo two >&2; false", "echo three; exit 3", "echo never"];
    let out = "";
    try {
      out = execFileSync("sh", ["-c", batchScript(scripts)], { encoding: "utf8" });
    } catch (e) {
      out = (e as { stdout: string }).stdout;
    }
    assert.deepEqual(parseBatch(out, scripts.length), [
      { code: 0, output: "one" },
      { code: 1, output: "two" },
      undefined,
      undefined,
    ]);
  });
});

describe("a snapshot of some services (captured listings)", () => {
  const fixture = (f: string) =>
    fs.readFileSync(path.join(__dirname, "../../../test/unit/fixtures/ipvsadm", f), "utf8");
  /**
   * `service`'s part of a listing of the whole table, as ipvsadm lists that service alone
   * (list-one.txt): the column headings without the version line, its line and its real servers.
   */
  const block = (text: string, service: string) => {
    const lines = text.split("\n");
    const start = lines.findIndex((l) => l.startsWith(service));
    const end = lines.findIndex((l, i) => i > start && !l.startsWith("  ->"));
    return [...lines.slice(1, 3), ...lines.slice(start, end)].join("\n");
  };
  const web = { protocol: "tcp" as const, address: "192.0.2.1", port: 80 };
  const gone = { protocol: "tcp" as const, address: "192.0.2.99", port: 80 };
  const stdout = [
    "#pulumi-lvs:section service -t 192.0.2.1:80",
    block(fixture("tun-info.txt"), "TCP  192.0.2.1:80 "),
    block(fixture("thresholds.txt"), "TCP  192.0.2.1:80 "),
    "#pulumi-lvs:section service -t 192.0.2.99:80",
    "#pulumi-lvs:section ledger",
    "-A -t 192.0.2.1:80 -s rr #owner=p%2Fs%2Fweb",
    "-A -t 192.0.2.7:80 -s ovf",
    "",
  ].join("\n");

  it("lists those services alone (ipvsadm -L with tunnel info and thresholds), read as ipvsadm -S saves them, with the ledger's part", async () => {
    const t = new CannedTransport({ code: 0, stdout, stderr: "" });
    const snap = await new IpvsadmClient(t).snapshot({ services: [web, gone] });
    const whole = parseRules(fixture("save.txt"));
    mergeThresholds(whole, parseThresholds(fixture("thresholds.txt")));
    assert.deepEqual(snap.table, scopedSnapshot({ table: whole, owned: whole, loaded: true }, [web]).table);
    assert.deepEqual(
      snap.owned.services.map((s) => [serviceKeyText(s.config.key), s.owner]),
      [["tcp/192.0.2.1:80", "p/s/web"]],
      "the ledger's part for those services",
    );
    assert.equal(t.commands.length, 1);
    assert.match(t.commands[0]!, /'-t 192\.0\.2\.1:80' '-t 192\.0\.2\.99:80'/);
    assert.doesNotMatch(t.commands[0]!, /-S -n/, "not the whole table");
  });

  it("a whole snapshot still shared serves it without a read", async () => {
    const t = new CannedTransport({
      code: 0,
      stdout: `${fixture("save.txt")}\n#pulumi-lvs:section ledger\n`,
      stderr: "",
    });
    const c = new IpvsadmClient(t);
    const whole = await c.snapshot();
    const scoped = await c.snapshot({ services: [web] });
    assert.equal(t.commands.length, 1, "one read");
    assert.deepEqual(
      scoped.table.services,
      whole.table.services.filter((s) => serviceKeyText(s.config.key) === "tcp/192.0.2.1:80"),
    );
  });
});
