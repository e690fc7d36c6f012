import type { ExecResult, Transport } from "../../../provider/transport/transport";

/** A transport that answers every command with one canned result, and records the commands. */
export class CannedTransport implements Transport {
  readonly label = "root@director:22";
  readonly stats = { connections: 0, commands: 0 };
  readonly commands: string[] = [];
  constructor(private readonly result: ExecResult) {}
  async run(command: string): Promise<ExecResult> {
    this.commands.push(command);
    return this.result;
  }
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return fn();
  }
}
