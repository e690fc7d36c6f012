/**
 * The keepalived side of the model: VRRP instances (a director pair sharing VIPs), and the health
 * checks, sorry server and drain settings that the keepalived engine renders for virtual services
 * and real servers.
 */
import { z } from "zod";
import { hostPrefix, isMulticast, maxPrefix } from "../net/address";
import { connection, owner } from "./connection";
import { interfaceName } from "./host";
import { ipAddress, port } from "./net";

/** The forwarding engines of a virtual service: ipvsadm commands, or a keepalived `virtual_server` block. */
export const ENGINES = ["ipvsadm", "keepalived"] as const;
export type Engine = (typeof ENGINES)[number];

const seconds = (what: string, min: number, max: number) =>
  z
    .number({ error: `must be ${what} (a number of seconds from ${min} to ${max})` })
    .min(min, { error: `must be from ${min} to ${max} seconds` })
    .max(max, { error: `must be from ${min} to ${max} seconds` });

const count = (what: string, max: number) =>
  z
    .number({ error: `must be ${what} (an integer from 0 to ${max})` })
    .int({ error: "must be an integer" })
    .min(0, { error: `must be from 0 to ${max}` })
    .max(max, { error: `must be from 0 to ${max}` });

/** Text that lands in keepalived's configuration: one line, no quotes, no comment or block characters. */
const configText = (what: string) =>
  z
    .string({ error: `must be ${what}` })
    .min(1, { error: "must not be empty" })
    .max(255, { error: "must be at most 255 characters" })
    .refine((s) => !/["'\\{}#!\n\r\t\0]/.test(s), {
      error: `must be ${what} without quotes, backslashes, braces, # or ! (they would break keepalived's configuration)`,
    });

const checkTiming = {
  /** Seconds between checks (keepalived `delay_loop` of the checker). */
  interval: seconds("the check interval", 1, 3600).default(5),
  /** Seconds before a connection attempt fails (`connect_timeout`). */
  timeout: seconds("the check timeout", 1, 600).default(3),
  /** Failed checks in a row before the real server is taken out (`retry`). */
  retries: count("a number of retries", 100).default(1),
  /** Seconds between retries (`delay_before_retry`). */
  retryDelay: seconds("the delay between retries", 1, 600).default(1),
};

export const healthCheck = z.discriminatedUnion(
  "type",
  [
    z.strictObject({ type: z.literal("tcp"), port: port.optional(), ...checkTiming }),
    z.strictObject({
      type: z.literal("http"),
      port: port.optional(),
      path: configText("a URL path")
        .refine((s) => s.startsWith("/") && !/\s/.test(s), {
          error: "must be a path starting with / and without spaces",
        })
        .default("/"),
      status: z
        .number({ error: "must be an HTTP status code" })
        .int({ error: "must be an HTTP status code" })
        .min(100, { error: "must be an HTTP status code (100 to 599)" })
        .max(599, { error: "must be an HTTP status code (100 to 599)" })
        .default(200),
      ...checkTiming,
    }),
    z.strictObject({
      type: z.literal("script"),
      /** The command line keepalived runs (`misc_path`); exit 0 means healthy. */
      command: configText("a command line"),
      interval: checkTiming.interval,
      timeout: checkTiming.timeout,
    }),
  ],
  { error: 'must have type "tcp", "http" or "script"' },
);
export type HealthCheck = z.infer<typeof healthCheck>;

export const sorryServer = z.strictObject({ address: ipAddress, port: port.optional() });

/** Drain timeout bounds, in seconds. */
export const MAX_DRAIN_TIMEOUT = 86_400;
export const drainTimeout = seconds("the drain timeout", 0, MAX_DRAIN_TIMEOUT);

/** A VRRP instance name: keepalived and the notify state file use it. */
const instanceName = z.string({ error: "must be a VRRP instance name" }).regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$/, {
  error: "must be 1 to 32 letters, digits, _ . or - (a keepalived vrrp_instance name), not starting with . or -",
});

export const vrrpInstanceInputs = z
  .strictObject({
    connection,
    name: instanceName,
    interface: interfaceName,
    virtualRouterId: z
      .number({ error: "must be a virtual router id (an integer from 1 to 255)" })
      .int({ error: "must be an integer from 1 to 255" })
      .min(1, { error: "must be from 1 to 255" })
      .max(255, { error: "must be from 1 to 255" }),
    priority: z
      .number({ error: "must be a priority (an integer from 1 to 254)" })
      .int({ error: "must be an integer from 1 to 254" })
      .min(1, { error: "must be from 1 to 254 (255 is for the address owner)" })
      .max(254, { error: "must be from 1 to 254 (255 is for the address owner)" }),
    advertInterval: z
      .number({ error: "must be the advertisement interval in whole seconds" })
      .int({ error: "must be whole seconds (VRRP version 2)" })
      .min(1, { error: "must be from 1 to 255 seconds" })
      .max(255, { error: "must be from 1 to 255 seconds" })
      .default(1),
    vips: z
      .array(
        z.strictObject({
          address: ipAddress,
          prefix: z.number().int().min(1).max(maxPrefix("ipv6")).optional(),
          interface: interfaceName.optional(),
        }),
        { error: "must be a list of {address, prefix?, interface?}" },
      )
      .min(1, { error: "must list at least one VIP" }),
    authPass: z
      .string({ error: "must be a password of 1 to 8 characters" })
      .regex(/^[\x21-\x7e]{1,8}$/, {
        error: "must be 1 to 8 printable characters without spaces (VRRP simple authentication keeps 8)",
      })
      .refine((s) => !/["'\\{}#!]/.test(s), { error: "must not contain quotes, backslashes, braces, # or !" })
      .optional(),
    initialState: z.enum(["MASTER", "BACKUP"], { error: 'must be "MASTER" or "BACKUP"' }).optional(),
    preempt: z.boolean({ error: "must be a boolean" }).default(true),
    preemptDelay: seconds("the preemption delay", 0, 1000).optional(),
    unicastPeers: z.array(ipAddress, { error: "must be a list of peer addresses" }).optional(),
    unicastSourceAddress: ipAddress.optional(),
    sync: z
      .strictObject({
        interface: interfaceName,
        syncId: z
          .number({ error: "must be a sync id (an integer from 0 to 255)" })
          .int({ error: "must be an integer from 0 to 255" })
          .min(0, { error: "must be from 0 to 255" })
          .max(255, { error: "must be from 0 to 255" }),
        group: ipAddress.optional(),
        port: port.optional(),
      })
      .optional(),
    adopt: z
      .literal("exact", {
        error: 'must be "exact" (take over the site\'s own vrrp_instance block when it is already as declared)',
      })
      .optional(),
    owner: owner.optional(),
  })
  .superRefine((v, ctx) => {
    const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: "custom", path, message });
    if (v.preemptDelay !== undefined && !v.preempt)
      issue(["preemptDelay"], "needs preempt: true (a delay before preempting, when preemption is on)");
    if (v.unicastSourceAddress !== undefined && !v.unicastPeers?.length)
      issue(["unicastSourceAddress"], "needs unicastPeers (it is the source address of unicast advertisements)");
    const seen = new Set<string>();
    v.vips.forEach((x, i) => {
      const max = hostPrefix(x.address);
      if (x.prefix !== undefined && x.prefix > max)
        issue(["vips", i, "prefix"], `must be at most ${max} for ${x.address}`);
      if (seen.has(x.address)) issue(["vips", i, "address"], `lists ${x.address} twice`);
      seen.add(x.address);
    });
    if (v.sync?.group !== undefined && !isMulticast(v.sync.group))
      issue(["sync", "group"], `${v.sync.group} is not a multicast address`);
  });
export type VrrpInstanceInputs = z.infer<typeof vrrpInstanceInputs>;
