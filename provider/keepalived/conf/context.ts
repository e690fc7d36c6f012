/** The bookkeeping of a mapping: each statement is mapped (used) or listed as unsupported, never dropped. */
import type { ConfNode, Diagnostic } from "./parse";

/** A secret found in the configuration: kept apart from inputs and never put in a message. */
export interface ConfSecret {
  file: string;
  line: number;
  /** The vrrp_instance it belongs to. */
  instance: string;
  /** The VrrpInstance input it fills. */
  field: "authPass";
  value: string;
}

/** What a mapping accumulates. */
export interface MapContext {
  unsupported: Diagnostic[];
  warnings: Diagnostic[];
  secrets: ConfSecret[];
  /** Every statement taken over or listed. */
  accounted: Set<ConfNode>;
}

/** A block as read: its inputs (no connection, no password), and the addresses it names. */
export interface ReadBlock {
  inputs: Record<string, unknown>;
  addresses: string[];
}

/** A statement, as written (its keyword and words). */
export function statementText(n: ConfNode): string {
  return [n.keyword, ...n.args].join(" ");
}

/** Marks a statement as taken over. */
export function used(ctx: MapContext, n: ConfNode): void {
  ctx.accounted.add(n);
}

/** Lists a statement (and so all of its block) as unsupported. `what` replaces its text (for secrets). */
export function unsupported(ctx: MapContext, n: ConfNode, why: string, what = statementText(n)): void {
  ctx.unsupported.push({ file: n.file, line: n.line, what, why });
  const mark = (x: ConfNode) => {
    ctx.accounted.add(x);
    for (const c of x.block ?? []) mark(c);
  };
  mark(n);
}

/**
 * A field's handler: reads one statement into the accumulator. Returns undefined when mapped, or
 * why it cannot be (the statement is then listed as unsupported).
 */
export type FieldHandler<A> = (n: ConfNode, acc: A, ctx: MapContext) => string | undefined;

/** Runs each statement of a block through its handler; unknown keywords are listed. */
export function mapBlock<A>(
  ctx: MapContext,
  block: ConfNode[] | undefined,
  handlers: Record<string, FieldHandler<A>>,
  acc: A,
  where: string,
): void {
  for (const n of block ?? []) {
    const handler = Object.hasOwn(handlers, n.keyword) ? handlers[n.keyword] : undefined;
    const why = handler ? handler(n, acc, ctx) : `unknown or unsupported keyword in ${where}`;
    if (why === undefined) used(ctx, n);
    else unsupported(ctx, n, why);
  }
}

/** A whole number from a word, or undefined. */
export function intOf(word: string | undefined): number | undefined {
  return word !== undefined && /^\d+$/.test(word) ? Number(word) : undefined;
}

/** Handler for a statement with one whole number, stored by `set`. */
export function intField<A>(set: (acc: A, v: number) => void): FieldHandler<A> {
  return (n, acc) => {
    const v = intOf(n.args[0]);
    if (v === undefined || n.args.length !== 1) return "expects one whole number";
    set(acc, v);
    return undefined;
  };
}

/** Handler for a statement without words (a flag), stored by `set`. */
export function flagField<A>(set: (acc: A) => void): FieldHandler<A> {
  return (n, acc) => {
    if (n.args.length > 0) return "expects no value";
    set(acc);
    return undefined;
  };
}

/** Handler for a keyword pulumi-lvs has no field for. */
export const noField =
  (why: string): FieldHandler<unknown> =>
  () =>
    why;

/** Runs each statement of a value block (one item a line: addresses, peers) through one handler. */
export function mapEach<A>(ctx: MapContext, block: ConfNode[] | undefined, handler: FieldHandler<A>, acc: A): void {
  for (const n of block ?? []) {
    const why = handler(n, acc, ctx);
    if (why === undefined) used(ctx, n);
    else unsupported(ctx, n, why);
  }
}

/** Handler for a block statement whose statements have their own handlers. */
export function blockField<A>(handlers: Record<string, FieldHandler<A>>, where: string): FieldHandler<A> {
  return (n, acc, ctx) => {
    mapBlock(ctx, n.block, handlers, acc, where);
    return undefined;
  };
}

/** Handler for a value block: each of its lines through one handler. */
export function eachField<A>(handler: FieldHandler<A>): FieldHandler<A> {
  return (n, acc, ctx) => {
    mapEach(ctx, n.block, handler, acc);
    return undefined;
  };
}
