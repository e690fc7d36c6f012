import fc from "fast-check";
import { resourceProvider } from "../../../provider";
import { findRealServerEntry, findService } from "../../../provider/ipvs/types";
import { resetClaims } from "../../../provider/resources/check";
import { ipvsClientFor } from "../../../provider/resources/clients";
import { closeAll } from "../../../provider/transport/pool";
import { labConnection, labPrivateKey } from "../harness/lab";

/** A string field that could reach a shell: which resource, where in its inputs, and its valid inputs around it. */
interface Field {
  kind: "VirtualService" | "RealServer" | "Director" | "RealServerHost";
  path: Array<string | number>;
  /** For the fields pulumi-lvs records (owners): where to read the value back from the director. */
  readBack?: "service-owner" | "real-server-owner";
}

const svcKey = { protocol: "tcp", address: "10.0.0.100", port: 8088 };

function baseInputs(kind: Field["kind"]): Record<string, unknown> {
  const connection = { ...labConnection("director"), privateKey: labPrivateKey() };
  switch (kind) {
    case "VirtualService":
      return { connection, ...svcKey, port: 8089, scheduler: "rr", owner: "fuzz/lab/svc" };
    case "RealServer":
      return { connection, service: { ...svcKey }, address: "10.0.0.11", forwarding: "dr", owner: "fuzz/lab/rs" };
    case "Director":
      return {
        connection,
        vips: [{ address: "10.0.0.150", interface: "eth0" }],
        modules: ["ip_vs"],
        sysctls: { "net.ipv4.conf.eth0.send_redirects": 0 },
        ipvsSysctls: { expire_nodest_conn: 1 },
        persist: false,
      };
    case "RealServerHost":
      return {
        connection: { ...labConnection("rs2"), privateKey: labPrivateKey() },
        mode: "dr",
        vips: ["10.0.0.150"],
        interface: "eth0",
        persist: false,
      };
  }
}

/**
 * Every user-settable string that ends up in a command line on a host (ipvsadm arguments, ip and
 * sysctl commands, files written by a shell, the ledger), plus the connection's user and host.
 */
const FIELDS: Field[] = [
  { kind: "VirtualService", path: ["protocol"] },
  { kind: "VirtualService", path: ["address"] },
  { kind: "VirtualService", path: ["scheduler"] },
  { kind: "VirtualService", path: ["schedulerFlags", 0] },
  { kind: "VirtualService", path: ["pe"] },
  { kind: "VirtualService", path: ["persistence", "netmask"] },
  { kind: "VirtualService", path: ["family"] },
  { kind: "VirtualService", path: ["owner"], readBack: "service-owner" },
  { kind: "VirtualService", path: ["connection", "user"] },
  { kind: "VirtualService", path: ["connection", "host"] },
  { kind: "RealServer", path: ["address"] },
  { kind: "RealServer", path: ["forwarding"] },
  { kind: "RealServer", path: ["tunnel", "type"] },
  { kind: "RealServer", path: ["tunnel", "checksum"] },
  { kind: "RealServer", path: ["service", "address"] },
  { kind: "RealServer", path: ["owner"], readBack: "real-server-owner" },
  { kind: "Director", path: ["vips", 0, "address"] },
  { kind: "Director", path: ["vips", 0, "interface"] },
  { kind: "Director", path: ["modules", 0] },
  { kind: "Director", path: ["sysctls", "net.ipv4.conf.eth0.send_redirects"] },
  { kind: "Director", path: ["ipvsSysctls", "expire_nodest_conn"] },
  { kind: "RealServerHost", path: ["interface"] },
  { kind: "RealServerHost", path: ["vips", 0] },
  { kind: "RealServerHost", path: ["mode"] },
];

/** A sysctl *name* is a key, not a value: fuzzed separately. */
const SYSCTL_NAME_FIELD: Field = { kind: "Director", path: ["sysctls"] };

function payloads(canary: string): string[] {
  return [
    `$(touch ${canary})`,
    `\`touch ${canary}\``,
    `;touch ${canary};`,
    `'; touch ${canary}; '`,
    `"; touch ${canary}; "`,
    `\ntouch ${canary}\n`,
    `|touch ${canary}`,
    `&& touch ${canary} #`,
    `$(IFS=_;c=touch_${canary};$c)`,
    `\\'$(touch ${canary})\\'`,
    `%27%3Btouch%20${canary}`,
    `>${canary}`,
  ];
}

function setAt(o: Record<string, unknown>, path: Array<string | number>, v: unknown): Record<string, unknown> {
  const out = structuredClone(o);
  let cur: any = out;
  for (let i = 0; i < path.length - 1; i++) {
    const k = path[i]!;
    cur[k] ??= typeof path[i + 1] === "number" ? [] : {};
    cur = cur[k];
  }
  cur[path[path.length - 1]!] = v;
  return out;
}

export interface FuzzResult {
  tried: number;
  rejected: number;
  accepted: number;
  /** Accepted values that did not come back literally, or whose create failed. */
  problems: string[];
}

/**
 * Property test: for random fields and hostile values (shell metacharacters around a payload that
 * would create `canary`), check either rejects the value, or create applies it on a lab host, where
 * it must come back exactly as given; then delete. The caller looks for the canary on every host.
 */
export async function injectionFuzz(canary: string, numRuns = 100): Promise<FuzzResult> {
  const r: FuzzResult = { tried: 0, rejected: 0, accepted: 0, problems: [] };
  const vs = resourceProvider("VirtualService");
  // the service the fuzzed real servers belong to
  const base = (await vs.check!({}, { ...baseInputs("VirtualService"), port: svcKey.port, owner: "fuzz/lab/base" }))
    .inputs;
  const created = await vs.create!(base);
  // the fields pulumi-lvs accepts free text in (owners) are drawn as often as all the others together
  const free = FIELDS.filter((f) => f.readBack);
  const fieldChoice = fc.oneof(
    { arbitrary: fc.constantFrom(...FIELDS.filter((f) => !f.readBack), SYSCTL_NAME_FIELD), weight: 1 },
    { arbitrary: fc.constantFrom(...free), weight: 1 },
  );
  const hostile = fc
    .tuple(fc.string({ maxLength: 6 }), fc.constantFrom(...payloads(canary)), fc.string({ maxLength: 6 }))
    .map(([a, p, b]) => `${a}${p}${b}`);
  try {
    await fc.assert(
      fc.asyncProperty(fieldChoice, hostile, async (field, value) => {
        r.tried++;
        const p = resourceProvider(field.kind);
        const inputs =
          field === SYSCTL_NAME_FIELD
            ? { ...baseInputs("Director"), sysctls: { [`net.ipv4.${value}`]: 1 } }
            : setAt(baseInputs(field.kind), field.path, value);
        resetClaims(); // each case is a deployment of its own (one resource declaring the object)
        const checked = await p.check!({}, inputs);
        if ((checked.failures?.length ?? 0) > 0) {
          r.rejected++;
          return;
        }
        r.accepted++;
        const where = `${field.kind}.${field.path.join(".")} = ${JSON.stringify(value)}`;
        let made: { id: string; outs?: any } | undefined;
        try {
          made = await p.create!(checked.inputs);
          if (field.readBack) {
            const c = checked.inputs.connection;
            const snap = await ipvsClientFor(c).snapshot();
            const owner =
              field.readBack === "service-owner"
                ? findService(snap.owned, { protocol: "tcp", address: "10.0.0.100", port: 8089 })?.owner
                : findRealServerEntry(findService(snap.owned, svcKey as never) ?? { realServers: [] }, {
                    address: "10.0.0.11",
                    port: svcKey.port,
                  })?.owner;
            if (owner !== value) r.problems.push(`${where}: read back as ${JSON.stringify(owner)}`);
          }
        } catch (e) {
          r.problems.push(`${where}: create failed: ${(e as Error).message}`);
        } finally {
          if (made) await p.delete!(made.id, made.outs ?? checked.inputs);
        }
      }),
      { numRuns, seed: 6 },
    );
  } finally {
    await vs.delete!(created.id, created.outs ?? base);
    closeAll();
  }
  return r;
}
