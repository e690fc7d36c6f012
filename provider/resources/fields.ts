/**
 * How a change of each input of a resource reaches its host, in one table: `replace` (the object
 * is deleted and made again: its identity changed), `update` (changed in place), or `host` (the
 * connection: a change of host, port or jump host replaces, other changes update). `diff` reads
 * it, and the SDK's documentation says the same (test/unit/fields.test.ts checks it).
 */
export type FieldChange = "replace" | "update" | "host";

export const FIELDS = {
  VirtualService: {
    connection: "host",
    protocol: "replace",
    address: "replace",
    port: "replace",
    fwmark: "replace",
    family: "replace",
    engine: "replace",
    scheduler: "update",
    schedulerFlags: "update",
    persistence: "update",
    pe: "update",
    onePacket: "update",
    exclusive: "update",
    adopt: "update",
    sorryServer: "update",
    realServers: "update",
    drainTimeout: "update",
  },
  RealServer: {
    service: "replace",
    address: "replace",
    port: "replace",
    forwarding: "update",
    weight: "update",
    upperThreshold: "update",
    lowerThreshold: "update",
    tunnel: "update",
    adopt: "update",
    healthCheck: "update",
    inhibitOnFailure: "update",
    drainTimeout: "update",
  },
  VrrpInstance: {
    connection: "host",
    name: "replace",
    interface: "update",
    virtualRouterId: "update",
    priority: "update",
    advertInterval: "update",
    vips: "update",
    authPass: "update",
    initialState: "update",
    preempt: "update",
    preemptDelay: "update",
    unicastPeers: "update",
    unicastSourceAddress: "update",
    sync: "update",
    adopt: "update",
  },
  Director: {
    connection: "host",
    ipForward: "update",
    ipv6Forward: "update",
    ipvsSysctls: "update",
    sysctls: "update",
    timeouts: "update",
    modules: "update",
    vips: "update",
    persist: "update",
    adopt: "update",
  },
  RealServerHost: {
    connection: "host",
    mode: "update",
    vips: "update",
    interface: "update",
    tunnels: "update",
    arpInterfaces: "update",
    addresses: "update",
    gateway: "update",
    ports: "update",
    persist: "update",
    adopt: "update",
  },
} as const satisfies Record<string, Record<string, FieldChange>>;

export type ResourceKind = keyof typeof FIELDS;

/** The fields of a resource that change in one way. */
export function fieldsThat(kind: ResourceKind, change: FieldChange): string[] {
  return Object.entries(FIELDS[kind])
    .filter(([, c]) => c === change)
    .map(([f]) => f);
}

/** What `diff` compares: the identity (replaces) and the configuration (updates), connection aside. */
export function diffFields(kind: ResourceKind): { identity: string[]; config: string[] } {
  return { identity: fieldsThat(kind, "replace"), config: fieldsThat(kind, "update") };
}
