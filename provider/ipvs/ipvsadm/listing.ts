/**
 * Reads `ipvsadm -L -n` (the listing: a line per service, `  -> ` a line per real server), of the
 * whole table or of one service (`ipvsadm -L -n -t 10.0.0.1:80`), with or without `--thresholds`
 * or `--tun-info`. Pure functions, tested against output captured from the real tool
 * (test/unit/fixtures/ipvsadm/).
 */
import { ParseError, splitHostPort } from "../rules/parse";
import { serviceArgs } from "../rules/words";
import { type Protocol, type RealServerKey, realServerKeyText, type ServiceKey, serviceKeyText } from "../types";

/** The listing's name of each protocol (`TCP  10.0.0.1:80 rr`); fwmark services are `FWM  7 [IPv6] …`. */
const LISTED_PROTOCOLS: Record<string, Protocol> = { TCP: "tcp", UDP: "udp", SCTP: "sctp" };

/** Whether a line is one of the listing's headings (the version, the column names). */
function isHeading(line: string): boolean {
  return line.startsWith("IP Virtual Server") || line.startsWith("Prot ") || line.startsWith("-> RemoteAddress");
}

/**
 * A service's line of the listing (`TCP  10.0.0.1:80 rr persistent 300`, `FWM  8 IPv6 fo`): its
 * key, and the words after the key (the scheduler and flags, or with `--thresholds` nothing).
 * @param words the line's words
 * @param line the line, for messages
 */
export function listedService(words: readonly string[], line: string): { key: ServiceKey; rest: string[] } {
  const [name, id] = words;
  if (name === "FWM") {
    const ipv6 = words[2] === "IPv6";
    return { key: { fwmark: Number(id), family: ipv6 ? "ipv6" : "ipv4" }, rest: words.slice(ipv6 ? 3 : 2) };
  }
  const protocol = LISTED_PROTOCOLS[name ?? ""];
  if (!protocol) throw new ParseError("unexpected line", line);
  const hp = splitHostPort(id ?? "", line);
  return { key: { protocol, address: hp.address, port: hp.port }, rest: words.slice(2) };
}

/** The text that names an object, a service or a real server of it: `tcp/10.0.0.1:80`, `tcp/10.0.0.1:80 10.0.0.11:80`. */
export function objectText(service: ServiceKey, rs?: RealServerKey): string {
  return rs ? `${serviceKeyText(service)} ${realServerKeyText(rs)}` : serviceKeyText(service);
}

/**
 * One line of a listing: a service's own (its key, and the words after it), or a real server's
 * (`realServer`: its words after `->`, under the service above it). What every listing reader
 * walks.
 */
export interface ListingRow {
  service: ServiceKey;
  /** The service line's words after its key (`rr persistent 300`; nothing with `--thresholds`). */
  rest: string[];
  /** On a real server's line: its words after `->` (address, columns, connection counters). */
  realServer?: string[];
  line: string;
}

/** The rows of a listing, headings and blank lines left out. */
export function listingRows(text: string): ListingRow[] {
  const rows: ListingRow[] = [];
  let service: { key: ServiceKey; rest: string[] } | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (isListingFiller(line)) continue;
    const words = line.split(/\s+/);
    if (words[0] === "->") {
      if (!service) throw new ParseError("real server before any service", line);
      rows.push({ service: service.key, rest: service.rest, realServer: words.slice(1), line });
      continue;
    }
    service = listedService(words, line);
    rows.push({ service: service.key, rest: service.rest, line });
  }
  return rows;
}

/**
 * The objects a listing shows, each with its state as listed, the connection counters left out:
 * a service's scheduler and flags (`rr persistent 300`), a real server's forwarding method (with
 * `--tun-info`, its tunnel) and weight (`Masq 1`). Keys are {@link objectText}.
 */
export function parseListing(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const r of listingRows(text)) {
    if (!r.realServer) {
      out.set(objectText(r.service), r.rest.join(" "));
      continue;
    }
    // the last two columns are the connection counters
    if (r.realServer.length < 3) throw new ParseError("too few columns", r.line);
    const hp = splitHostPort(r.realServer[0]!, r.line);
    out.set(objectText(r.service, hp), r.realServer.slice(1, -2).join(" "));
  }
  return out;
}

/** Whether a listing line is a heading or blank. */
function isListingFiller(line: string): boolean {
  return line === "" || isHeading(line);
}

/** The listing's forwarding column, as `ipvsadm -S` writes it. */
const FORWARD_SWITCH: Record<string, string> = { Route: "-g", Masq: "-m", Tunnel: "-i" };
/** The checksum part of the listing's tunnel column (`gue:6080:-c`, `gre:+c`), as `ipvsadm -S` writes it. */
const CHECKSUM_SWITCH: Record<string, string> = { "-c": "--tun-nocsum", "+c": "--tun-csum", "r+c": "--tun-remcsum" };

/** A service line's words after its key (`sh (sh-fallback,sh-port) persistent 600 mask 64 pe sip ops`) as rule words. */
function serviceRuleWords(rest: readonly string[], line: string): string[] {
  const [scheduler, ...more] = rest;
  if (!scheduler) throw new ParseError("no scheduler", line);
  const out = ["-s", scheduler];
  for (let i = 0; i < more.length; i++) {
    const w = more[i]!;
    const value = () => {
      const v = more[++i];
      if (v === undefined) throw new ParseError(`${w} without a value`, line);
      return v;
    };
    if (w.startsWith("(") && w.endsWith(")")) out.push("-b", w.slice(1, -1));
    else if (w === "persistent") out.push("-p", value());
    else if (w === "mask") out.push("-M", value());
    else if (w === "pe") out.push("--pe", value());
    else if (w === "ops") out.push("-o");
    else throw new ParseError(`unknown word ${w}`, line);
  }
  return out;
}

/** The listing's tunnel column (`n/a`, `ipip`, `gue:6080:-c`, `gre:+c`) as rule words. */
function tunnelRuleWords(column: string, line: string): string[] {
  if (column === "n/a") return [];
  const [type, ...parts] = column.split(":");
  const out = ["--tun-type", type!];
  for (const p of parts) {
    if (/^\d+$/.test(p)) out.push("--tun-port", p);
    else if (CHECKSUM_SWITCH[p]) out.push(CHECKSUM_SWITCH[p]);
    else throw new ParseError(`unknown tunnel flag ${p}`, line);
  }
  return out;
}

/**
 * `ipvsadm -L -n --tun-info` (of the whole table, or of one service with `-t …`) as the rules
 * `ipvsadm -S -n` prints for the same services (without thresholds: `--thresholds` lists them).
 * Pure; what it cannot read is a {@link ParseError}, never a guess.
 */
export function rulesOfTunInfoListing(text: string): string {
  return listingRows(text)
    .map((r) => {
      const service = serviceArgs(r.service);
      if (!r.realServer) return ["-A", ...service, ...serviceRuleWords(r.rest, r.line)].join(" ");
      // address, forwarding, tunnel, weight, then the two connection counters
      if (r.realServer.length < 6) throw new ParseError("too few columns", r.line);
      const [address, forward, tunnel, weight] = r.realServer;
      const sw = FORWARD_SWITCH[forward!];
      if (!sw) throw new ParseError(`unknown forwarding ${forward}`, r.line);
      return ["-a", ...service, "-r", address!, sw, "-w", weight!, ...tunnelRuleWords(tunnel!, r.line)].join(" ");
    })
    .join("\n");
}
