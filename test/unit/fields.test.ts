import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import ts from "typescript";
import { FIELDS, type ResourceKind } from "../../provider/resources/fields";

const sdk = path.join(__dirname, "../../../sdk");

/** The TSDoc of each property of the SDK's `<kind>Args` interface, read from its source. */
function argsDocs(kind: ResourceKind): Map<string, string> {
  const docs = new Map<string, string>();
  for (const file of fs.readdirSync(sdk).filter((f) => f.endsWith(".ts"))) {
    const src = ts.createSourceFile(file, fs.readFileSync(path.join(sdk, file), "utf8"), ts.ScriptTarget.Latest, true);
    src.forEachChild((n) => {
      if (!ts.isInterfaceDeclaration(n) || n.name.text !== `${kind}Args`) return;
      for (const m of n.members) {
        if (!ts.isPropertySignature(m)) continue;
        const doc = ts
          .getJSDocCommentsAndTags(m)
          .map((d) => d.getText())
          .join(" ");
        docs.set(m.name.getText(), doc);
      }
    });
  }
  return docs;
}

describe("which fields replace a resource: one table, and the SDK's docs agree", () => {
  for (const kind of Object.keys(FIELDS) as ResourceKind[]) {
    it(`${kind}: every argument is in the table, and its doc says "replaces" exactly when it does`, () => {
      const docs = argsDocs(kind);
      assert.ok(docs.size > 0, `no ${kind}Args interface in sdk/`);
      const table: Record<string, string> = FIELDS[kind];
      for (const [field, doc] of docs) {
        const change = table[field];
        assert.ok(change, `${kind}Args.${field} is not in provider/resources/fields.ts`);
        const says = /\breplaces?\b/i.test(doc);
        assert.equal(
          says,
          change !== "update",
          `${kind}Args.${field} (${change}): its doc ${says ? "says" : "does not say"} that a change replaces it`,
        );
      }
    });
  }
});
