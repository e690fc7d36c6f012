/**
 * Parses `ipvsadm -L -n --thresholds`: thresholds and connection counts, which `ipvsadm -S` (the
 * rule form, rules/parse.ts) does not show.
 */
import { ParseError, splitHostPort } from "../rules/parse";
import { type IpvsTable, type ServiceKey, serviceKeyText } from "../types";
import { listingRows } from "./listing";

/** Thresholds and connection counts of one real server, from `ipvsadm -L -n --thresholds`. */
export interface ThresholdRow {
  service: ServiceKey;
  address: string;
  port: number;
  upperThreshold: number;
  lowerThreshold: number;
  activeConnections: number;
  inactiveConnections: number;
}

/** Parses `ipvsadm -L -n --thresholds`. */
export function parseThresholds(text: string): ThresholdRow[] {
  return listingRows(text).flatMap((r) => {
    if (!r.realServer) return [];
    const hp = splitHostPort(r.realServer[0]!, r.line);
    const nums = r.realServer.slice(1).map(Number);
    if (nums.length < 4 || nums.some((n) => !Number.isFinite(n))) throw new ParseError("expected 4 numbers", r.line);
    return [
      {
        service: r.service,
        address: hp.address,
        port: hp.port,
        upperThreshold: nums[0]!,
        lowerThreshold: nums[1]!,
        activeConnections: nums[2]!,
        inactiveConnections: nums[3]!,
      },
    ];
  });
}

/** Puts thresholds and counts from {@link parseThresholds} into a table parsed by {@link parseRules}. */
export function mergeThresholds(table: IpvsTable, rows: ThresholdRow[]): void {
  const bySvc = new Map(table.services.map((s) => [serviceKeyText(s.config.key), s]));
  for (const r of rows) {
    const svc = bySvc.get(serviceKeyText(r.service));
    const rs = svc?.realServers.find((x) => x.config.address === r.address && x.config.port === r.port);
    if (!rs) continue;
    rs.config.upperThreshold = r.upperThreshold;
    rs.config.lowerThreshold = r.lowerThreshold;
    rs.stats = { activeConnections: r.activeConnections, inactiveConnections: r.inactiveConnections };
  }
}
