import * as fs from "node:fs";
import * as path from "node:path";
import { cacheDir } from "./paths";

/** One line of a suite's summary: what was tried, how many cases failed, and what was measured. */
export interface Figure {
  area: string;
  tried: number;
  failed: number;
  /** Measurements, e.g. "1 SSH connection, 41.2 s". */
  measured?: string;
}

/**
 * Collects a suite's figures and prints them as a table when the suite ends (also written to
 * `<cache>/figures-<suite>.json`, to quote in README).
 */
export class Figures {
  private readonly rows: Figure[] = [];
  constructor(private readonly suite: string) {}

  record(f: Figure): void {
    this.rows.push(f);
  }

  print(): void {
    const head = ["area", "tried", "failed", "measured"];
    const rows = this.rows.map((r) => [r.area, String(r.tried), String(r.failed), r.measured ?? ""]);
    const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (cells: string[]) => cells.map((c, i) => c.padEnd(width[i]!)).join("  ");
    const total = this.rows.reduce((a, r) => ({ tried: a.tried + r.tried, failed: a.failed + r.failed }), {
      tried: 0,
      failed: 0,
    });
    const text = [
      `\n${this.suite}: ${total.tried} cases tried, ${total.failed} failed`,
      line(head),
      line(width.map((w) => "-".repeat(w))),
      ...rows.map(line),
      "",
    ].join("\n");
    process.stdout.write(text);
    fs.mkdirSync(cacheDir, { recursive: true });
    fs.writeFileSync(path.join(cacheDir, `figures-${this.suite}.json`), JSON.stringify(this.rows, null, 2));
  }
}
