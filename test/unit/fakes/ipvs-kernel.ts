/**
 * A stand-in for the kernel's IPVS generic netlink family, for unit tests of the netlink client:
 * it keeps services and destinations as the attributes it was sent, answers dumps the way the
 * kernel does (the HASHED flag set, connection counters added) and refuses requests with the
 * kernel's errno names (EEXIST, ESRCH, ENOENT, EINVAL). The real kernel is tested in the lab.
 */
import { Cmd, CmdAttr, DestAttr, SvcAttr, SvcFlag } from "../../../provider/ipvs/netlink/constants";
import { type IpvsSocket, NetlinkError } from "../../../provider/ipvs/netlink/socket";
import { type Attr, decodeAttrs, encodeAttrs, u32 } from "../../../provider/ipvs/netlink/wire";
import { SCHEDULERS, type Scheduler } from "../../../provider/ipvs/types";

type Attrs = Map<number, Buffer>;
/** The schedulers of the kernel it stands for (Debian 12's 6.1: no twos). */
export const KERNEL_SCHEDULERS: readonly Scheduler[] = SCHEDULERS.filter((s) => s !== "twos");

export class FakeIpvsKernel implements IpvsSocket {
  readonly services = new Map<string, { attrs: Attrs; dests: Map<string, Attrs> }>();
  /** Every command received, in order. */
  readonly received: number[] = [];
  /** The connection timeouts (SET_CONFIG, GET_CONFIG), in seconds: Linux's defaults. */
  readonly timeouts = new Map<number, number>([
    [CmdAttr.TIMEOUT_TCP, 900],
    [CmdAttr.TIMEOUT_TCP_FIN, 120],
    [CmdAttr.TIMEOUT_UDP, 300],
  ]);
  /** Refuse the next request of this command with this errno name. */
  refuseNext?: { cmd: number; code: string };

  async request(cmd: number, data: Buffer, opts: { dump?: boolean } = {}): Promise<Buffer[]> {
    this.received.push(cmd);
    await Promise.resolve();
    if (this.refuseNext?.cmd === cmd) {
      const { code } = this.refuseNext;
      this.refuseNext = undefined;
      throw new NetlinkError(code, `command ${cmd}`);
    }
    const top = decodeAttrs(data);
    const svcAttrs = top.has(CmdAttr.SERVICE) ? decodeAttrs(top.get(CmdAttr.SERVICE)!) : undefined;
    const destAttrs = top.has(CmdAttr.DEST) ? decodeAttrs(top.get(CmdAttr.DEST)!) : undefined;
    const fail = (code: string): never => {
      throw new NetlinkError(code, `command ${cmd}`);
    };
    if (cmd === Cmd.GET_SERVICE && opts.dump) {
      return [...this.services.values()].map((s) => {
        const out = new Map(s.attrs);
        const f = out.get(SvcAttr.FLAGS)!;
        out.set(SvcAttr.FLAGS, Buffer.concat([u32(f.readUInt32LE(0) | SvcFlag.HASHED), u32(0xffffffff)]));
        return encodeAttrs([[CmdAttr.SERVICE, encodeAttrs([...out.entries()] as Attr[])]]);
      });
    }
    if (cmd === Cmd.GET_CONFIG) return [encodeAttrs([...this.timeouts.entries()].map(([k, v]) => [k, u32(v)]))];
    if (cmd === Cmd.SET_CONFIG) {
      // as the kernel: a 0 leaves that timeout as it is
      for (const k of this.timeouts.keys()) {
        const v = top.get(k)?.readUInt32LE(0);
        if (v) this.timeouts.set(k, v);
      }
      return [];
    }
    if (!svcAttrs) return fail("EINVAL");
    const id = serviceId(svcAttrs);
    const svc = this.services.get(id);
    switch (cmd) {
      case Cmd.NEW_SERVICE:
        if (![SvcAttr.SCHED_NAME, SvcAttr.FLAGS, SvcAttr.TIMEOUT, SvcAttr.NETMASK].every((a) => svcAttrs.has(a))) {
          return fail("EINVAL");
        }
        if (svc) return fail("EEXIST");
        if (
          !KERNEL_SCHEDULERS.includes(svcAttrs.get(SvcAttr.SCHED_NAME)!.toString().replace(/\0.*$/, "") as Scheduler)
        ) {
          return fail("ENOENT");
        }
        this.services.set(id, { attrs: svcAttrs, dests: new Map() });
        return [];
      case Cmd.SET_SERVICE:
        if (!svc) return fail("ESRCH");
        svc.attrs = svcAttrs;
        return [];
      case Cmd.DEL_SERVICE:
        if (!svc) return fail("ESRCH");
        this.services.delete(id);
        return [];
      case Cmd.GET_DEST:
        if (!svc) return fail("ESRCH");
        return [...svc.dests.values()].map((d) => {
          const out = new Map(d);
          out.set(DestAttr.ACTIVE_CONNS, u32(3));
          out.set(DestAttr.INACT_CONNS, u32(4));
          return encodeAttrs([[CmdAttr.DEST, encodeAttrs([...out.entries()] as Attr[])]]);
        });
    }
    if (!svc) return fail("ESRCH");
    if (!destAttrs) return fail("EINVAL");
    const did = hex(destAttrs.get(DestAttr.ADDR)) + hex(destAttrs.get(DestAttr.PORT));
    const dest = svc.dests.get(did);
    switch (cmd) {
      case Cmd.NEW_DEST:
        if (
          ![DestAttr.FWD_METHOD, DestAttr.WEIGHT, DestAttr.U_THRESH, DestAttr.L_THRESH].every((a) => destAttrs.has(a))
        ) {
          return fail("EINVAL");
        }
        if (dest) return fail("EEXIST");
        svc.dests.set(did, destAttrs);
        return [];
      case Cmd.SET_DEST:
        if (!dest) return fail("ENOENT");
        svc.dests.set(did, destAttrs);
        return [];
      case Cmd.DEL_DEST:
        if (!dest) return fail("ENOENT");
        svc.dests.delete(did);
        return [];
    }
    return fail("EOPNOTSUPP");
  }

  close(): void {}
}

const hex = (b: Buffer | undefined) => (b ? b.toString("hex") : "-");

function serviceId(a: Attrs): string {
  if (a.has(SvcAttr.FWMARK)) return `${hex(a.get(SvcAttr.AF))}/fwmark/${hex(a.get(SvcAttr.FWMARK))}`;
  return [SvcAttr.AF, SvcAttr.PROTOCOL, SvcAttr.ADDR, SvcAttr.PORT].map((t) => hex(a.get(t))).join("/");
}
