/**
 * The netlink client's changes: queued, grouped, recorded in the ledger before the kernel is
 * changed, sent in order, and cancelled in the ledger when the kernel refuses.
 */
import type { Change } from "../change";
import { IpvsNotFoundError } from "../client";
import { abortRecord, type LedgerEdit, ledgerEditOf, ledgerRecords, newTx } from "../ledger";
import type { LocalLedgerWriter } from "../ledger/local";
import { familyOfKey } from "../types";
import { Cmd, CmdAttr } from "./constants";
import { changeError } from "./errors";
import type { IpvsSocket } from "./socket";
import { type Attr, encodeAttrs, realServerAttrs, realServerKeyAttrs, serviceAttrs, serviceKeyAttrs } from "./wire";

/** A change in the queue: its ledger edit and change id (none: unrecorded), and who waits for it. */
interface Queued {
  change: Change;
  edit: LedgerEdit;
  tx?: string;
  done: (e?: Error) => void;
}

/** The ledger edit of an unrecorded change: none. */
const NO_EDIT: LedgerEdit = { prefixes: [], lines: [] };

const SERVICE_CMD: Record<Change["kind"], number> = {
  add: Cmd.NEW_SERVICE,
  edit: Cmd.SET_SERVICE,
  delete: Cmd.DEL_SERVICE,
};
const REAL_SERVER_CMD: Record<Change["kind"], number> = { add: Cmd.NEW_DEST, edit: Cmd.SET_DEST, delete: Cmd.DEL_DEST };

/** The netlink request of a change: its command and attributes. */
export function requestOf(c: Change): { cmd: number; attrs: Attr[] } {
  if (!c.rs) {
    const svc = c.config ? serviceAttrs(c.config) : serviceKeyAttrs(c.service);
    return { cmd: SERVICE_CMD[c.kind], attrs: [[CmdAttr.SERVICE, encodeAttrs(svc)]] };
  }
  const family = familyOfKey(c.service);
  const dest = c.config ? realServerAttrs(family, c.config) : realServerKeyAttrs(family, c.rs);
  return {
    cmd: REAL_SERVER_CMD[c.kind],
    attrs: [
      [CmdAttr.SERVICE, encodeAttrs(serviceKeyAttrs(c.service))],
      [CmdAttr.DEST, encodeAttrs(dest)],
    ],
  };
}

/**
 * The longest run from the front of the queue in which no two changes touch the same object (one
 * ledger prefix starting another): those can share one ledger write.
 */
export function takeGroup<T extends { edit: LedgerEdit }>(queue: T[]): T[] {
  const group: T[] = [];
  const seen: string[] = [];
  while (queue.length > 0) {
    const c = queue[0]!;
    const clash = c.edit.prefixes.some((p) => seen.some((q) => p.startsWith(q) || q.startsWith(p)));
    if (clash && group.length > 0) break;
    group.push(queue.shift()!);
    seen.push(...c.edit.prefixes);
  }
  return group;
}

/** Changes in flight at once on the socket. */
const WINDOW = 64;

/**
 * Whether a refused change is cancelled in the ledger: it was recorded, and it is not a delete of
 * what is gone already (that one stays dropped).
 */
function cancelled(q: Queued, e: Error | undefined): boolean {
  return e !== undefined && q.tx !== undefined && !(q.change.kind === "delete" && e instanceof IpvsNotFoundError);
}

/** The changes of one netlink client, run one group at a time (see {@link MutationQueue.run}). */
export class MutationQueue {
  private queue: Queued[] = [];
  private pumping = false;

  /**
   * @param host the host, for messages
   * @param socket the socket for a change (loads ip_vs first when need be)
   * @param ledger the ledger's writer
   * @param changed called once each group is done (the kernel and the ledger have changed)
   */
  constructor(
    private readonly host: string,
    private readonly socket: () => Promise<IpvsSocket>,
    private readonly ledger: LocalLedgerWriter,
    private readonly changed: () => void,
  ) {}

  /**
   * Queues a change. Changes are applied in the order they came; those that arrive while others
   * run (the engine creates many resources at once) are grouped: the group's journal records are
   * appended in one go, before the kernel is changed, then each kernel request runs in order, and
   * the changes the kernel refused are cancelled (`#abort`), as the ipvsadm client does: the
   * ledger may claim what the kernel lacks, never the reverse.
   * @param change the change
   * @param record whether the ledger records it
   */
  run(change: Change, record: boolean): Promise<void> {
    const edit = record ? ledgerEditOf(change) : NO_EDIT;
    const tx = record ? newTx() : undefined;
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ change, edit, tx, done: (e) => (e ? reject(e) : resolve()) });
      void this.pump();
    });
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.queue.length > 0) {
        const group = takeGroup(this.queue);
        await this.runGroup(group).catch((e: Error) => {
          for (const c of group) c.done(e);
        });
        this.changed();
      }
    } finally {
      this.pumping = false;
    }
  }

  private async runGroup(group: Queued[]): Promise<void> {
    const sock = await this.socket();
    await this.ledger.append(group.flatMap((q) => (q.tx ? ledgerRecords(q.edit, q.tx) : [])));
    const outcome = await this.send(sock, group);
    await this.ledger.append(group.flatMap((q, i) => (cancelled(q, outcome[i]) ? [abortRecord(q.tx!)] : [])));
    group.forEach((q, i) => {
      q.done(outcome[i]);
    });
  }

  /**
   * Sends the group's requests in order, up to WINDOW in flight (the kernel handles one socket's
   * requests in the order they came; the window keeps the acknowledgements within the socket's
   * receive buffer).
   * @returns each change's error (undefined: done)
   */
  private async send(sock: IpvsSocket, group: Queued[]): Promise<Array<Error | undefined>> {
    const outcome: Array<Error | undefined> = [];
    for (let i = 0; i < group.length; i += WINDOW) {
      const chunk = group.slice(i, i + WINDOW);
      const settled = await Promise.allSettled(
        chunk.map((q) => {
          const { cmd, attrs } = requestOf(q.change);
          return sock.request(cmd, encodeAttrs(attrs));
        }),
      );
      settled.forEach((r, j) => {
        outcome.push(r.status === "fulfilled" ? undefined : changeError(this.host, chunk[j]!.change, r.reason));
      });
    }
    return outcome;
  }
}
