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
import { appendScript, type Compaction, LEDGER_REMEDY, ledgerPrologue, readJournal } from "./index";

/** Runs a shell script on this machine. */
export type LocalShell = (script: string) => Promise<ExecResult>;

/** `sh -s`, the script on its standard input: thousands of records are no command line (its limit is 128 KiB). */
const localShell: LocalShell = (script) => runScript(new LocalTransport(), script);

export class LocalLedgerWriter {
  /** The journal read last had grown well past its rules: the next append compacts it first. */
  private compaction?: Compaction;

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
   * Reads the journal as a read found it, as the ipvsadm client does from its snapshot: when it
   * has outgrown its rules, the next append compacts it.
   * @param text the ledger as read
   * @returns the rules it holds
   */
  observe(text: string): string[] {
    const { rules, compaction } = readJournal(text);
    this.compaction = compaction;
    return rules;
  }

  /**
   * Appends journal records, under the ledger's lock (one shell, one flock; md5sum or awk, and mv,
   * as well when compacting). Nothing to append: nothing runs.
   * @param records the records, as `ledgerRecords` and `abortRecord` make them
   */
  async append(records: readonly string[]): Promise<void> {
    if (records.length === 0) return;
    const compaction = this.compaction;
    this.compaction = undefined;
    let r: ExecResult;
    try {
      r = await this.shell(
        `${ledgerPrologue(this.ledger, compaction)} || exit $?\n${appendScript(this.ledger, records)}`,
      );
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
