/**
 * Parses rules in ipvsadm(8)'s rule form (`ipvsadm -S -n` prints it, `ipvsadm -R` and the ledger
 * read it). Pure functions, tested against output captured from the real tool
 * (test/unit/fixtures/ipvsadm/). `ipvsadm -S` holds no thresholds: see ipvsadm/thresholds.ts.
 */
import { AddressError, fullHostNetmask, parseHostPort } from "../../net/address";
import {
  type ForwardingMethod,
  familyOfKey,
  type IpvsTable,
  orderedFlags,
  type Protocol,
  type RealServerConfig,
  SCHEDULER_FLAGS,
  SCHEDULERS,
  type Scheduler,
  type SchedulerFlag,
  type ServiceEntry,
  type ServiceKey,
  serviceKeyText,
  TUNNEL_CHECKSUMS,
  TUNNEL_TYPES,
  type TunnelChecksum,
  type TunnelType,
  type VirtualServiceConfig,
} from "../types";

export class ParseError extends Error {
  constructor(
    message: string,
    readonly line: string,
  ) {
    super(`cannot parse ipvsadm output: ${message}: "${line}"`);
    this.name = "ParseError";
  }
}

/** Splits `addr:port`, `[v6]:port` or a bare address (port 0). */
export function splitHostPort(text: string, line: string): { address: string; port: number } {
  try {
    const { address, port } = parseHostPort(text);
    return { address, port: port ?? 0 };
  } catch (e) {
    if (e instanceof AddressError) throw new ParseError(`bad address "${text}"`, line);
    throw e;
  }
}

interface RuleWords {
  key: ServiceKey;
  rest: string[];
}

/** Reads the service-naming words of a rule (`-t a:p`, `-u …`, `--sctp-service …`, `-f N [-6]`). */
export function takeServiceKey(words: string[], line: string): RuleWords {
  const rest: string[] = [];
  let key: ServiceKey | undefined;
  let fwmark: number | undefined;
  let v6 = false;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const proto: Protocol | undefined =
      w === "-t" || w === "--tcp-service"
        ? "tcp"
        : w === "-u" || w === "--udp-service"
          ? "udp"
          : w === "--sctp-service"
            ? "sctp"
            : undefined;
    if (proto) {
      const hp = splitHostPort(words[++i] ?? "", line);
      key = { protocol: proto, address: hp.address, port: hp.port };
    } else if (w === "-f" || w === "--fwmark-service") {
      fwmark = Number(words[++i]);
      if (!Number.isInteger(fwmark)) throw new ParseError("bad fwmark", line);
    } else if (w === "-6" || w === "--ipv6") {
      v6 = true;
    } else rest.push(w);
  }
  if (fwmark !== undefined) key = { fwmark, family: v6 ? "ipv6" : "ipv4" };
  if (!key) throw new ParseError("no service", line);
  return { key, rest };
}

/** Parses `ipvsadm -S -n` (also the format `ipvsadm -R` reads). */
export function parseRules(text: string): IpvsTable {
  const services: ServiceEntry[] = [];
  const byKey = new Map<string, ServiceEntry>();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const words = line.split(/\s+/);
    const cmd = words.shift();
    if (cmd === "-A" || cmd === "--add-service") {
      const { key, rest } = takeServiceKey(words, line);
      const svc = parseServiceOptions(key, rest, line);
      const entry: ServiceEntry = { config: svc, realServers: [] };
      services.push(entry);
      byKey.set(serviceKeyText(key), entry);
    } else if (cmd === "-a" || cmd === "--add-server") {
      const { key, rest } = takeServiceKey(words, line);
      const entry = byKey.get(serviceKeyText(key));
      if (!entry) throw new ParseError("real server of an unknown service", line);
      entry.realServers.push({ config: parseRealServerOptions(rest, line) });
    } else {
      throw new ParseError(`unexpected command "${cmd}"`, line);
    }
  }
  return { services };
}

function parseServiceOptions(key: ServiceKey, words: string[], line: string): VirtualServiceConfig {
  const svc: VirtualServiceConfig = { key, scheduler: "wlc", schedulerFlags: [], onePacket: false };
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    switch (w) {
      case "-s":
      case "--scheduler": {
        const s = words[++i] as Scheduler;
        if (!SCHEDULERS.includes(s)) throw new ParseError(`unknown scheduler "${s}"`, line);
        svc.scheduler = s;
        break;
      }
      case "-p":
      case "--persistent": {
        const next = words[i + 1];
        const timeout = next !== undefined && /^\d+$/.test(next) ? Number(words[++i]) : 300;
        svc.persistence = { timeout, netmask: fullHostNetmask(familyOfKey(key)) };
        break;
      }
      case "-M":
      case "--netmask": {
        const m = words[++i]!;
        if (!svc.persistence) svc.persistence = { timeout: 300, netmask: m };
        svc.persistence.netmask = m;
        break;
      }
      case "--pe": {
        const pe = words[++i];
        if (pe !== "sip") throw new ParseError(`unknown persistence engine "${pe}"`, line);
        svc.pe = pe;
        break;
      }
      case "-o":
      case "--ops":
        svc.onePacket = true;
        break;
      case "-b":
      case "--sched-flags": {
        const flags = (words[++i] ?? "").split(",").filter(Boolean) as SchedulerFlag[];
        for (const f of flags)
          if (!SCHEDULER_FLAGS.includes(f)) throw new ParseError(`unknown scheduler flag "${f}"`, line);
        svc.schedulerFlags = orderedFlags(flags);
        break;
      }
      default:
        throw new ParseError(`unexpected word "${w}"`, line);
    }
  }
  return svc;
}

const FORWARDING: Record<string, ForwardingMethod> = {
  "-m": "nat",
  "--masquerading": "nat",
  "-g": "dr",
  "--gatewaying": "dr",
  "-i": "tun",
  "--ipip": "tun",
};

function parseRealServerOptions(words: string[], line: string): RealServerConfig {
  let address: string | undefined;
  let port = 0;
  const rs: Omit<RealServerConfig, "address" | "port"> = {
    forwarding: "dr",
    weight: 1,
    upperThreshold: 0,
    lowerThreshold: 0,
  };
  let tunType: TunnelType | undefined;
  let tunPort: number | undefined;
  let tunCsum: TunnelChecksum | undefined;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w === "-r" || w === "--real-server") {
      const hp = splitHostPort(words[++i] ?? "", line);
      address = hp.address;
      port = hp.port;
    } else if (FORWARDING[w]) {
      rs.forwarding = FORWARDING[w]!;
    } else if (w === "-w" || w === "--weight") {
      rs.weight = Number(words[++i]);
    } else if (w === "-x" || w === "--u-threshold") {
      rs.upperThreshold = Number(words[++i]);
    } else if (w === "-y" || w === "--l-threshold") {
      rs.lowerThreshold = Number(words[++i]);
    } else if (w === "--tun-type" || w === "-T") {
      const t = words[++i] as TunnelType;
      if (!TUNNEL_TYPES.includes(t)) throw new ParseError(`unknown tunnel type "${t}"`, line);
      tunType = t;
    } else if (w === "--tun-port") {
      tunPort = Number(words[++i]);
    } else if (w.startsWith("--tun-") && TUNNEL_CHECKSUMS.includes(w.slice(6) as TunnelChecksum)) {
      tunCsum = w.slice(6) as TunnelChecksum;
    } else {
      throw new ParseError(`unexpected word "${w}"`, line);
    }
  }
  if (address === undefined) throw new ParseError("real server without -r", line);
  const out: RealServerConfig = { address, port, ...rs };
  if (tunType && tunType !== "ipip") {
    out.tunnel = { type: tunType };
    if (tunPort !== undefined) out.tunnel.port = tunPort;
    if (tunCsum !== undefined) out.tunnel.checksum = tunCsum;
  }
  return out;
}
