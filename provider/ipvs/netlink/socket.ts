/**
 * The generic netlink socket of the IPVS family, on the `netlink` package (the way that package
 * defines its WireGuard family): resolves the family, sends one command, returns the replies'
 * attribute payloads. Kernel errors come back as {@link NetlinkError} with the errno's name.
 */
import { Cmd, IPVS_GENL_NAME, IPVS_GENL_VERSION } from "./constants";

/** The edge the IPVS netlink client talks through (a fake kernel replaces it in unit tests). */
export interface IpvsSocket {
  /**
   * Sends `cmd` with `attrs` (encoded attributes).
   * @returns the attribute payload of each reply message: one per object for a dump, none for a
   *   change the kernel acknowledged
   * @throws NetlinkError when the kernel refuses the request
   */
  request(cmd: number, attrs: Buffer, opts?: { dump?: boolean }): Promise<Buffer[]>;
  close(): void;
}

/** The kernel refused a request: `code` is the errno name (EEXIST, ESRCH, ENOENT, EPERM, ...). */
export class NetlinkError extends Error {
  constructor(
    readonly code: string,
    readonly command: string,
  ) {
    super(`${command}: the kernel answered ${code}`);
    this.name = "NetlinkError";
  }
}

const CMD_NAME = new Map<number, string>(Object.entries(Cmd).map(([k, v]) => [v, `IPVS_CMD_${k}`]));

/** Timeout of one request, in milliseconds. */
const REQUEST_TIMEOUT_MS = 30_000;

/**
 * Opens a generic netlink socket and resolves the IPVS family.
 * @returns undefined when the kernel has no IPVS family (the ip_vs module is not loaded)
 * @throws Error when netlink itself is unavailable (not Linux, or the native module cannot load)
 */
export async function openIpvsSocket(): Promise<IpvsSocket | undefined> {
  // loaded here, not at the top: the native module exists on Linux only
  const nl = await import("netlink");
  const socket = nl.createGenericNetlink();
  try {
    const families = await socket.ctrlRequest(
      nl.genl.Commands.GET_FAMILY,
      {},
      { flags: nl.FlagsGet.DUMP, timeout: REQUEST_TIMEOUT_MS },
    );
    const family = families.find((f) => f.familyName === IPVS_GENL_NAME);
    if (family?.familyId === undefined) {
      socket.socket.close();
      return undefined;
    }
    const id = family.familyId;
    // A dump runs alone: the kernel runs one dump per socket, and the netlink package groups a
    // multipart reply across datagrams with one buffer per socket (any other reply in between
    // would cut it short: "Multipart message not terminated properly"). Changes, each answered by
    // one acknowledgement, may be in flight together: the kernel handles them in the order sent.
    const lock = new SharedLock();
    return {
      request: (cmd, attrs, opts = {}) =>
        lock.run(!!opts.dump, async () => {
          try {
            const [msgs] = await socket.request(id, cmd, IPVS_GENL_VERSION, attrs, {
              flags: opts.dump ? nl.FlagsGet.DUMP : 0,
              timeout: REQUEST_TIMEOUT_MS,
            });
            return msgs.map((m) => m.data);
          } catch (e) {
            const m = /Request rejected: (\w+)/.exec(String((e as Error).message));
            if (m) throw new NetlinkError(m[1]!, CMD_NAME.get(cmd) ?? `command ${cmd}`);
            throw e;
          }
        }),
      close() {
        socket.socket.close();
      },
    };
  } catch (e) {
    socket.socket.close();
    throw e;
  }
}

/** Runs shared tasks together and each exclusive task alone, in the order they came. */
export class SharedLock {
  private readonly waiting: Array<{ exclusive: boolean; start: () => void }> = [];
  private shared = 0;
  private exclusive = false;

  async run<T>(exclusive: boolean, fn: () => Promise<T>): Promise<T> {
    if (!this.admissible(exclusive) || this.waiting.length > 0) {
      await new Promise<void>((start) => this.waiting.push({ exclusive, start }));
    } else this.take(exclusive);
    try {
      return await fn();
    } finally {
      if (exclusive) this.exclusive = false;
      else this.shared--;
      this.wake();
    }
  }

  private admissible(exclusive: boolean): boolean {
    return !this.exclusive && (!exclusive || this.shared === 0);
  }

  private take(exclusive: boolean): void {
    if (exclusive) this.exclusive = true;
    else this.shared++;
  }

  private wake(): void {
    while (this.waiting.length > 0 && this.admissible(this.waiting[0]!.exclusive)) {
      const next = this.waiting.shift()!;
      this.take(next.exclusive);
      next.start();
    }
  }
}
