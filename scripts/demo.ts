/**
 * The main job: deploy the quickstart load balancer into the local lab with the real pulumi CLI,
 * send real requests through it, and show how they were balanced.
 *
 *   npm run demo              deploy (or update) and show the traffic
 *   npm run demo -- destroy   tear it down
 *
 * Run through scripts/demo.sh, which first sets up the toolchain, the build and the lab.
 */
import * as path from "node:path";
import { labAddress, labConnection, labPrivateKey, requests, resetLab, sh } from "../test/e2e/harness/lab";
import { cacheDir } from "../test/e2e/harness/paths";
import { FolderStack, languageHost } from "../test/e2e/harness/folder";
import { type ProgramStack, TestStack } from "../test/e2e/harness/stack";

const REQUESTS = Number(process.env.DEMO_REQUESTS ?? 30);
const VIP = "10.0.0.100";
const REAL_SERVERS = ["rs1", "rs2", "rs3"];

function step(n: number, text: string): void {
  process.stdout.write(`\n\x1b[1m[${n}/4] ${text}\x1b[0m\n`);
}

/**
 * The quickstart's stack: typed in its folder with the pulumi CLI, as a user runs it, when this
 * machine has the Node.js language host; otherwise as an Automation API inline program.
 */
async function quickstart(): Promise<{ stack: ProgramStack; home: string }> {
  if (languageHost()) {
    const home = path.join(cacheDir, "demo-folder");
    console.log(`[demo] running examples/quickstart the user's way: pulumi typed in its folder (${home}/quickstart)`);
    return { stack: await FolderStack.create("lab", { program: "examples/quickstart", home }), home };
  }
  const home = path.join(cacheDir, "demo");
  console.log(
    "[demo] no pulumi-language-nodejs on this machine (it is built from shared/third_party beside the repository):" +
      " running examples/quickstart as an Automation API inline program",
  );
  return { stack: await TestStack.create("lab", { program: "examples/quickstart", home }), home };
}

/** The resource types in the stack's last checkpoint (none before its first update). */
function deployedTypes(stack: ProgramStack): string[] {
  try {
    return (stack.checkpoint().checkpoint?.latest?.resources ?? []).map((r: { type: string }) => r.type);
  } catch {
    return [];
  }
}

async function main() {
  process.env.PULUMI_LVS_E2E_QUIET ??= "0";
  const { stack, home } = await quickstart();
  if (process.argv[2] === "destroy") {
    const r = await stack.destroy();
    console.log(`\ndestroyed: ${JSON.stringify(r.summary.resourceChanges)}`);
    return;
  }
  await stack.setConfig({
    director: { value: JSON.stringify(labConnection("director")) },
    privateKey: { value: labPrivateKey(), secret: true },
    vip: { value: VIP },
    realServers: {
      value: JSON.stringify(REAL_SERVERS.map((h) => ({ address: labAddress(h), ssh: labConnection(h) }))),
    },
  });

  step(1, "a clean lab");
  const types = deployedTypes(stack);
  if (types.includes("pulumi-nodejs:dynamic/lvs:VirtualService")) {
    console.log("  the demo is deployed already: pulumi up will update it");
  } else {
    // a first run, or one that failed half-way: start from clean hosts
    if (types.length > 0) await stack.destroy();
    resetLab();
  }

  step(2, "pulumi up --refresh (examples/quickstart): director, virtual service, real servers and their hosts");
  // --refresh: whatever changed on the hosts since the last run (drift, a lab reset) is repaired
  const up = await stack.up({ refresh: true });
  console.log(`\nresult: ${up.summary.result}; changes: ${JSON.stringify(up.summary.resourceChanges)}`);

  step(3, `${REQUESTS} HTTP requests from the lab client to http://${VIP}/`);
  const counts = await requests("client", `http://${VIP}/`, REQUESTS);
  const width = Math.max(...Object.keys(counts).map((k) => k.length));
  for (const [server, n] of Object.entries(counts).sort()) {
    console.log(`  ${server.padEnd(width)}  ${String(n).padStart(4)}  ${"#".repeat(n)}`);
  }
  await new Promise((r) => setTimeout(r, 2500)); // the kernel folds its counters in every 2 s
  console.log("\n  the director's table:");
  console.log((await sh("director", "ipvsadm -L -n --stats")).replace(/^/gm, "    "));

  step(4, "pulumi preview --refresh --expect-no-changes (the hosts match the state)");
  await stack.preview({ refresh: true, expectNoChanges: true });
  console.log("  clean: no drift");

  console.log(`
Look around:
  test/lab/lab ssh director ipvsadm -Ln                 the director's IPVS table
  test/lab/lab ssh client wget -qO- http://${VIP}/          one request from the client
  test/lab/lab ssh director ipvsadm -e -t ${VIP}:80 -r ${labAddress("rs1")}:80 -g -w 5
                                                         drift by hand; npm run demo repairs it
Tear down:
  npm run demo -- destroy      removes what the demo deployed, restoring the hosts
  test/lab/lab down            stops the lab
Program and state: ${home}

${REQUESTS} requests through the load balancer: ${Object.entries(counts)
    .sort()
    .map(([k, n]) => `${k} ${n}`)
    .join(", ")}`);
}

main().catch((e) => {
  const text = e instanceof Error ? e.message : String(e);
  const diag = text.indexOf("Diagnostics:");
  console.error(`\ndemo failed:\n${diag >= 0 ? text.slice(diag, text.indexOf("Resources:", diag) > 0 ? text.indexOf("Resources:", diag) : undefined) : text}`);
  process.exit(1);
});
