/**
 * A process that writes one director's ledger as a stack would, for the concurrent-writers test:
 * `node ledger-writer.js <ipvsadm|netlink> <ledger> <writer number> <rounds>`. Through the ipvsadm
 * client (a real shell, the `ipvsadm` first on PATH a stand-in) or the netlink client (a stand-in
 * kernel), it adds a service of its own, then each round adds real servers, edits them many times
 * (in batches and one by one), deletes the previous round's and reads the ledger (which makes the
 * next round trip compact the journal once it has outgrown its rules). It prints, as JSON, the
 * ledger lines it expects: those of its service, once every change has been acknowledged.
 */
import { realServerChange, serviceChange } from "../../../provider/ipvs/change";
import type { IpvsClient } from "../../../provider/ipvs/client";
import { IpvsadmClient } from "../../../provider/ipvs/ipvsadm/client";
import { ledgerLine } from "../../../provider/ipvs/ledger";
import { NetlinkIpvsClient } from "../../../provider/ipvs/netlink/client";
import { addRealServerArgs, addServiceArgs } from "../../../provider/ipvs/rules/words";
import type { RealServerConfig, VirtualServiceConfig } from "../../../provider/ipvs/types";
import { LocalTransport } from "../../../provider/transport/local";
import { FakeIpvsKernel } from "./ipvs-kernel";

/** Real servers added (and deleted a round later) per round. */
const PER_ROUND = 10;
/** Times each round's real servers are edited. */
const EDITS = 20;

async function main(): Promise<void> {
  const [kind, ledger, n, roundsText] = process.argv.slice(2) as [string, string, string, string];
  const kernel = new FakeIpvsKernel();
  const client: IpvsClient =
    kind === "netlink"
      ? new NetlinkIpvsClient({ ledger, open: async () => kernel, loadModule: async () => undefined })
      : new IpvsadmClient(new LocalTransport(), ledger, { gatherMs: 0 });
  const owner = `p/s/writer ${n}`;
  const svc: VirtualServiceConfig = {
    key: { protocol: "tcp", address: `10.1.${n}.100`, port: 80 },
    scheduler: "wrr",
    schedulerFlags: [],
    onePacket: false,
  };
  const rs = (round: number, j: number, weight: number): RealServerConfig => ({
    address: `10.2.${n}.${(round % 20) * PER_ROUND + j + 1}`,
    port: 80,
    forwarding: "dr",
    weight,
    upperThreshold: 0,
    lowerThreshold: 0,
  });
  const each = (f: (j: number) => Promise<void>) => Promise.all(Array.from({ length: PER_ROUND }, (_, j) => f(j)));
  await client.apply(serviceChange("add", svc, owner));
  const rounds = Number(roundsText);
  for (let round = 0; round < rounds; round++) {
    await each((j) => client.apply(realServerChange("add", svc.key, rs(round, j, 1), owner)));
    for (let w = 2; w <= EDITS; w++)
      await each((j) => client.apply(realServerChange("edit", svc.key, rs(round, j, w), owner)));
    // one alone: the one-by-one path (the ipvsadm client's one pass needs two or more)
    await client.apply(realServerChange("edit", svc.key, rs(round, 0, EDITS + 1), owner));
    if (round > 0) await each((j) => client.apply(realServerChange("delete", svc.key, rs(round - 1, j, 1))));
    await client.snapshot({ fresh: true });
  }
  const last = rounds - 1;
  const expected = [
    ledgerLine(addServiceArgs(svc).join(" "), owner),
    ...Array.from({ length: PER_ROUND }, (_, j) =>
      ledgerLine(addRealServerArgs(svc.key, rs(last, j, j === 0 ? EDITS + 1 : EDITS)).join(" "), owner),
    ),
  ];
  process.stdout.write(JSON.stringify(expected));
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
