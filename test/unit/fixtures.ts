/** Shared test inputs (unit tests). */
export const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJYs9ozCiZotAfCOtay5OuoME3lnEc7nvgcXgXekjm6f";
export const PRIVATE_KEY =
  "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";

export function conn(extra: Record<string, unknown> = {}) {
  return { host: "127.0.0.1", port: 2201, user: "root", privateKey: PRIVATE_KEY, hostKey: HOST_KEY, ...extra };
}
