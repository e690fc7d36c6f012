import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";

const root = path.join(__dirname, "../../..");

/** Every .ts file under a folder of the repository, as a path relative to the root. */
function sources(dir: string): string[] {
  return (fs.readdirSync(path.join(root, dir), { recursive: true, encoding: "utf8" }) as string[])
    .filter((f) => f.endsWith(".ts"))
    .map((f) => path.posix.join(dir, f.split(path.sep).join("/")))
    .sort();
}

const read = (f: string) => fs.readFileSync(path.join(root, f), "utf8");

/**
 * The layers, from the top: a file may import from its own layer or a lower one (a higher rank),
 * never from a layer above it. keepalived, host, ipvs and model are peers; scripts (the host scripts)
 * serve them and the CLI, and use the transport's quoting; net (addresses) imports nothing of ours.
 */
const LAYERS: [prefix: string, rank: number][] = [
  ["sdk/", 0],
  ["cli/", 0],
  ["provider/index.ts", 1],
  ["provider/resources/", 2],
  ["provider/keepalived/", 3],
  ["provider/host/", 3],
  ["provider/ipvs/", 3],
  ["provider/model/", 3],
  ["provider/scripts/", 4],
  ["provider/transport/", 5],
  ["provider/net/", 6],
];

function layerOf(file: string): [string, number] {
  const l = LAYERS.find(([prefix]) => file === prefix || file.startsWith(prefix));
  assert.ok(l, `${file} is in no layer: add its folder to LAYERS`);
  return l;
}

interface Import {
  from: string;
  to: string;
  typeOnly: boolean;
}

/** The relative imports (and re-exports) of a file, resolved to .ts paths. */
function importsOf(file: string): Import[] {
  const text = read(file);
  const out: Import[] = [];
  const re = /^(?:import|export)\s+(type\s+)?(?:[^;]*?\s+from\s+)?"(\.[^"]+)"/gms;
  for (const m of text.matchAll(re)) {
    const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), m[2]!));
    const to = fs.existsSync(path.join(root, `${target}.ts`)) ? `${target}.ts` : `${target}/index.ts`;
    out.push({ from: file, to, typeOnly: m[1] !== undefined });
  }
  return out;
}

const files = [...sources("provider"), ...sources("sdk"), ...sources("cli")];

describe("structure", () => {
  it("finds the imports it checks (the parser reads multi-line and type-only imports)", () => {
    const sdk = importsOf("sdk/types.ts");
    assert.ok(sdk.some((i) => i.to === "provider/ipvs/types.ts" && i.typeOnly));
    const all = files.flatMap(importsOf);
    assert.ok(all.length > 150, `only ${all.length} imports found`);
    assert.ok(
      all.every((i) => fs.existsSync(path.join(root, i.to))),
      "every import resolves to a file",
    );
  });

  it("no import runs back up a layer: sdk → index → resources → (keepalived, host, ipvs, model) → scripts → transport → net", () => {
    const upward = files
      .flatMap(importsOf)
      .filter(
        (i) =>
          layerOf(i.to)[1] < layerOf(i.from)[1] || (layerOf(i.to)[1] === 0 && layerOf(i.to)[0] !== layerOf(i.from)[0]),
      )
      .map((i) => `${i.from} imports ${i.to}`);
    assert.deepEqual(upward, []);
  });

  it("the SDK loads nothing of the provider but the address module and the inline-entry packing (the rest is import type)", () => {
    const loaded = sources("sdk")
      .flatMap(importsOf)
      .filter(
        (i) =>
          i.to.startsWith("provider/") &&
          !i.typeOnly &&
          !i.to.startsWith("provider/net/") &&
          i.to !== "provider/model/inline-pack.ts",
      )
      .map((i) => `${i.from} imports ${i.to}`);
    assert.deepEqual(loaded, []);
  });

  it("the inline-entry packing loads nothing at run time (the SDK loads it into programs: no zod)", () => {
    assert.deepEqual(
      importsOf("provider/model/inline-pack.ts").filter((i) => !i.typeOnly),
      [],
    );
    assert.doesNotMatch(read("provider/model/inline-pack.ts"), /require\(|from "(?!\.)/);
  });

  it("the address module imports nothing of ours", () => {
    assert.deepEqual(sources("provider/net").flatMap(importsOf), []);
  });

  it("decides an address family and spells address[:port] only in provider/net", () => {
    const patterns: [RegExp, string][] = [
      [/\.includes\(\s*["']:["']\s*\)/, 'includes(":")'],
      [/\[\$\{[\w.]+\}\]:|\? `\[\$\{[\w.]+\}\]`/, "a hand-built [v6]:port"],
      [/\\\[[^\n]*\\\]\??:/, "a regex of [v6]:port"],
      [/\[0-9a-fA-F[^\]\n]*:/, "a regex of IPv6 groups"],
      [/\[0-9\.\]|\\d(?:\+|\{1,3\})\\\./, "a regex of dotted IPv4"],
      [/\bnet\.isIP(?:v4|v6)?\(/, "node:net's address checks"],
      [/\/\^ff\/i/, "a multicast test"],
    ];
    const found: string[] = [];
    for (const f of files.filter((x) => !x.startsWith("provider/net/"))) {
      read(f)
        .split("\n")
        .forEach((line, n) => {
          for (const [re, what] of patterns) if (re.test(line)) found.push(`${f}:${n + 1}: ${what}`);
        });
    }
    assert.deepEqual(found, []);
  });
});
