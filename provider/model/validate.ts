import type * as pulumi from "@pulumi/pulumi";
import type { z } from "zod";
import { containsUnknown, UNKNOWN } from "./unknown";

/**
 * Validates resource inputs with a zod schema, the way `check` needs it:
 * - every failure names the field by its full path (`connection.port: …`) and says why;
 * - values still unknown during preview are not judged (nor anything that depends on them);
 * - failures inside a property that holds secrets (`connection`) are reported without a property:
 *   the Pulumi engine prints the whole value of a failure's property next to it, secrets included
 *   (it unwraps them), so such failures name their field in the reason only.
 *
 * @returns the parsed value (defaults applied) when the inputs are complete and valid, else undefined;
 *   and the failures, keyed by top-level property as Pulumi requires.
 */
export function validate<S extends z.ZodType>(
  schema: S,
  inputs: Record<string, unknown>,
  secretProperties: readonly string[] = SECRET_PROPERTIES,
): { value?: z.infer<S>; failures: pulumi.dynamic.CheckFailure[] } {
  const r = schema.safeParse(inputs);
  if (r.success) return { value: r.data, failures: [] };
  const failures: pulumi.dynamic.CheckFailure[] = [];
  const seen = new Set<string>();
  for (const issue of r.error.issues) {
    const path = issue.path.map(String);
    if (touchesUnknown(inputs, path, issue)) continue;
    if (issue.code === "unrecognized_keys") {
      for (const k of issue.keys) {
        const where = pathText([...path, k]);
        failures.push({
          property: reported(path[0] ?? k, secretProperties),
          reason: `${where}: is not a known argument (check its spelling)`,
        });
      }
      continue;
    }
    const where = pathText(path) || "(inputs)";
    const reason = `${where}: ${messageOf(issue)}`;
    if (seen.has(reason)) continue;
    seen.add(reason);
    failures.push({ property: reported(path[0] ?? "", secretProperties), reason });
  }
  return { failures };
}

/** A field's path as a program writes it: `connection.port`, `vips.0`, `realServers["10.0.0.11:80"].weight`. */
export function pathText(path: string[]): string {
  return path
    .map((k, i) => (/^([A-Za-z_$][\w$]*|\d+)$/.test(k) ? `${i === 0 ? "" : "."}${k}` : `[${JSON.stringify(k)}]`))
    .join("");
}

/** An issue's message; for a record key, the key's own issue (zod says only "Invalid key in record"). */
function messageOf(issue: z.core.$ZodIssue): string {
  if (issue.code === "invalid_key" && issue.issues.length > 0) return issue.issues[0]!.message;
  return issue.message;
}

/** Properties whose values may hold secrets (keys, passwords, passphrases). */
export const SECRET_PROPERTIES = ["connection"] as const;

function reported(property: string, secretProperties: readonly string[]): string {
  return secretProperties.includes(property) ? "" : property;
}

/** An issue is about an unknown value if the value at its path, or any parent, is unknown. */
function touchesUnknown(inputs: unknown, path: string[], issue: z.core.$ZodIssue): boolean {
  let v: unknown = inputs;
  for (const k of path) {
    if (v === UNKNOWN) return true;
    if (v === null || typeof v !== "object") break;
    v = (v as Record<string, unknown>)[k];
  }
  if (v === UNKNOWN) return true;
  // cross-field rules (custom issues) are not judged while anything they look at is unknown
  if (issue.code === "custom" && containsUnknown(inputs)) return true;
  return false;
}
