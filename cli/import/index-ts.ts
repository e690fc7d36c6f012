/**
 * The index.ts of a generated program: a connection per host, then one `new lvs.Kind(…)` per
 * resource with the arguments its plan decided, each with `adopt: "exact"`. A director pair's
 * resources are written once, in a loop over both directors: what the two have alike as it is,
 * what differs as `node === "lb1" ? … : …`, and what only one has in an `if (node === …)`.
 */
import { parseRealServerKey } from "../../provider/model/virtual-service";
import { canonicalAddress, isAddress } from "../../provider/net/address";
import { Code, code, literal, templateText } from "./literal";
import { KINDS, type Kind, ordered } from "./minimal";
import { type Identifiers, type Plan, type PlannedHost, type PlannedResource, PRIVATE_KEY, sourceText } from "./plan";

/** How every generated resource takes over what is there (the provider's take-over mode). */
export const ADOPT = "exact";

/** The outputs a program exports: per kind, a map from resource name to one output of each. */
export const OUTPUTS: Partial<Record<Kind, { record: string; output: string; doc: string }>> = {
  VirtualService: {
    record: "virtualServices",
    output: "id",
    doc: "Each VirtualService's id (director/protocol/address:port), by resource name.",
  },
  VrrpInstance: {
    record: "vrrpRoles",
    output: "role",
    doc: "Each VrrpInstance's role as keepalived last reported it (MASTER, BACKUP …), by resource name.",
  },
};

/** The identifier of a director's settings inside the pair's loop. */
const PAIR_DIRECTOR = "director";
/** The loop variables of the pair: the director's host name, and its connection. */
const NODE = "node";
const CONNECTION = "connection";

/** A resource another depends on: its identifier, which inside the pair's loop may be undefined on one director. */
interface Dep {
  ident: string;
  optional: boolean;
}

const secret = (key: string) => code(`config.requireSecret(${JSON.stringify(key)})`);

/** A resource's arguments as written, without the connection and adopt: its plan's, and its secret. */
function ownArgs(p: PlannedResource): Record<string, unknown> {
  const r = p.resource;
  const args: Record<string, unknown> = { ...p.args };
  if (r.kind === "VrrpInstance" && r.authPassKey !== undefined) args.authPass = secret(r.authPassKey);
  return {
    ...(ordered(args, KINDS[r.kind].inputs) as Record<string, unknown>),
    ...(KINDS[r.kind].adopts ? { adopt: ADOPT } : {}),
  };
}

const withConnection = (connection: Code, args: Record<string, unknown>) => ({
  connection,
  ...args,
});

/** A pair's resource: alike fields as they are, the others as a conditional on the director. */
function pairArgs(a: PlannedResource, b: PlannedResource, nodeA: string): Record<string, unknown> {
  const [argsA, argsB] = [ownArgs(a), ownArgs(b)];
  const keys = Object.keys(ordered({ ...argsB, ...argsA }, KINDS[a.resource.kind].inputs) as object);
  const merged = keys.map((k) => {
    const [va, vb] = [argsA[k], argsB[k]];
    if (literal(va) === literal(vb)) return [k, va];
    const test = `${NODE} === ${JSON.stringify(nodeA)} ? `;
    return [
      k,
      new Code(
        (indent) =>
          `${test}${literal(va, indent, indent.length + k.length + test.length + 2)} : ${literal(vb, indent, indent.length + 40)}`,
      ),
    ];
  });
  return withConnection(code(CONNECTION), Object.fromEntries(merged));
}

function dependsOn(deps: Dep[]): string {
  if (deps.length === 0) return "";
  const items = deps.map((d) => (d.optional ? `...(${d.ident} ? [${d.ident}] : [])` : d.ident));
  return `, { dependsOn: [${items.join(", ")}] }`;
}

/** One `new lvs.Kind(name, args, opts)` statement, with the source it was read from above it. */
function statement(o: {
  indent: string;
  kind: Kind;
  /** The name, as an expression. */
  name: string;
  args: Record<string, unknown>;
  deps: Dep[];
  /** Before the expression (`const x = `), if anything; else the stack output it gives, if its kind gives one. */
  lhs?: string;
  /** After the expression, before the semicolon (the other branch of a conditional). */
  tail?: string;
  comment: string;
}): string[] {
  const out = OUTPUTS[o.kind];
  const lhs = o.lhs ?? (out ? `${out.record}[${o.name}] = ` : "");
  const head = `${o.indent}${lhs}new lvs.${o.kind}(${o.name}, `;
  const args = literal(o.args, o.indent, head.length);
  const get = o.lhs === undefined && out ? `.${out.output}` : "";
  return [`${o.indent}// read from ${o.comment}`, `${head}${args}${dependsOn(o.deps)})${get}${o.tail ?? ""};`];
}

/** Whether a text is an address (filter's index must not reach isAddress's options). */
const isAddressText = (s: string) => isAddress(s);

/** The addresses a real-server host answers as a real server: its `addresses`, and its SSH host when that is an address. */
function realServerAddresses(p: PlannedResource, host: PlannedHost): string[] {
  const listed = (p.resource.args as { addresses?: string[] }).addresses ?? [];
  const own = isAddressText(host.host.host) ? [host.host.host] : [];
  return [...listed, ...own].filter(isAddressText).map(canonicalAddress);
}

/** The addresses of a virtual service's inline real servers. */
function inlineAddresses(p: PlannedResource): string[] {
  const table = (p.resource.args as { realServers?: Record<string, unknown> }).realServers ?? {};
  return Object.keys(table).flatMap((k) => {
    const key = parseRealServerKey(k);
    return typeof key === "string" ? [] : [key.address];
  });
}

/** The program's index.ts. `ids` holds the hosts' identifiers already (the plan took them). */
export function indexTs(plan: Plan, ids: Identifiers): string {
  const pairNames = new Set(plan.pair?.map((h) => h.host.name) ?? []);
  const hostOf = new Map(plan.hosts.map((h) => [h.host.name, h]));
  const inPair = (p: PlannedResource) => pairNames.has(p.resource.host);
  const ofKind = (k: Kind) => plan.resources.filter((p) => p.resource.kind === k);

  // real-server hosts outside the pair, by the addresses they serve: a virtual service depends on
  // those of its real servers (made after them; on destroy, removed before their VIPs go)
  const servers = new Map<string, PlannedResource>();
  for (const p of ofKind("RealServerHost").filter((x) => !inPair(x)))
    for (const a of realServerAddresses(p, hostOf.get(p.resource.host)!)) if (!servers.has(a)) servers.set(a, p);
  const serversOf = (p: PlannedResource): PlannedResource[] =>
    p.resource.kind !== "VirtualService"
      ? []
      : [...new Set(inlineAddresses(p).flatMap((a) => (servers.has(a) ? [servers.get(a)!] : [])))].sort(
          (a, b) => plan.resources.indexOf(a) - plan.resources.indexOf(b),
        );
  const bound = new Map<PlannedResource, string>();
  for (const p of plan.resources)
    for (const s of serversOf(p))
      if (!bound.has(s)) bound.set(s, ids.take(`${hostOf.get(s.resource.host)!.ident} host`));
  const serverDeps = (p: PlannedResource): Dep[] =>
    serversOf(p).map((s) => ({ ident: bound.get(s)!, optional: false }));
  const needsDirector = (h: PlannedHost) =>
    h.resources.some((p) => p.resource.kind === "VirtualService" || p.resource.kind === "VrrpInstance");

  const lines: string[] = [
    "// Generated by `pulumi-lvs import`: what the hosts had when they were read. IMPORT.md says what was",
    "// read from where, what was left out, and how to take the hosts over with this program.",
    "//",
    `// Every resource takes the live object over with adopt: "${ADOPT}": only if it already is exactly as`,
    "// declared; otherwise the first `pulumi up` fails, naming each difference, and changes nothing.",
    'import * as pulumi from "@pulumi/pulumi";',
    'import * as lvs from "pulumi-lvs";',
    "",
    "const config = new pulumi.Config();",
    `// The SSH private key every host is reached with (see IMPORT.md)`,
    `const privateKey = config.requireSecret(${JSON.stringify(PRIVATE_KEY)});`,
    "",
    "// The hosts as the import reached them, each with the host key it verified",
  ];
  for (const h of plan.hosts) {
    const c = h.host;
    const connection = {
      host: c.host,
      port: c.port,
      user: c.user,
      hostKey: c.hostKey,
      sudo: c.sudo ? true : undefined,
      privateKey: code("privateKey"),
    };
    const head = `const ${h.ident}: lvs.SshConnectionArgs = `;
    lines.push(`${head}${literal(connection, "", head.length)};`);
  }
  for (const [kind, out] of Object.entries(OUTPUTS)) {
    if (!plan.resources.some((p) => p.resource.kind === kind)) continue;
    lines.push("", `/** ${out.doc} */`, `export const ${out.record}: Record<string, pulumi.Output<string>> = {};`);
  }

  const serversOutside = ofKind("RealServerHost").filter((p) => !inPair(p));
  if (serversOutside.length > 0) lines.push("", "// The real servers' hosts");
  for (const p of serversOutside) {
    const h = hostOf.get(p.resource.host)!;
    const bind = bound.get(p);
    lines.push(
      ...statement({
        indent: "",
        kind: "RealServerHost",
        name: JSON.stringify(p.name),
        args: withConnection(code(h.ident), ownArgs(p)),
        deps: [],
        lhs: bind === undefined ? undefined : `const ${bind} = `,
        comment: sourceText(p.resource.source),
      }),
    );
  }

  for (const h of plan.hosts.filter((x) => !pairNames.has(x.host.name))) {
    const own = h.resources.filter((p) => p.resource.kind !== "RealServerHost");
    if (own.length === 0) continue;
    lines.push("", `// ${h.host.name}`);
    let director: Dep | undefined;
    for (const p of own) {
      const isDirector = p.resource.kind === "Director";
      const bind = isDirector && needsDirector(h) ? ids.take(`${h.ident} director`) : undefined;
      lines.push(
        ...statement({
          indent: "",
          kind: p.resource.kind,
          name: JSON.stringify(p.name),
          args: withConnection(code(h.ident), ownArgs(p)),
          deps: isDirector ? [] : [...(director ? [director] : []), ...serverDeps(p)],
          lhs: bind === undefined ? undefined : `const ${bind} = `,
          comment: sourceText(p.resource.source),
        }),
      );
      if (bind !== undefined) director = { ident: bind, optional: false };
    }
  }

  if (plan.pair) lines.push("", ...pairLoop(plan.pair, serverDeps, needsDirector));
  return `${lines.join("\n")}\n`;
}

/**
 * The director pair's loop: the resources both directors have (by kind and name), written once;
 * then, per director, those only it has.
 */
function pairLoop(
  [a, b]: [PlannedHost, PlannedHost],
  serverDeps: (p: PlannedResource) => Dep[],
  needsDirector: (h: PlannedHost) => boolean,
): string[] {
  const indent = "  ";
  const keyOf = (p: PlannedResource) => JSON.stringify([p.resource.kind, p.resource.name]);
  const inB = new Map(b.resources.map((p) => [keyOf(p), p]));
  const alike = a.resources.filter((p) => inB.has(keyOf(p)));
  const alikeKeys = new Set(alike.map(keyOf));
  const only = [a, b].map((h) => ({ h, rs: h.resources.filter((p) => !alikeKeys.has(keyOf(p))) }));
  const hasDirector = needsDirector(a) || needsDirector(b);

  const nodes = Object.fromEntries([a, b].map((h) => [h.host.name, code(h.ident)]));
  const out = [
    `// The director pair ${a.host.name} and ${b.host.name}: what both have is written once, what differs as`,
    `// ${NODE} === ${JSON.stringify(a.host.name)} ? (${a.host.name}'s) : (${b.host.name}'s), and what one has alone under if (${NODE} === …)`,
    `for (const [${NODE}, ${CONNECTION}] of Object.entries(${literal(nodes)})) {`,
  ];
  let director: Dep | undefined;
  const soloDirector = only.find((o) => o.rs.some((p) => p.resource.kind === "Director"));
  if (hasDirector && soloDirector) {
    // one director has settings, the other none: the other's resources depend on nothing
    const p = soloDirector.rs.find((x) => x.resource.kind === "Director")!;
    soloDirector.rs = soloDirector.rs.filter((x) => x !== p);
    out.push(
      ...statement({
        indent,
        kind: "Director",
        name: JSON.stringify(p.name),
        args: withConnection(code(CONNECTION), ownArgs(p)),
        deps: [],
        lhs: `const ${PAIR_DIRECTOR} = ${NODE} === ${JSON.stringify(soloDirector.h.host.name)} ? `,
        tail: " : undefined",
        comment: sourceText(p.resource.source),
      }),
    );
    director = { ident: PAIR_DIRECTOR, optional: true };
  }
  const depsOf = (p: PlannedResource) =>
    p.resource.kind === "Director" ? [] : [...(director ? [director] : []), ...serverDeps(p)];
  for (const p of alike) {
    const q = inB.get(keyOf(p))!;
    const isDirector = p.resource.kind === "Director";
    out.push(
      ...statement({
        indent,
        kind: p.resource.kind,
        name: `\`${templateText(p.resource.name)}-\${${NODE}}\``,
        args: pairArgs(p, q, a.host.name),
        deps: depsOf(p),
        lhs: isDirector && hasDirector ? `const ${PAIR_DIRECTOR} = ` : undefined,
        comment: `${sourceText(p.resource.source)} and ${sourceText(q.resource.source)}`,
      }),
    );
    if (isDirector && hasDirector) director = { ident: PAIR_DIRECTOR, optional: false };
  }
  for (const { h, rs } of only) {
    if (rs.length === 0) continue;
    out.push(`${indent}if (${NODE} === ${JSON.stringify(h.host.name)}) {`);
    for (const p of rs) {
      out.push(
        ...statement({
          indent: indent + indent,
          kind: p.resource.kind,
          name: JSON.stringify(p.name),
          args: withConnection(code(CONNECTION), ownArgs(p)),
          deps: depsOf(p),
          comment: sourceText(p.resource.source),
        }),
      );
    }
    out.push(`${indent}}`);
  }
  out.push("}");
  return out;
}
