/**
 * The IMPORT.md of a generated program: what was read from where, the resources declared, every
 * finding, the secrets to set (their keys, never their values) and the steps that take the hosts
 * over.
 */
import { shellQuote } from "../../provider/transport/transport";
import { ADOPT } from "./index-ts";
import type { Finding, ImportResult } from "./model";
import { kindsOf, type Plan, PRIVATE_KEY, sourceText } from "./plan";

/** The findings' kinds, in the order IMPORT.md lists them, with their headings. */
const FINDING_KINDS: Record<Finding["kind"], string> = {
  unsupported: "Not imported: left as it is in the host's own configuration",
  differs:
    "Differences: what the take-over leaves, or would fail on (the kernel against keepalived.conf, a setting against the resource)",
  note: "Notes",
};

/** Text as a Markdown code span, whatever backquotes it holds. */
function codeSpan(text: string): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = "`".repeat(longest + 1);
  const pad = text.startsWith("`") || text.endsWith("`") ? " " : "";
  return `${fence}${pad}${text}${pad}${fence}`;
}

/** One line of a Markdown list: line breaks inside it folded, so that it stays one item. */
const item = (text: string) => `- ${text.replace(/\s*\r?\n\s*/g, " ")}`;

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The findings in a stable order: by host (the import's order), file, line, message. */
function sortedFindings(result: ImportResult): Finding[] {
  const hostOrder = new Map(result.hosts.map((h, i) => [h.name, i]));
  return [...result.findings].sort(
    (a, b) =>
      (hostOrder.get(a.source.host) ?? hostOrder.size) - (hostOrder.get(b.source.host) ?? hostOrder.size) ||
      byText(a.source.host, b.source.host) ||
      byText(a.source.file ?? "", b.source.file ?? "") ||
      (a.source.line ?? 0) - (b.source.line ?? 0) ||
      byText(a.message, b.message),
  );
}

/** The `pulumi config set --secret` line of a secret: the key file for the private key, a prompt for the others. */
function configSetLine(key: string, keyFile: string): string {
  const set = `pulumi config set --secret ${shellQuote(key)}`;
  if (key !== PRIVATE_KEY) return set;
  // ~/ stays unquoted, for the shell to expand
  return `${set} < ${keyFile.startsWith("~/") ? `~/${shellQuote(keyFile.slice(2))}` : shellQuote(keyFile)}`;
}

/** What the first `up` does with keepalived's own blocks, when the program declares any (else nothing). */
function handOverText(plan: Plan): string[] {
  const blocks = plan.resources.filter(
    (p) =>
      p.resource.kind === "VrrpInstance" ||
      (p.resource.kind === "VirtualService" && p.resource.args.engine === "keepalived"),
  );
  if (blocks.length === 0) return [];
  return [
    "## keepalived's blocks",
    "",
    `${blocks.length} resource(s) declare blocks of a director's keepalived configuration. The first \`pulumi up\` hands ` +
      "each over to pulumi-lvs, on its director, with the director locked: if the block is as declared, its lines are " +
      "commented out where they are (prefixed `#pulumi-lvs-handed-over# `; every other line keeps its number), " +
      "pulumi-lvs writes the block to its own file under /etc/keepalived/conf.d, keepalived.conf gets the line " +
      "`include /etc/keepalived/conf.d/*.conf` if it has none, and `keepalived -t` must accept the result (else " +
      "everything is put back). Then keepalived is reloaded, never restarted: the same process keeps its IPVS " +
      "rules, its real servers' health, and each VRRP instance its role and VIPs.",
    "",
    "Blocks that hold what pulumi-lvs cannot represent stay in keepalived's configuration: they are listed under " +
      "Findings, with why.",
    "",
  ];
}

/** The program's IMPORT.md. */
export function importMd(result: ImportResult, plan: Plan, project: string, keyFile = "~/.ssh/id_ed25519"): string {
  const out: string[] = [
    `# ${project}: imported by \`pulumi-lvs import\``,
    "",
    `This Pulumi program declares what \`pulumi-lvs import\` read from ${plan.hosts.length} host(s): ` +
      `${plan.resources.length} resource(s) in index.ts.`,
    "",
    `Every resource carries \`adopt: "${ADOPT}"\`: the first \`pulumi up\` takes each live object over only if ` +
      "it already is exactly as declared. Otherwise that `up` fails, naming each difference, and changes " +
      "nothing on the host. Once the first `pulumi up` has succeeded, `adopt` may be removed.",
    "",
    ...handOverText(plan),
    "## What was read",
  ];
  for (const h of plan.hosts) {
    const c = h.host;
    out.push("", `### ${h.host.name}`, "");
    out.push(
      `A ${c.role === "director" ? "director" : "real server"}, reached as ${codeSpan(`${c.user}@${c.host}`)} ` +
        `on port ${c.port}${c.sudo ? " with sudo" : ""}; its host key is pinned in index.ts.`,
    );
    const reads = result.reads.filter((r) => r.host === c.name).flatMap((r) => r.what);
    out.push("", ...(reads.length ? reads.map((w) => item(codeSpan(w))) : ["Nothing."]));
  }

  out.push("", "## Resources");
  for (const kind of kindsOf(plan)) {
    const rs = plan.resources.filter((p) => p.resource.kind === kind);
    out.push("", `### ${kind} (${rs.length})`, "");
    out.push(...rs.map((p) => item(`${codeSpan(p.name)}, read from ${codeSpan(sourceText(p.resource.source))}`)));
  }
  if (plan.resources.length === 0) out.push("", "None: the hosts had nothing pulumi-lvs declares.");

  out.push("", "## Findings");
  const findings = sortedFindings(result);
  if (findings.length === 0) out.push("", "None: everything read is declared in index.ts.");
  for (const [kind, heading] of Object.entries(FINDING_KINDS)) {
    const fs = findings.filter((f) => f.kind === kind);
    if (fs.length === 0) continue;
    out.push("", `### ${heading} (${fs.length})`, "");
    out.push(...fs.map((f) => item(`${codeSpan(sourceText(f.source))}: ${f.message}`)));
  }

  out.push(
    "",
    "## Secrets",
    "",
    "The program reads these from the stack's configuration, as secrets. The import wrote none of their values: set each",
    "(given no value, `pulumi config set` asks for it, which keeps it out of the shell's history):",
    "",
    "```sh",
    ...plan.secrets.map((s) => `${configSetLine(s.key, keyFile)}  # ${s.what.replace(/\s*\r?\n\s*/g, " ")}`),
    "```",
  );

  out.push(
    "",
    "## Next steps",
    "",
    "1. `npm install`",
    "2. `pulumi stack init` (a stack per set of hosts)",
    "3. Set the secrets above.",
    "4. `pulumi preview`: it lists only take-overs, each resource to be created (`+`) by taking over what is",
    "   already there; nothing to update, replace or delete.",
    `5. \`pulumi up\`: with \`adopt: "${ADOPT}"\`, a resource whose object is not exactly as declared (the host`,
    "   changed since the import) fails, naming each difference, and nothing on the host is changed. Then",
    "   run the import again, or change index.ts to what the host has, and `pulumi up` again.",
    "6. `pulumi preview --refresh --expect-no-changes`: the stack and the hosts agree.",
    "",
  );
  return out.join("\n");
}
