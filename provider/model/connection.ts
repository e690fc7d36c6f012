import { z } from "zod";
import { bracketHost, formatHostPort } from "../net/address";
import { parseHostKeys } from "../transport/target";
import { hostName, port } from "./net";

const PRIVATE_KEY = /-----BEGIN ((OPENSSH|RSA|EC|DSA|ENCRYPTED) )?PRIVATE KEY-----/;
const USER = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$/;

const sshFields = {
  /** Host name or IP address of the SSH server. */
  host: hostName,
  port: port.default(22),
  user: z
    .string({ error: "must be a user name" })
    .regex(USER, { error: "must be a valid user name (letters, digits, _ . -)" })
    .default("root"),
  privateKey: z
    .string({ error: "must be a private key in PEM or OpenSSH format (the key's text, not a path)" })
    .refine((s) => PRIVATE_KEY.test(s), {
      error: "must be a private key in PEM or OpenSSH format (the key's text, not a path)",
    })
    .optional(),
  privateKeyPassphrase: z.string({ error: "must be a string" }).optional(),
  password: z.string({ error: "must be a string" }).min(1, { error: "must not be empty" }).optional(),
  agent: z
    .union([z.boolean(), z.string().min(1)], { error: "must be true, false, or the path of an agent socket" })
    .optional(),
  hostKey: z.string({ error: "must be a string" }).optional(),
  insecureIgnoreHostKey: z.boolean({ error: "must be a boolean" }).default(false),
  dialTimeout: z
    .number({ error: "must be a number of seconds" })
    .positive({ error: "must be more than 0 seconds" })
    .max(600, { error: "must be at most 600 seconds" })
    .default(15),
  dialAttempts: z
    .number({ error: "must be a whole number" })
    .int({ error: "must be a whole number" })
    .min(1, { error: "must be from 1 to 20" })
    .max(20, { error: "must be from 1 to 20" })
    .default(3),
};

function refineSsh(
  c: { hostKey?: string; insecureIgnoreHostKey: boolean; privateKeyPassphrase?: string; privateKey?: string },
  ctx: z.RefinementCtx,
) {
  if (c.hostKey === undefined && !c.insecureIgnoreHostKey) {
    ctx.addIssue({
      code: "custom",
      path: ["hostKey"],
      message:
        "is required: pin the host's public key (e.g. the output of `ssh-keyscan -t ed25519 HOST`, or a line of /etc/ssh/ssh_host_ed25519_key.pub), or set insecureIgnoreHostKey: true",
    });
  }
  if (c.hostKey !== undefined) {
    const { keys, errors } = parseHostKeys(c.hostKey);
    for (const e of errors) ctx.addIssue({ code: "custom", path: ["hostKey"], message: e });
    if (errors.length === 0 && keys.length === 0) {
      ctx.addIssue({ code: "custom", path: ["hostKey"], message: "holds no public key" });
    }
  }
  if (c.privateKeyPassphrase !== undefined && c.privateKey === undefined) {
    ctx.addIssue({ code: "custom", path: ["privateKeyPassphrase"], message: "is set but privateKey is not" });
  }
}

/**
 * Which resource declares an object: `project/stack/name`, set by the SDK (not by users). Recorded
 * in the director's ledger, it lets a rerun take back what an interrupted run of the same resource
 * made, and tells two resources that declare the same object apart.
 */
export const owner = z
  .string({ error: "must be a string" })
  .min(1, { error: "must not be empty" })
  .max(1024, { error: "must be at most 1024 characters" });

/** A jump host: the same fields as a connection, without sudo or a further proxy. */
export const proxyConnection = z.strictObject(sshFields).superRefine(refineSsh);

export const sshConnection = z
  .strictObject({
    ...sshFields,
    /** Run commands through `sudo -n` (for a non-root user with passwordless sudo). */
    sudo: z.boolean({ error: "must be a boolean" }).default(false),
    proxy: proxyConnection.optional(),
  })
  .superRefine(refineSsh);

export type SshConnection = z.infer<typeof sshConnection>;
export type ProxyConnection = z.infer<typeof proxyConnection>;

/**
 * The machine the provider runs on (`{ local: true }`): IPVS through generic netlink, addresses
 * and sysctls directly, no SSH and no ipvsadm. Linux only.
 */
export const localConnection = z
  .strictObject({
    local: z.literal(true, { error: "must be true (for SSH, give host and its other fields instead)" }),
  })
  .superRefine((_, ctx) => {
    if (process.platform !== "linux") {
      ctx.addIssue({
        code: "custom",
        path: ["local"],
        message: `the local connection programs the Linux kernel of the machine pulumi runs on, and this is ${process.platform}: connect to the director over SSH instead`,
      });
    }
  });
export type LocalConnection = z.infer<typeof localConnection>;
export type Connection = SshConnection | LocalConnection;

export { isLocal } from "../transport/target";

/**
 * A connection: `{ local: true }`, or SSH. Which one is decided by the `local` key, so that a
 * failure names the fields of the kind meant (a union would only say "invalid input").
 */
export const connection = z.unknown().transform((v, ctx): Connection => {
  const schema = v !== null && typeof v === "object" && "local" in v ? localConnection : sshConnection;
  const r = schema.safeParse(v);
  if (r.success) return r.data;
  for (const issue of r.error.issues) ctx.addIssue(issue as never);
  return z.NEVER;
});

/** The identity of the host a connection reaches (what the resource ids name). */
export function hostIdOf(c: Connection | ProxyConnection): string {
  if ("local" in c) return "local";
  return c.port === 22 ? bracketHost(c.host) : formatHostPort(c.host, c.port);
}

/**
 * How a resource takes over an object that already exists on its host: `false` fails, `true` takes
 * it over and converges it to the declaration, `"exact"` takes it over only as it is (an object
 * that differs, or is missing, fails the create naming each difference, and nothing is changed).
 * `pulumi-lvs import` writes `"exact"`.
 */
export const adopt = z
  .union([z.boolean(), z.literal("exact")], { error: 'must be true, false or "exact"' })
  .default(false);

/**
 * The host resources (Director, RealServerHost) always take their settings over (recording what
 * they replace); `"exact"` makes the create fail, naming each difference, unless the host already
 * has every setting as declared.
 */
export const hostAdopt = z
  .literal("exact", {
    error: 'must be "exact" (take the host\'s settings over only when they are already as declared)',
  })
  .optional();

/** Whether a resource takes over only what is already exactly as declared. */
export const adoptsExactly = (v: { adopt?: boolean | "exact" }): boolean => v.adopt === "exact";
