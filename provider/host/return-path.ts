/**
 * LVS-NAT's return path on a real server, by policy routing. The replies of a NAT real server must
 * go back through the director, which rewrites their source to the VIP. Instead of changing the
 * default gateway (which would reroute everything, SSH included, and break clients on the real
 * server's own LAN, whose replies would go straight to them with the wrong source), only packets
 * from the real server's address and a service port are routed through the director:
 *
 * - a routing table of its own ({@link NAT_TABLE}) with one route, default via the director;
 * - one rule per (address, port), before the main table (priority {@link NAT_RULE_PRIORITY}):
 *   `from ADDRESS sport PORT lookup NAT_TABLE`.
 *
 * The main table, the default route and every other packet stay as they were, so the SSH session
 * pulumi-lvs manages the host through is routed as before (unless it comes from a service port).
 * IPv4 only.
 */
import { shellJoin } from "../transport/transport";
import type { HostObject } from "./probe";

/** The routing table of the return path (an unused number, away from main 254 / default 253 / local 255). */
export const NAT_TABLE = 7100;
/** The rules' priority: before main (32766), after local (0). */
export const NAT_RULE_PRIORITY = 7100;

/** The rule that sends the replies from `address`:`port` to {@link NAT_TABLE}. */
export function natRule(address: string, port: number): HostObject {
  const spec = ["from", address, "sport", String(port), "lookup", String(NAT_TABLE)];
  const rule = (verb: string) => shellJoin(["ip", "rule", verb, "priority", String(NAT_RULE_PRIORITY), ...spec]);
  const deleteAll = `while ${rule("del")} 2>/dev/null; do :; done`;
  return {
    kind: "rule",
    // as `ip rule show` prints it (tabs made spaces, see the probe's listing)
    name: `${NAT_RULE_PRIORITY}: ${spec.join(" ")}`,
    // `ip rule add` adds a rule twice: delete every copy first
    add: `${deleteAll}; ${rule("add")}`,
    remove: deleteAll,
  };
}

/** The one route of {@link NAT_TABLE}: default via the director, out of `device`. */
export function natRoute(gateway: string, device: string): HostObject {
  const route = ["default", "via", gateway, "dev", device];
  return {
    kind: "route",
    // as `ip route show table` prints it
    name: route.join(" "),
    add: shellJoin(["ip", "route", "replace", ...route, "table", String(NAT_TABLE)]),
    remove: `${shellJoin(["ip", "route", "del", "default", "table", String(NAT_TABLE)])} 2>/dev/null || true`,
  };
}
