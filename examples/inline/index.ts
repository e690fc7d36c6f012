// Inline real servers: one VirtualService lists its real servers in a map keyed by
// `address[:port]`. The whole table is one resource: an `up` applies only the entries that
// changed, in one round trip; a refresh reads them all in one; `preview --diff` shows each entry
// by its key. A table of thousands of real servers is a handful of resources.
//
// Stack config (the tests fill it from the lab; change it to target real hosts):
//   director      SSH connection to the director: {host, port, user, hostKey}
//   privateKey    the SSH private key (secret), used for every host
//   vip           the virtual IP (default 10.0.0.100)
//   backends      [{address, ssh: {host, port, user, hostKey}, weight?}]  each host is prepared for LVS-DR
//   engine        "ipvsadm" (default), or "keepalived": keepalived makes the rules and checks every
//                 real server over HTTP
//   drainTimeout  seconds a removed real server keeps its open connections (default 0)
//   form          "inline" (default), or "separate": the same real servers as RealServer resources.
//                 Moving a stack from "separate" to "inline" hands the real servers over to the
//                 service without removing any from the kernel.
import * as pulumi from "@pulumi/pulumi";
import * as lvs from "pulumi-lvs";

interface Backend {
  address: string;
  ssh: lvs.SshConnectionArgs;
  weight?: number;
}

const config = new pulumi.Config();
const privateKey = config.requireSecret("privateKey");
const backends = config.requireObject<Backend[]>("backends");
const vip = config.get("vip") ?? "10.0.0.100";
const engine = (config.get("engine") ?? "ipvsadm") as "ipvsadm" | "keepalived";
const form = config.get("form") ?? "inline";
const connection = { ...config.requireObject<lvs.SshConnectionArgs>("director"), privateKey };

// keepalived checks each real server's HTTP answer: one that fails leaves the table
const healthCheck =
  engine === "keepalived"
    ? { type: "http" as const, path: "/", interval: 2, timeout: 1, retries: 1, retryDelay: 1 }
    : undefined;

const director = new lvs.Director("director", { connection, vips: [{ address: vip, interface: "eth0" }] });
// The real servers' hosts: the VIP on loopback, ARP for it silenced (LVS-DR).
const hosts = backends.map(
  (b) =>
    new lvs.RealServerHost(`host-${b.address}`, {
      connection: { ...b.ssh, privateKey },
      mode: "dr",
      vips: [vip],
    }),
);

const service = new lvs.VirtualService(
  "web",
  {
    connection,
    engine,
    protocol: "tcp",
    address: vip,
    port: 80,
    scheduler: "rr",
    drainTimeout: config.getNumber("drainTimeout") ?? 0,
    realServers:
      form === "inline"
        ? Object.fromEntries(backends.map((b) => [b.address, { weight: b.weight ?? 1, healthCheck }]))
        : undefined,
  },
  { dependsOn: [director, ...hosts] },
);

if (form === "separate") {
  for (const [i, b] of backends.entries()) {
    new lvs.RealServer(
      `web-${b.address}`,
      { service, address: b.address, weight: b.weight ?? 1, healthCheck },
      { dependsOn: [hosts[i]!] },
    );
  }
}

export const serviceId = service.id;
export const realServers = service.realServers;
export const strays = service.strayRealServers;
