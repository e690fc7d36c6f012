/**
 * The generator of `pulumi-lvs import`: what the readers found ({@link ImportResult}) → the files of
 * a Pulumi program folder that declares exactly that (Pulumi.yaml, package.json, tsconfig.json,
 * index.ts, IMPORT.md). Pure and deterministic: the same result gives byte-identical files.
 */
import { importMd } from "./import-md";
import { indexTs } from "./index-ts";
import type { ImportResult } from "./model";
import { Identifiers, plan } from "./plan";

/** What the generator is told besides the result. */
export interface ProgramOptions {
  /** The Pulumi project's name (Pulumi.yaml; lower-cased, package.json): letters, digits, `_`, `.`, `-`. */
  project: string;
  /** The version ranges the program depends on, e.g. `^3.259.0` and `^0.1.0`. */
  versions: { pulumi: string; pulumiLvs: string };
  /** The private key file the import used, for IMPORT.md's `pulumi config set --secret privateKey < FILE`. */
  keyFile?: string;
}

/** The program's development dependencies, as the examples have them. */
const DEV_DEPENDENCIES = { "@types/node": "^24.0.0", typescript: "^5.9.3" };

/** The program's tsconfig.json, as the examples have it. */
const TSCONFIG = {
  compilerOptions: {
    strict: true,
    outDir: "bin",
    target: "es2022",
    module: "commonjs",
    moduleResolution: "node",
    sourceMap: true,
    experimentalDecorators: true,
    pretty: true,
    noFallthroughCasesInSwitch: true,
    noImplicitReturns: true,
    forceConsistentCasingInFileNames: true,
    skipLibCheck: true,
  },
  files: ["index.ts"],
};

/** Pulumi's rule for project names. */
const PROJECT_NAME = /^[A-Za-z0-9_.-]{1,100}$/;

const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

/**
 * The files of the program folder, by name. Throws when the project name is not one Pulumi takes,
 * or when the result does not hold together (see {@link plan}).
 */
export function generateProgram(result: ImportResult, opts: ProgramOptions): Map<string, string> {
  if (!PROJECT_NAME.test(opts.project) || /^[._]/.test(opts.project))
    throw new Error(
      `the project name ${JSON.stringify(opts.project)} must be letters, digits, _ . - (not starting with . or _)`,
    );
  const ids = new Identifiers();
  const p = plan(result, ids);
  const hosts = p.hosts.map((h) => h.host.name).join(", ");
  return new Map([
    ["IMPORT.md", importMd(result, p, opts.project, opts.keyFile)],
    [
      "Pulumi.yaml",
      [
        `name: ${opts.project}`,
        "runtime: nodejs",
        `description: ${JSON.stringify(`What pulumi-lvs import read from ${hosts} (see IMPORT.md)`)}`,
        "",
      ].join("\n"),
    ],
    ["index.ts", indexTs(p, ids)],
    [
      "package.json",
      json({
        name: opts.project.toLowerCase(),
        private: true,
        main: "index.ts",
        devDependencies: DEV_DEPENDENCIES,
        dependencies: { "@pulumi/pulumi": opts.versions.pulumi, "pulumi-lvs": opts.versions.pulumiLvs },
      }),
    ],
    ["tsconfig.json", json(TSCONFIG)],
  ]);
}
