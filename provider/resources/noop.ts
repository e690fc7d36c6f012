import { randomUUID } from "node:crypto";
import type * as pulumi from "@pulumi/pulumi";
import { isUnknown } from "../model/unknown";

/**
 * `Noop`: a resource that touches no host. Its outputs are its inputs.
 *
 * It is the "engine floor" of the benchmarks (the cost of a dynamic resource with no work behind
 * it) and the smallest proof that the packaged provider loads in Pulumi's provider process.
 */
export const noop: pulumi.dynamic.ResourceProvider = {
  async check(_olds, news) {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    if (news.value !== undefined && !isUnknown(news.value) && typeof news.value !== "string") {
      failures.push({ property: "value", reason: "value: must be a string" });
    }
    return { inputs: news, failures };
  },
  async diff(_id, olds, news) {
    const changed = olds.value !== news.value;
    return { changes: changed, replaces: [] };
  },
  async create(inputs) {
    return { id: randomUUID(), outs: { value: inputs.value ?? "" } };
  },
  async read(id, props) {
    return { id, props };
  },
  async update(_id, _olds, news) {
    return { outs: { value: news.value ?? "" } };
  },
  async delete() {},
};
