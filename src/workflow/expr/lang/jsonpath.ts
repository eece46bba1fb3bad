// JSONPath as Argo's `jsonpath(json, path)` reads it: `$`, `.key`, `['key']`, `[n]`, `[a:b]`, `[*]`, `.*`,
// `..key` (any depth) and filters `[?(@.age > 42 && @.name == "Baris")]`, whose condition is an expr-lang
// expression with `@` as the element. A path with one definite result returns that value; a path with a
// wildcard, slice, filter or descent returns the list of matches (as the Go library Argo uses does).
import { ExpressionError } from '../depends.js';

type Step =
  | { k: 'key'; key: string }
  | { k: 'index'; i: number }
  | { k: 'slice'; from: number | undefined; to: number | undefined }
  | { k: 'all' }
  | { k: 'descend'; key: string | undefined }
  | { k: 'filter'; cond: string };

/** A filter's condition, evaluated by the caller's expression evaluator with `@` bound to the element. */
export type FilterFn = (cond: string, element: unknown) => boolean;

function parsePath(path: string): Step[] {
  if (!path.startsWith('$')) throw new ExpressionError(`jsonpath "${path}" must start with $`);
  const steps: Step[] = [];
  let i = 1;
  const name = () => {
    const m = /^[A-Za-z0-9_$-]+/.exec(path.slice(i));
    if (!m) return undefined;
    i += m[0].length;
    return m[0];
  };
  while (i < path.length) {
    if (path.startsWith('..', i)) {
      i += 2;
      if (path[i] === '*') {
        i++;
        steps.push({ k: 'descend', key: undefined });
      } else steps.push({ k: 'descend', key: name() ?? bad(path, i) });
    } else if (path[i] === '.') {
      i++;
      if (path[i] === '*') {
        i++;
        steps.push({ k: 'all' });
      } else steps.push({ k: 'key', key: name() ?? bad(path, i) });
    } else if (path[i] === '[') {
      const end = closing(path, i);
      steps.push(bracket(path.slice(i + 1, end).trim(), path));
      i = end + 1;
    } else bad(path, i);
  }
  return steps;
}

function bad(path: string, at: number): never {
  throw new ExpressionError(`jsonpath "${path}": unexpected "${path.slice(at, at + 10)}" at offset ${at}`);
}

/** The index of the `]` closing the bracket at `open`, skipping quoted strings and nested brackets. */
function closing(path: string, open: number): number {
  let depth = 0;
  let quote: string | undefined;
  for (let j = open; j < path.length; j++) {
    const c = path[j];
    if (quote) {
      if (c === '\\') j++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '[') depth++;
    else if (c === ']' && --depth === 0) return j;
  }
  throw new ExpressionError(`jsonpath "${path}": unclosed "["`);
}

function bracket(inner: string, path: string): Step {
  if (inner === '*') return { k: 'all' };
  if (/^\?\(.*\)$/s.test(inner)) return { k: 'filter', cond: inner.slice(2, -1) };
  const quoted = /^(['"])(.*)\1$/s.exec(inner);
  if (quoted) return { k: 'key', key: quoted[2] as string };
  if (/^-?\d+$/.test(inner)) return { k: 'index', i: Number(inner) };
  const slice = /^(-?\d*)\s*:\s*(-?\d*)$/.exec(inner);
  if (slice) {
    const n = (s: string | undefined) => (s ? Number(s) : undefined);
    return { k: 'slice', from: n(slice[1]), to: n(slice[2]) };
  }
  throw new ExpressionError(`jsonpath "${path}": cannot read "[${inner}]"`);
}

function children(v: unknown): unknown[] {
  if (Array.isArray(v)) return v;
  if (v && typeof v === 'object') return Object.values(v);
  return [];
}

function descendants(v: unknown): unknown[] {
  return [v, ...children(v).flatMap(descendants)];
}

function apply(step: Step, v: unknown, filter: FilterFn): unknown[] {
  switch (step.k) {
    case 'key':
      return v && typeof v === 'object' && !Array.isArray(v) && step.key in v
        ? [(v as Record<string, unknown>)[step.key]]
        : [];
    case 'index': {
      if (!Array.isArray(v)) return [];
      const i = step.i < 0 ? v.length + step.i : step.i;
      return i >= 0 && i < v.length ? [v[i]] : [];
    }
    case 'slice':
      return Array.isArray(v) ? v.slice(step.from, step.to) : [];
    case 'all':
      return children(v);
    case 'descend':
      return descendants(v).flatMap((d) =>
        step.key === undefined ? children(d) : apply({ k: 'key', key: step.key }, d, filter),
      );
    case 'filter':
      return children(v).filter((e) => filter(step.cond, e));
  }
}

/** Queries a parsed JSON value; `filter` evaluates `[?(…)]` conditions. */
export function queryJsonPath(value: unknown, path: string, filter: FilterFn): unknown {
  const steps = parsePath(path.trim());
  let current: unknown[] = [value];
  for (const step of steps) current = current.flatMap((v) => apply(step, v, filter));
  const definite = steps.every((s) => s.k === 'key' || s.k === 'index');
  if (!definite) return current;
  if (current.length === 0) throw new ExpressionError(`jsonpath "${path}" matches nothing`);
  return current[0];
}
