/**
 * TypeScript literals as a person writes them: `{ weight: 3, "10.0.0.11:80": {} }`, on one line
 * when it fits, else one property or element a line with a trailing comma. Keys are quoted only
 * when they are not identifiers; strings are JSON (which TypeScript reads as it is). Pieces of code
 * (an identifier, a call, a conditional) go where values go, as {@link Code}.
 */

/** A piece of TypeScript written as it is where a value would go, given the indentation of its line. */
export class Code {
  constructor(readonly render: (indent: string) => string) {}
}

/** Code that is the same at any indentation (an identifier, a short call). */
export const code = (text: string): Code => new Code(() => text);

/** The width the printer keeps lines under, when it can. */
export const LINE_WIDTH = 120;

const INDENT = "  ";
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** An object key as written in a literal: bare when it is an identifier, else a JSON string. */
export function propertyKey(key: string): string {
  return IDENTIFIER.test(key) ? key : JSON.stringify(key);
}

/** A string as the text between a template literal's backquotes (JSON's escapes, and `` ` `` and `${`). */
export function templateText(s: string): string {
  return JSON.stringify(s).slice(1, -1).replace(/\\"/g, '"').replace(/`/g, "\\`").replace(/\$\{/g, "\\${");
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Code);

/** The entries of an object that are written (undefined ones are left out, as JSON does). */
const written = (o: Record<string, unknown>) => Object.entries(o).filter(([, v]) => v !== undefined);

/** `key: value`, or the shorthand `key` when the value is the identifier `key` itself. */
const property = (key: string, value: string) =>
  value === key && IDENTIFIER.test(key) ? key : `${propertyKey(key)}: ${value}`;

/** A value on one line, or undefined when some piece of it spans lines. */
function flat(v: unknown): string | undefined {
  if (v instanceof Code) {
    const text = v.render("");
    return text.includes("\n") ? undefined : text;
  }
  if (Array.isArray(v)) {
    const items = v.map(flat);
    return items.some((x) => x === undefined) ? undefined : `[${items.join(", ")}]`;
  }
  if (isPlainObject(v)) {
    const entries = written(v).map(([k, x]) => [k, flat(x)] as const);
    if (entries.some(([, x]) => x === undefined)) return undefined;
    return entries.length === 0 ? "{}" : `{ ${entries.map(([k, x]) => property(k, x!)).join(", ")} }`;
  }
  return scalar(v);
}

function scalar(v: unknown): string {
  if (v === undefined) return "undefined";
  if (typeof v === "number" && !Number.isFinite(v)) throw new Error(`cannot write ${v} as a literal`);
  const text = JSON.stringify(v);
  if (text === undefined) throw new Error(`cannot write a ${typeof v} as a literal`);
  return text;
}

/**
 * A value as a TypeScript literal. `indent` is the indentation of the line it starts on and `used`
 * how many characters of that line come before it: it stays on that line when it fits.
 */
export function literal(v: unknown, indent = "", used = indent.length): string {
  const one = flat(v);
  if (one !== undefined && used + one.length <= LINE_WIDTH) return one;
  const inner = indent + INDENT;
  if (v instanceof Code) return v.render(indent);
  if (Array.isArray(v)) {
    if (v.length === 0) return "[]";
    return `[\n${v.map((x) => `${inner}${literal(x, inner)},\n`).join("")}${indent}]`;
  }
  if (isPlainObject(v)) {
    const entries = written(v);
    if (entries.length === 0) return "{}";
    const lines = entries.map(([k, x]) => {
      const key = `${propertyKey(k)}: `;
      return `${inner}${property(k, literal(x, inner, inner.length + key.length))},\n`;
    });
    return `{\n${lines.join("")}${indent}}`;
  }
  return scalar(v);
}
