/**
 * The keepalived.conf reader: the reading half of the importer. It reads a director's keepalived
 * configuration the way keepalived does ({@link parseConf}) and maps it onto pulumi-lvs's inputs:
 * `virtual_server` → VirtualService (engine keepalived, inline real servers), `vrrp_instance` →
 * VrrpInstance. Every statement is either taken over or listed in `unsupported` with its file and
 * line; each mapped object is checked with the provider's own schema, and one the schema rejects is
 * listed with the schema's reasons instead. Pure: files come through {@link ConfFiles}.
 */
import type { z } from "zod";
import type { vrrpInstanceInputs } from "../../model/keepalived";
import { vrrpInstanceInputs as vrrpSchema } from "../../model/keepalived";
import { validate } from "../../model/validate";
import type { virtualServiceInputs } from "../../model/virtual-service";
import { virtualServiceInputs as vsSchema } from "../../model/virtual-service";
import { inSubnet } from "../../net/address";
import { type ConfSecret, type MapContext, type ReadBlock, statementText, unsupported } from "./context";
import type { ConfFiles } from "./files";
import { type ConfNode, type Diagnostic, parseConf } from "./parse";
import { mapVirtualServer } from "./virtual-server";
import { mapGlobalDefs, mapVrrpInstance } from "./vrrp";

export type { ConfSecret } from "./context";
export { type ConfFiles, mapFiles } from "./files";
export type { ConfNode, Diagnostic } from "./parse";

/** One object read from the configuration: where its block starts, its inputs, and whether it is sample data. */
export interface ReadObject<T> {
  file: string;
  line: number;
  /**
   * The line of its block's closing brace, when that is in the same file and no other statement
   * shares a line with the block (so that lines `line`..`end` are the block and nothing else).
   */
  end?: number;
  /** The resource's inputs as a program writes them, without `connection` (the importer adds it). */
  inputs: T;
  /** Its addresses are those of keepalived's packaged sample configuration (keepalived.conf.sample). */
  sample?: true;
}

/** VirtualService inputs, without the connection. */
export type ReadVirtualServiceInputs = Omit<z.input<typeof virtualServiceInputs>, "connection">;
/** VrrpInstance inputs, without the connection and the password (see `secrets`). */
export type ReadVrrpInstanceInputs = Omit<z.input<typeof vrrpInstanceInputs>, "connection" | "authPass">;

/** What the reader made of a keepalived configuration. */
export interface KeepalivedConf {
  virtualServices: ReadObject<ReadVirtualServiceInputs>[];
  vrrpInstances: ReadObject<ReadVrrpInstanceInputs>[];
  /** What pulumi-lvs cannot represent, with file and line: never dropped silently. */
  unsupported: Diagnostic[];
  /** Includes that matched nothing, sample data, settings keepalived ignores. */
  warnings: Diagnostic[];
  /** Passwords (VRRP auth_pass), kept out of inputs and messages. */
  secrets: ConfSecret[];
  /** The statements read, and those taken over or listed (all of them, unless the reader has a gap). */
  nodes: ConfNode[];
  accounted: ReadonlySet<ConfNode>;
  files: string[];
}

/**
 * The networks of keepalived's packaged sample configuration (keepalived.conf.sample, which
 * Debian installs as the default): services and VIPs there are almost surely left-over examples.
 */
export const SAMPLE_NETWORKS = ["192.168.200.0/24", "192.168.201.0/24", "10.10.10.0/24"] as const;

/** Top-level blocks keepalived has and pulumi-lvs does not, and why. */
const TOP_LEVEL_UNSUPPORTED: Record<string, string> = {
  virtual_server_group: "pulumi-lvs has no virtual server groups: one VirtualService per address and port",
  vrrp_sync_group: "pulumi-lvs has no VRRP sync groups: each VrrpInstance fails over on its own",
  vrrp_script: "pulumi-lvs has no tracked scripts: VRRP priority is fixed",
  static_ipaddress: "pulumi-lvs does not manage static addresses (the Director resource manages VIPs)",
  static_routes: "pulumi-lvs does not manage routes",
  static_rules: "pulumi-lvs does not manage routing rules",
  linkbeat_interfaces: "pulumi-lvs does not manage link beat polling",
  net_namespace: "pulumi-lvs runs keepalived in the host's network namespace",
  bfd_instance: "pulumi-lvs has no BFD",
  garp_group: "pulumi-lvs has no gratuitous ARP groups",
  track_file: "pulumi-lvs has no tracked files",
  track_process: "pulumi-lvs has no tracked processes",
};

/** Placeholder connection to validate with: the schemas require one, the importer supplies the real one. */
export const PLACEHOLDER_CONNECTION = { host: "director.invalid", insecureIgnoreHostKey: true };

/**
 * Reads a keepalived configuration, starting at `main` (such as /etc/keepalived/keepalived.conf),
 * following includes, into pulumi-lvs inputs and the list of what cannot be represented.
 * Never throws on a configuration's content.
 */
export function readKeepalivedConf(files: ConfFiles, main: string): KeepalivedConf {
  const parsed = parseConf(files, main);
  const ctx: MapContext = {
    unsupported: parsed.unsupported,
    warnings: parsed.warnings,
    secrets: [],
    accounted: new Set(),
  };
  for (const n of parsed.nodes.filter((x) => x.keyword === "")) ctx.accounted.add(n);
  const out: KeepalivedConf = {
    virtualServices: [],
    vrrpInstances: [],
    unsupported: ctx.unsupported,
    warnings: ctx.warnings,
    secrets: ctx.secrets,
    nodes: parsed.nodes,
    accounted: ctx.accounted,
    files: parsed.files,
  };
  const instances = new Map<string, ReadBlock & { node: ConfNode }>();
  for (const n of parsed.nodes) {
    if (n.keyword === "virtual_server") {
      const vs = mapVirtualServer(ctx, n);
      if (vs) accept(ctx, out.virtualServices, n, vs.inputs, vs.addresses, checkVirtualService, parsed.nodes);
    } else if (n.keyword === "vrrp_instance") {
      const v = mapVrrpInstance(ctx, n);
      if (v) instances.set(v.inputs.name as string, { ...v, node: n });
    } else if (n.keyword !== "global_defs" && n.keyword !== "") {
      unsupported(ctx, n, TOP_LEVEL_UNSUPPORTED[n.keyword] ?? "unknown or unsupported keyword");
    }
  }
  for (const n of parsed.nodes.filter((x) => x.keyword === "global_defs")) mapGlobalDefs(ctx, n, instances);
  for (const v of instances.values())
    accept(
      ctx,
      out.vrrpInstances,
      v.node,
      v.inputs,
      v.addresses,
      (i) => checkVrrpInstance(i, ctx.secrets),
      parsed.nodes,
    );
  return out;
}

/**
 * The last line of a top-level block, when lines `n.line`..end of its file hold that block alone:
 * its brace closes in the same file, and no other top-level statement starts or ends on its lines.
 */
function blockEnd(n: ConfNode, nodes: readonly ConfNode[]): number | undefined {
  const end = n.end;
  if (!end || end.file !== n.file) return undefined;
  const overlaps = (m: ConfNode) => {
    if (m === n || m.file !== n.file) return false;
    const last = m.end?.file === m.file ? m.end.line : m.line;
    return m.line <= end.line && last >= n.line;
  };
  return nodes.some(overlaps) ? undefined : end.line;
}

/** The schema's reasons against inputs, or none. */
type Check = (inputs: Record<string, unknown>) => string[];

const checkVirtualService: Check = (inputs) =>
  validate(vsSchema, { connection: PLACEHOLDER_CONNECTION, ...inputs }).failures.map((f) => f.reason);

/** A VRRP instance is checked with its password (the schema's messages never quote it). */
function checkVrrpInstance(inputs: Record<string, unknown>, secrets: ConfSecret[]): string[] {
  const pass = secrets.find((s) => s.instance === inputs.name && s.field === "authPass")?.value;
  const all = { connection: PLACEHOLDER_CONNECTION, ...inputs, ...(pass !== undefined ? { authPass: pass } : {}) };
  return validate(vrrpSchema, all).failures.map((f) => f.reason);
}

/** Adds a mapped object when its schema accepts it (marked when it is sample data), else lists it. */
function accept<T>(
  ctx: MapContext,
  list: ReadObject<T>[],
  n: ConfNode,
  inputs: Record<string, unknown>,
  addresses: string[],
  check: Check,
  nodes: readonly ConfNode[],
): void {
  const reasons = check(inputs);
  if (reasons.length) {
    ctx.unsupported.push({
      file: n.file,
      line: n.line,
      what: statementText(n),
      why: `rejected by pulumi-lvs: ${reasons.join("; ")}`,
    });
    return;
  }
  const sample = addresses.some((a) => SAMPLE_NETWORKS.some((net) => inSubnet(a, net)));
  const end = blockEnd(n, nodes);
  list.push({
    file: n.file,
    line: n.line,
    ...(end !== undefined ? { end } : {}),
    inputs: inputs as T,
    ...(sample ? { sample: true as const } : {}),
  });
  if (sample)
    ctx.warnings.push({
      file: n.file,
      line: n.line,
      what: statementText(n),
      why: "uses the addresses of keepalived's packaged sample configuration (keepalived.conf.sample): probably left-over example data",
    });
}
