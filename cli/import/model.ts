/**
 * What `pulumi-lvs import` reads from the hosts, as resources a program declares: the one shape
 * between the readers (hosts → imported resources) and the generator (imported resources → a
 * program folder). Inputs are the provider's own input shapes (z.input of its schemas) without the
 * connection: the generator writes the connection of the host the resource was read from.
 */
import type { z } from "zod";
import type { directorInputs, realServerHostInputs } from "../../provider/model/host";
import type { vrrpInstanceInputs } from "../../provider/model/keepalived";
import type { virtualServiceInputs } from "../../provider/model/virtual-service";

/** A host given on the command line, and what the import pinned of it. */
export interface ImportHost {
  /** Its name in the program (lb1, rs1 …): from the host name, unique. */
  name: string;
  role: "director" | "real-server";
  host: string;
  port: number;
  user: string;
  /** The host key the import verified (known_hosts or --host-key): the program pins it. */
  hostKey: string;
  sudo: boolean;
}

export type DirectorArgs = Omit<z.input<typeof directorInputs>, "connection">;
export type RealServerHostArgs = Omit<z.input<typeof realServerHostInputs>, "connection" | "owner">;
export type VirtualServiceArgs = Omit<z.input<typeof virtualServiceInputs>, "connection" | "owner">;
export type VrrpInstanceArgs = Omit<z.input<typeof vrrpInstanceInputs>, "connection" | "authPass">;

/** Where something was read: a host, and a file and line when it came from a file. */
export interface Source {
  host: string;
  file?: string;
  line?: number;
}

interface Imported<K extends string, A> {
  kind: K;
  /** The host (ImportHost.name) whose connection the resource uses. */
  host: string;
  /** Stable, from the kernel's key (tcp-10.0.0.100-80, fwmark-5 …) or the config's name; unique per kind and host. */
  name: string;
  args: A;
  source: Source;
}

export type ImportedResource =
  | Imported<"Director", DirectorArgs>
  | Imported<"RealServerHost", RealServerHostArgs>
  | Imported<"VirtualService", VirtualServiceArgs>
  | (Imported<"VrrpInstance", VrrpInstanceArgs> & {
      /** The config key whose secret value is the instance's auth_pass, if it has one. */
      authPassKey?: string;
    });

/** Something the import read and could not represent, or a difference it found: listed in IMPORT.md. */
export interface Finding {
  source: Source;
  /** unsupported: left in the host's own configuration; differs: the kernel and keepalived.conf disagree; note: for the reader. */
  kind: "unsupported" | "differs" | "note";
  message: string;
}

/** A secret the program needs: a config key, never its value. */
export interface ImportSecret {
  key: string;
  /** What it is, for the `pulumi config set --secret` line. */
  what: string;
}

/** Everything one import found: the generator's whole input. */
export interface ImportResult {
  hosts: ImportHost[];
  resources: ImportedResource[];
  findings: Finding[];
  secrets: ImportSecret[];
  /** Per host, what was read (commands and files), for IMPORT.md. */
  reads: Array<{ host: string; what: string[] }>;
}
