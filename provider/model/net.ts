import { z } from "zod";
import { canonicalAddress, isAddress } from "../net/address";

/** An IPv4 or IPv6 address, normalized to its canonical text. */
export const ipAddress = z
  .string({ error: "must be an IPv4 or IPv6 address (a string)" })
  .refine(isAddress, { error: (i) => `"${String(i.input)}" is not an IPv4 or IPv6 address` })
  .transform(canonicalAddress);

export const port = z
  .number({ error: "must be a port number (an integer from 1 to 65535)" })
  .int({ error: "must be an integer from 1 to 65535" })
  .min(1, { error: "must be from 1 to 65535" })
  .max(65535, { error: "must be from 1 to 65535" });

/** A DNS name or an IP address (of an SSH host). */
export const hostName = z
  .string({ error: "must be a host name or an IP address" })
  .min(1, { error: "must not be empty" })
  .refine(
    (s) =>
      isAddress(s, { zoneId: true }) ||
      /^(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)*\.?$/.test(
        s,
      ),
    {
      error: (i) => `"${String(i.input)}" is not a valid host name or IP address`,
    },
  );
