/** What the "web" service of the e2e programs is made of. */
export interface WebServiceOptions {
  /** The virtual service's address (tcp, port 80). */
  vip: string;
  /** The real servers, name → address, in this order. */
  realServers: Record<string, string>;
  /** The forwarding method of every real server. */
  forwarding: "dr" | "nat";
  /** More inputs of the service (they come before `realServers`). */
  extra?: Record<string, unknown>;
  /** More inputs of a real server, by its name. */
  rsExtra?: Record<string, Record<string, unknown>>;
}

/** The "web" service as the e2e programs take it from the stack's `services` config: tcp VIP:80, round robin. */
export function webService(o: WebServiceOptions) {
  return {
    name: "web",
    protocol: "tcp",
    address: o.vip,
    port: 80,
    scheduler: "rr",
    ...o.extra,
    realServers: Object.entries(o.realServers).map(([name, address]) => ({
      name,
      address,
      forwarding: o.forwarding,
      ...o.rsExtra?.[name],
    })),
  };
}
