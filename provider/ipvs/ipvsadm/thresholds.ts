/**
 * Parses `ipvsadm -L -n --thresholds`: thresholds and connection counts, which `ipvsadm -S` (the
 * rule form, rules/parse.ts) does not show.
 */
import { ParseError, splitHostPort } from "../rules/parse";
import { type IpvsTable, type ServiceKey, serviceKeyText } from "../types";
import { isListingFiller, listedService } from "./listing";

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
  const rows: ThresholdRow[] = [];
  let service: ServiceKey | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (isListingFiller(line)) continue;
    const words = line.split(/\s+/);
    if (words[0] === "->") {
      if (!service) throw new ParseError("real server before any service", line);
      const hp = splitHostPort(words[1]!, line);
      const nums = words.slice(2).map(Number);
      if (nums.length < 4 || nums.some((n) => !Number.isFinite(n))) throw new ParseError("expected 4 numbers", line);
      rows.push({
        service,
        address: hp.address,
        port: hp.port,
        upperThreshold: nums[0]!,
        lowerThreshold: nums[1]!,
        activeConnections: nums[2]!,
        inactiveConnections: nums[3]!,
      });
      continue;
    }
    service = listedService(words, line).key;
  }
  return rows;
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
