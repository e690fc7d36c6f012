/**
 * Tells the user what a long operation is waiting for (a drain, keepalived settling, a dial retry).
 *
 * A dynamic provider's process has no engine connection for `pulumi.log` on @pulumi/pulumi 3.259
 * (its `log.info` falls back to printing "info: [runtime] …"). What the engine does show is every
 * line the provider process writes to stderr: at once, in `pulumi up`'s progress display (under the
 * stack, not the resource), and again under Diagnostics (checked on the pinned CLI). So each
 * message is one stderr line that names its host and object itself. No secret goes into one.
 */
let sink: (line: string) => void = (line) => {
  process.stderr.write(`${line}\n`);
};

/** Says one line: `pulumi-lvs: <message>`. */
export function say(message: string): void {
  sink(`pulumi-lvs: ${message}`);
}

/** Where the lines go (unit tests collect them). @internal */
export function setProgressSink(f: ((line: string) => void) | undefined): void {
  sink =
    f ??
    ((line) => {
      process.stderr.write(`${line}\n`);
    });
}
