/**
 * The ledger of the machine the provider runs on, written by the same shell as a host's: each
 * append is one `/bin/sh` running {@link ledgerPrologue} (the file there, its flock taken,
 * compaction when due) and {@link appendScript}. Taking the lock through the same shell, rather
 * than by other means in Node, makes it the very lock the ipvsadm client's round trips and the
 * boot restore take: whichever client writes, writers exclude one another.
 */
import { LocalTransport } from "../../transport/local";
import { type ExecResult, runScript } from "../../transport/transport";
import { IpvsError } from "../client";
import { appendScript, LEDGER_REMEDY, ledgerPrologue, needsCompaction } from "./index";

/** Runs a shell script on this machine. */
export type LocalShell = (script: string) => Promise<ExecResult>;

/** `sh -s`, the script on its standard input: thousands of records are no command line (its limit is 128 KiB). */
const localShell: LocalShell = (script) => runScript(new LocalTransport(), script);

export class LocalLedgerWriter {
  /** The journal read last had grown well past its rules: the next append compacts it first. */
  private compact = false;

  /**
   * @param ledger the ledger file
   * @param host the host, for messages
   * @param shell runs the scripts (default: `/bin/sh -c` here)
   */
  constructor(
    readonly ledger: string,
    private readonly host = "local",
    private readonly shell: LocalShell = localShell,
  ) {}

  /**
   * Notes what a read found, as the ipvsadm client does from its snapshot: when the journal has
   * outgrown its rules (`needsCompaction`), the next append compacts it.
   * @param text the ledger as read
   * @param rules how many rules its journal replays to
   */
  observe(text: string, rules: number): void {
    this.compact = needsCompaction(text, rules);
  }

  /**
   * Appends journal records, under the ledger's lock (one shell, one flock; awk and mv as well
   * when compacting). Nothing to append: nothing runs.
   * @param records the records, as `ledgerRecords` and `abortRecord` make them
   */
  async append(records: readonly string[]): Promise<void> {
    if (records.length === 0) return;
    const compact = this.compact;
    this.compact = false;
    let r: ExecResult;
    try {
      r = await this.shell(`${ledgerPrologue(this.ledger, compact)} || exit $?\n${appendScript(this.ledger, records)}`);
    } catch (e) {
      r = { code: -1, stdout: "", stderr: String((e as Error).message ?? e) };
    }
    if (r.code !== 0) {
      throw new IpvsError(
        this.host,
        `write ${this.ledger}`,
        (r.stderr || r.stdout).trim() || `exit ${r.code}`,
        LEDGER_REMEDY,
      );
    }
  }
}
