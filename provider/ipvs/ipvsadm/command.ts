import type { Change } from "../change";
import {
  addRealServerArgs,
  addServiceArgs,
  deleteRealServerArgs,
  deleteServiceArgs,
  editRealServerArgs,
  editServiceArgs,
} from "../rules/words";
import type { RealServerConfig, VirtualServiceConfig } from "../types";

/** ipvsadm's words for a change (without "ipvsadm"). */
export function argsOf(c: Change): string[] {
  if (c.rs) {
    if (c.kind === "delete") return deleteRealServerArgs(c.service, c.rs);
    const r = c.config as RealServerConfig;
    return c.kind === "add" ? addRealServerArgs(c.service, r) : editRealServerArgs(c.service, r);
  }
  if (c.kind === "delete") return deleteServiceArgs(c.service);
  const s = c.config as VirtualServiceConfig;
  return c.kind === "add" ? addServiceArgs(s) : editServiceArgs(s);
}
