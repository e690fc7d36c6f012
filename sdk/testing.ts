/**
 * For tests and benchmarks, not for programs: `require("pulumi-lvs/testing")`. Its resources touch
 * no host.
 */
export { Noop, type NoopArgs } from "./noop";
