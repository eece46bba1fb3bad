import type { Step, DagTask } from '../spec/schema.js';
import { substitute } from '../expr/template.js';

/** The items a step fans out over, `undefined` when it runs once, or why they cannot be read. */
export type Items = { items: unknown[] | undefined } | { error: string };

/** Expands withItems, withParam (a JSON list) or withSequence (Argo's expandSequence) in `scope`. */
export function fanOutItems(s: Step | DagTask, scope: ReadonlyMap<string, string>): Items {
  if (s.withParam !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(substitute(s.withParam, scope));
    } catch (err) {
      return { error: `withParam must be a JSON list (${(err as Error).message})` };
    }
    if (!Array.isArray(parsed))
      return { error: `withParam must be a JSON list (got ${JSON.stringify(parsed).slice(0, 60)})` };
    return { items: parsed };
  }
  if (s.withSequence !== undefined) {
    try {
      return { items: sequence(s.withSequence, scope) };
    } catch (err) {
      return { error: `withSequence: ${(err as Error).message}` };
    }
  }
  return { items: s.withItems };
}

type Sequence = NonNullable<Step['withSequence']>;

function integer(
  field: string,
  text: string | undefined,
  scope: ReadonlyMap<string, string>,
): number | undefined {
  if (text === undefined) return undefined;
  const v = substitute(text, scope).trim();
  if (!/^[-+]?\d+$/.test(v)) throw new Error(`${field} must be an integer, got "${v}"`);
  return Number(v);
}

/** start..end (either direction) or count numbers from start, each formatted as text. */
export function sequence(seq: Sequence, scope: ReadonlyMap<string, string> = new Map()): string[] {
  const start = integer('start', seq.start, scope) ?? 0;
  const count = integer('count', seq.count, scope);
  if (count !== undefined && count < 0) throw new Error(`count must not be negative, got ${count}`);
  if (count === 0) return [];
  const end = integer('end', seq.end, scope) ?? start + (count as number) - 1;
  const step = start <= end ? 1 : -1;
  const out: string[] = [];
  for (let i = start; step > 0 ? i <= end : i >= end; i += step) out.push(printfInt(seq.format ?? '%d', i));
  return out;
}

/** Go's fmt for one integer verb: %d, %x, %X, %o, %b with flags 0 and -, and a width (`%02d`, `file-%03d.txt`). */
export function printfInt(format: string, n: number): string {
  let used = false;
  const out = format.replace(
    /%([-0]*)(\d*)([dxXobs%])/g,
    (_all, flags: string, width: string, verb: string) => {
      if (verb === '%') return '%';
      used = true;
      const radix = { d: 10, s: 10, x: 16, X: 16, o: 8, b: 2 }[verb] as number;
      let text = Math.abs(n).toString(radix);
      if (verb === 'X') text = text.toUpperCase();
      if (n < 0) text = `-${text}`;
      const w = Number(width || 0);
      if (flags.includes('-')) return text.padEnd(w);
      if (flags.includes('0'))
        return n < 0 ? `-${text.slice(1).padStart(w - 1, '0')}` : text.padStart(w, '0');
      return text.padStart(w);
    },
  );
  if (!used) throw new Error(`format "${format}" has no integer verb such as %d`);
  return out;
}
