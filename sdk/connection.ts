import type * as pulumi from "@pulumi/pulumi";

/**
 * How pulumi-lvs reaches a host: an SSH connection ({@link SshConnectionArgs}), shared by every
 * resource on that host (one SSH connection per host per deployment), or `{ local: true }`
 * ({@link LocalConnectionArgs}) when pulumi runs on the director itself.
 *
 * The whole connection is stored as a secret in the state, so keys, passphrases and passwords are
 * never written there in plaintext.
 */
export type ConnectionArgs = SshConnectionArgs | LocalConnectionArgs;

/**
 * The machine pulumi runs on, programmed directly: IPVS through generic netlink (no ipvsadm, no
 * process per rule), sysctls through /proc/sys, addresses with iproute2. Linux only, and pulumi
 * must run as root (or with CAP_NET_ADMIN). Use it when pulumi runs on the director itself.
 */
export interface LocalConnectionArgs {
  /** Must be `true`. */
  local: true;
}

/** An SSH connection to a host. */
export interface SshConnectionArgs {
  /** Host name or IP address of the SSH server. */
  host: pulumi.Input<string>;
  /** SSH port. Default 22. */
  port?: pulumi.Input<number>;
  /** User to log in as. Default `root`. For another user, set {@link sudo}. */
  user?: pulumi.Input<string>;
  /** Private key, as text (PEM or OpenSSH format), e.g. `fs.readFileSync(path, "utf8")`. */
  privateKey?: pulumi.Input<string>;
  /** Passphrase of an encrypted {@link privateKey}. */
  privateKeyPassphrase?: pulumi.Input<string>;
  /** Password, for password authentication. */
  password?: pulumi.Input<string>;
  /**
   * SSH agent: `true` to use `SSH_AUTH_SOCK`, a socket path, or `false` to never use one.
   * Default: the agent is used when neither privateKey nor password is given.
   */
  agent?: pulumi.Input<boolean | string>;
  /**
   * The host's public key(s), pinned. Either public key lines (`ssh-ed25519 AAAA…`, as in
   * `/etc/ssh/ssh_host_ed25519_key.pub`) or known_hosts lines (`ssh-keyscan -t ed25519 HOST`).
   * Required, unless {@link insecureIgnoreHostKey} is true. A host presenting another key is
   * refused before anything runs on it.
   */
  hostKey?: pulumi.Input<string>;
  /** Accept any host key. Insecure: for throwaway labs only. Default false. */
  insecureIgnoreHostKey?: pulumi.Input<boolean>;
  /** Run commands through `sudo -n` (the user needs passwordless sudo). Default false. */
  sudo?: pulumi.Input<boolean>;
  /**
   * Seconds to wait for the SSH handshake of one attempt. Default 15. An established connection
   * that stops answering is declared lost after 3 keepalives this far apart (at most 15 s each),
   * and the command running on it fails with a "connection lost" error.
   */
  dialTimeout?: pulumi.Input<number>;
  /** Connection attempts before giving up, with exponential backoff between them. Default 3. */
  dialAttempts?: pulumi.Input<number>;
  /** A jump host to reach this host through (same fields, no sudo, no further proxy). */
  proxy?: pulumi.Input<ProxyConnectionArgs>;
  /** Never set for SSH (see {@link LocalConnectionArgs}). */
  local?: never;
}

/** A jump host. */
export type ProxyConnectionArgs = Omit<SshConnectionArgs, "sudo" | "proxy">;
