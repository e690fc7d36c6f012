// The @pulumi/command way: one remote.Command per service and per real server, each running the
// equivalent ipvsadm command on create and its inverse on delete. Each appends a line to a counter
// file on the director with the shell's builtin echo, so that the benchmark counts the commands.
const fs = require("node:fs");
const pulumi = require("@pulumi/pulumi");
const command = require("@pulumi/command");

const config = new pulumi.Config();
const d = config.requireObject("director");
// with hostKey, remote.Command checks the host key (and offers only its algorithm)
const connection = {
  host: d.host,
  port: d.port,
  user: d.user,
  hostKey: d.hostKey,
  privateKey: config.requireSecret("privateKey"),
};
const count = "echo x >> /run/pulumi-lvs-bench.count";
// servicesFile: a JSON file of [{name, address, port, realServers: [{name, address}]}], written by bench/bench.ts (too large for
// a config value at 10,000 real servers)
for (const s of JSON.parse(fs.readFileSync(config.require("servicesFile"), "utf8"))) {
  const vip = `${s.address}:${s.port}`;
  const vs = new command.remote.Command(s.name, {
    connection,
    create: `${count}; ipvsadm -A -t ${vip} -s rr`,
    delete: `${count}; ipvsadm -D -t ${vip}`,
  });
  for (const r of s.realServers) {
    new command.remote.Command(
      r.name,
      {
        connection,
        create: `${count}; ipvsadm -a -t ${vip} -r ${r.address}:80 -m -w 1`,
        delete: `${count}; ipvsadm -d -t ${vip} -r ${r.address}:80`,
      },
      { dependsOn: [vs] },
    );
  }
}
