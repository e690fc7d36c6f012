/**
 * The edge of VirtualService's provider where its inline real servers change form: Pulumi carries
 * each entry of `realServers` as one packed string (model/inline-pack.ts); everything behind this
 * edge sees objects. A table of objects (written by the version before packing, or by a program
 * without the SDK) is accepted too, and kept in its form until the SDK sends strings: then `diff`
 * reports a change, and the update (which finds nothing to do on the director) rewrites the state
 * packed.
 */
import type * as pulumi from "@pulumi/pulumi";
import { packInlineEntry, unpackInlineEntry } from "../model/inline-pack";
import { containsUnknown, UNKNOWN } from "../model/unknown";

type Props = Record<string, unknown>;
type Table = Record<string, unknown>;

const FIELD = "realServers";

const isTable = (v: unknown): v is Table => v !== null && typeof v === "object" && !Array.isArray(v);

/** Each entry's value mapped by `f`; unknown entries (preview) stay unknown. */
function mapEntries(props: Props, f: (v: unknown) => unknown): Props {
  const t = props[FIELD];
  if (!isTable(t)) return props;
  return { ...props, [FIELD]: Object.fromEntries(Object.entries(t).map(([k, v]) => [k, v === UNKNOWN ? v : f(v)])) };
}

const unpacked = (props: Props): Props => mapEntries(props, unpackInlineEntry);

/** The form a table's entries travel in: objects (every entry an object), packed, or none (no entry). */
function formOf(props: Props): "objects" | "packed" | "none" {
  const t = props[FIELD];
  if (!isTable(t) || Object.keys(t).length === 0) return "none";
  return Object.values(t).every(isTable) ? "objects" : "packed";
}

/** `props` with its entries in `form` (objects: as they are). */
const inForm = (props: Props, form: ReturnType<typeof formOf>): Props =>
  form === "objects" ? props : mapEntries(props, packInlineEntry);

/**
 * `check` with some entries unknown (preview) and the rest of the inputs known: the known entries
 * are checked and normalized without them, and the unknown ones put back. Else undefined.
 */
async function checkKnownEntries(
  p: pulumi.dynamic.ResourceProvider,
  olds: Props,
  news: Props,
): Promise<pulumi.dynamic.CheckResult | undefined> {
  const t = news[FIELD];
  if (!isTable(t)) return undefined;
  const unknown = Object.keys(t).filter((k) => t[k] === UNKNOWN);
  const { [FIELD]: _, ...rest } = news;
  if (unknown.length === 0 || containsUnknown(rest)) return undefined;
  const known = Object.fromEntries(Object.entries(t).filter(([, v]) => v !== UNKNOWN));
  const r = await p.check!(olds, { ...news, [FIELD]: known });
  if ((r.failures?.length ?? 0) > 0) return { inputs: news, failures: r.failures };
  const entries = r.inputs[FIELD] as Table;
  return { inputs: { ...r.inputs, [FIELD]: { ...entries, ...Object.fromEntries(unknown.map((k) => [k, UNKNOWN])) } } };
}

/**
 * VirtualService's provider `p`, its inline real servers packed at the edge: every method unpacks
 * `realServers` (both forms) before `p` sees it; `check` and the outputs of create, read and update
 * pack it again, canonically, in the form the inputs came in. An entry unknown at preview stays
 * unknown, the others are checked and normalized as usual.
 */
export function withPackedEntries(p: pulumi.dynamic.ResourceProvider): pulumi.dynamic.ResourceProvider {
  return {
    async check(olds: Props, news: Props) {
      const r =
        (await checkKnownEntries(p, unpacked(olds), unpacked(news))) ??
        (await p.check!(unpacked(olds), unpacked(news)));
      return { ...r, inputs: inForm(r.inputs, formOf(news)) };
    },
    async diff(id, olds: Props, news: Props) {
      const d = await p.diff!(id, unpacked(olds), unpacked(news));
      // (the same entries in the other form: the state is rewritten in the new one)
      const before = formOf(olds);
      const after = formOf(news);
      return !d.changes && before !== after && before !== "none" && after !== "none" ? { ...d, changes: true } : d;
    },
    async create(inputs: Props) {
      const r = await p.create!(unpacked(inputs));
      return { ...r, outs: inForm(r.outs, formOf(inputs)) };
    },
    async read(id, props: Props) {
      const r = await p.read!(id, unpacked(props));
      return r.props === undefined ? r : { ...r, props: inForm(r.props, formOf(props)) };
    },
    async update(id, olds: Props, news: Props) {
      const r = await p.update!(id, unpacked(olds), unpacked(news));
      return { ...r, outs: inForm(r.outs, formOf(news)) };
    },
    async delete(id, props: Props) {
      await p.delete!(id, unpacked(props));
    },
  };
}
