// The functions an Argo expression can call: expr-lang's built-ins that workflows use, Argo's additions
// (asInt, asFloat, toJson; jsonpath lives in evaluate.ts because its filters evaluate expressions), and
// `sprig.*` for Sprig's common functions, with Sprig's argument order (`sprig.replace(old, new, s)`).
import { createHash, randomBytes } from 'node:crypto';
import { ExpressionError } from '../depends.js';

type Fn = (...args: unknown[]) => unknown;

/** How a value's type reads in an error message, in expr-lang's words. */
export function describeType(v: unknown): string {
  if (v === null || v === undefined) return 'nil';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (typeof v === 'object') return 'map';
  return typeof v === 'boolean' ? 'bool' : typeof v;
}

function str(v: unknown, fn: string): string {
  if (typeof v !== 'string') throw new ExpressionError(`${fn} needs a string, not a ${describeType(v)}`);
  return v;
}

function toInt(v: unknown): number {
  if (typeof v === 'number') return Math.trunc(v);
  if (typeof v === 'string' && /^\s*[-+]?\d+\s*$/.test(v)) return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  throw new ExpressionError(`cannot convert ${JSON.stringify(v)} to int`);
}

function toFloat(v: unknown): number {
  if (typeof v === 'number') return v;
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (Number.isNaN(n)) throw new ExpressionError(`cannot convert ${JSON.stringify(v)} to float`);
  return n;
}

/** `string(x)`: strings as they are, everything else as Go's %v would print it (JSON for lists and maps). */
export function toText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === null || v === undefined) return '<nil>';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

function numbers(args: unknown[], fn: string): number[] {
  const flat = args.length === 1 && Array.isArray(args[0]) ? (args[0] as unknown[]) : args;
  return flat.map((a) => {
    if (typeof a !== 'number') throw new ExpressionError(`${fn} needs numbers, not a ${describeType(a)}`);
    return a;
  });
}

/** Sprig's lenient number reading: what does not parse is 0 (Sprig functions rarely fail). */
function loose(v: unknown): number {
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? n : 0;
}

/** Zero-padded decimal, for dates. */
export const pad = (n: number, w = 2) => String(n).padStart(w, '0');
/** Month and weekday names in English, as Go's and strftime's formats print them. */
export const MONTHS =
  'January February March April May June July August September October November December'.split(' ');
export const DAYS = 'Sunday Monday Tuesday Wednesday Thursday Friday Saturday'.split(' ');

/** Formats a UTC date with a Go layout (`2006-01-02 15:04:05`), as Sprig's `date` does. */
export function goDate(layout: string, when: unknown): string {
  const d =
    typeof when === 'string' && !Number.isNaN(Date.parse(when))
      ? new Date(when)
      : typeof when === 'number'
        ? new Date(when * 1000)
        : new Date();
  const tokens: [string, () => string][] = [
    ['January', () => MONTHS[d.getUTCMonth()] as string],
    ['Monday', () => DAYS[d.getUTCDay()] as string],
    ['2006', () => String(d.getUTCFullYear())],
    ['Jan', () => (MONTHS[d.getUTCMonth()] as string).slice(0, 3)],
    ['Mon', () => (DAYS[d.getUTCDay()] as string).slice(0, 3)],
    ['MST', () => 'UTC'],
    ['Z07:00', () => 'Z'],
    ['-0700', () => '+0000'],
    ['06', () => pad(d.getUTCFullYear() % 100)],
    ['01', () => pad(d.getUTCMonth() + 1)],
    ['02', () => pad(d.getUTCDate())],
    ['15', () => pad(d.getUTCHours())],
    ['03', () => pad(d.getUTCHours() % 12 || 12)],
    ['04', () => pad(d.getUTCMinutes())],
    ['05', () => pad(d.getUTCSeconds())],
    ['PM', () => (d.getUTCHours() < 12 ? 'AM' : 'PM')],
  ];
  let out = '';
  for (let i = 0; i < layout.length;) {
    const hit = tokens.find(([t]) => layout.startsWith(t, i));
    if (hit) {
      out += hit[1]();
      i += hit[0].length;
    } else out += layout[i++];
  }
  return out;
}

const SPRIG: Record<string, Fn> = {
  trim: (s) => String(s).trim(),
  trimAll: (cut, s) =>
    String(s).replace(new RegExp(`^[${escapeClass(String(cut))}]+|[${escapeClass(String(cut))}]+$`, 'g'), ''),
  trimPrefix: (p, s) => (String(s).startsWith(String(p)) ? String(s).slice(String(p).length) : String(s)),
  trimSuffix: (p, s) =>
    String(s).endsWith(String(p)) ? String(s).slice(0, -String(p).length || undefined) : String(s),
  upper: (s) => String(s).toUpperCase(),
  lower: (s) => String(s).toLowerCase(),
  title: (s) => String(s).replace(/\b\w/g, (c) => c.toUpperCase()),
  replace: (o, n, s) => String(s).split(String(o)).join(String(n)),
  contains: (sub, s) => String(s).includes(String(sub)),
  hasPrefix: (p, s) => String(s).startsWith(String(p)),
  hasSuffix: (p, s) => String(s).endsWith(String(p)),
  repeat: (n, s) => String(s).repeat(loose(n)),
  substr: (a, b, s) => String(s).slice(loose(a), loose(b)),
  trunc: (n, s) => String(s).slice(0, loose(n)),
  quote: (...xs) => xs.map((x) => JSON.stringify(toText(x))).join(' '),
  squote: (...xs) => xs.map((x) => `'${toText(x)}'`).join(' '),
  cat: (...xs) =>
    xs
      .filter((x) => x !== null && x !== undefined)
      .map(toText)
      .join(' '),
  split: (sep, s) =>
    Object.fromEntries(
      String(s)
        .split(String(sep))
        .map((p, i) => [`_${i}`, p]),
    ),
  splitList: (sep, s) => String(s).split(String(sep)),
  join: (sep, l) => (Array.isArray(l) ? l.map(toText).join(String(sep)) : toText(l)),
  default: (d, v) => (v === null || v === undefined || v === '' || v === false || v === 0 ? d : v),
  empty: (v) =>
    v === null ||
    v === undefined ||
    v === '' ||
    v === false ||
    v === 0 ||
    (Array.isArray(v) && v.length === 0),
  coalesce: (...xs) =>
    xs.find((v) => v !== null && v !== undefined && v !== '' && v !== 0 && v !== false) ?? null,
  ternary: (a, b, c) => (c === true ? a : b),
  int: (v) => Math.trunc(loose(v)),
  int64: (v) => Math.trunc(loose(v)),
  atoi: (v) => Math.trunc(loose(v)),
  float64: (v) => loose(v),
  toString: (v: unknown) => toText(v),
  add: (...xs) => xs.reduce<number>((a, b) => a + loose(b), 0),
  add1: (v) => loose(v) + 1,
  sub: (a, b) => loose(a) - loose(b),
  mul: (...xs) => xs.reduce<number>((a, b) => a * loose(b), 1),
  div: (a, b) => Math.trunc(loose(a) / loose(b)),
  mod: (a, b) => loose(a) % loose(b),
  max: (...xs) => Math.max(...xs.map(loose)),
  min: (...xs) => Math.min(...xs.map(loose)),
  floor: (v) => Math.floor(loose(v)),
  ceil: (v) => Math.ceil(loose(v)),
  round: (v, p) => Number(loose(v).toFixed(loose(p))),
  b64enc: (s) => Buffer.from(String(s), 'utf8').toString('base64'),
  b64dec: (s) => Buffer.from(String(s), 'base64').toString('utf8'),
  sha256sum: (s) => createHash('sha256').update(String(s)).digest('hex'),
  list: (...xs) => xs,
  dict: (...xs) =>
    Object.fromEntries(
      Array.from({ length: Math.floor(xs.length / 2) }, (_x, i) => [toText(xs[2 * i]), xs[2 * i + 1]]),
    ),
  get: (m, k) => (m && typeof m === 'object' ? ((m as Record<string, unknown>)[String(k)] ?? '') : ''),
  hasKey: (m, k) => !!m && typeof m === 'object' && String(k) in m,
  keys: (...ms) => ms.flatMap((m) => (m && typeof m === 'object' ? Object.keys(m) : [])),
  first: (l) => (Array.isArray(l) ? (l[0] ?? null) : null),
  last: (l) => (Array.isArray(l) ? (l[l.length - 1] ?? null) : null),
  rest: (l) => (Array.isArray(l) ? l.slice(1) : []),
  uniq: (l) => (Array.isArray(l) ? [...new Set(l)] : []),
  has: (x, l) => Array.isArray(l) && l.includes(x),
  sortAlpha: (l) => (Array.isArray(l) ? l.map(toText).sort() : []),
  toJson: (v) => JSON.stringify(v),
  fromJson: (s) => JSON.parse(String(s)) as unknown,
  toPrettyJson: (v) => JSON.stringify(v, null, 2),
  regexMatch: (re, s) => new RegExp(String(re)).test(String(s)),
  regexFind: (re, s) => new RegExp(String(re)).exec(String(s))?.[0] ?? '',
  regexReplaceAll: (re, s, repl) =>
    String(s).replace(new RegExp(String(re), 'g'), String(repl).replace(/\$\{?(\d+)\}?/g, '$$$1')),
  date: (layout, when) => goDate(String(layout), when),
  now: () => new Date().toISOString(),
  randAlphaNum: (n) =>
    randomBytes(loose(n))
      .toString('base64')
      .replace(/[^A-Za-z0-9]/g, 'x')
      .slice(0, loose(n)),
};

function escapeClass(s: string): string {
  return s.replace(/[\]\\^-]/g, '\\$&');
}

/** expr-lang's built-ins (those workflows use), Argo's aliases, and the `sprig` namespace. */
export const BUILTINS: Record<string, unknown> = {
  len: (v: unknown) => {
    if (typeof v === 'string' || Array.isArray(v)) return v.length;
    if (v && typeof v === 'object') return Object.keys(v).length;
    throw new ExpressionError(`len needs a string, array or map, not a ${describeType(v)}`);
  },
  int: toInt,
  asInt: toInt,
  float: toFloat,
  asFloat: toFloat,
  string: toText,
  toJson: (v: unknown) => JSON.stringify(v ?? null),
  toJSON: (v: unknown) => JSON.stringify(v ?? null, null, 2),
  fromJSON: (s: unknown) => JSON.parse(str(s, 'fromJSON')) as unknown,
  fromJson: (s: unknown) => JSON.parse(str(s, 'fromJson')) as unknown,
  upper: (s: unknown) => str(s, 'upper').toUpperCase(),
  lower: (s: unknown) => str(s, 'lower').toLowerCase(),
  trim: (s: unknown, cut?: unknown) => (cut === undefined ? str(s, 'trim').trim() : SPRIG.trimAll?.(cut, s)),
  trimPrefix: (s: unknown, p: unknown) => SPRIG.trimPrefix?.(p, s),
  trimSuffix: (s: unknown, p: unknown) => SPRIG.trimSuffix?.(p, s),
  split: (s: unknown, sep: unknown) => str(s, 'split').split(str(sep, 'split')),
  join: (l: unknown, sep: unknown = '') => (Array.isArray(l) ? l.map(toText).join(String(sep)) : toText(l)),
  replace: (s: unknown, o: unknown, n: unknown) =>
    str(s, 'replace').split(str(o, 'replace')).join(str(n, 'replace')),
  hasPrefix: (s: unknown, p: unknown) => str(s, 'hasPrefix').startsWith(str(p, 'hasPrefix')),
  hasSuffix: (s: unknown, p: unknown) => str(s, 'hasSuffix').endsWith(str(p, 'hasSuffix')),
  indexOf: (s: unknown, sub: unknown) => str(s, 'indexOf').indexOf(str(sub, 'indexOf')),
  keys: (m: unknown) => (m && typeof m === 'object' ? Object.keys(m) : []),
  values: (m: unknown) => (m && typeof m === 'object' ? Object.values(m) : []),
  abs: (v: unknown) => Math.abs(toFloat(v)),
  ceil: (v: unknown) => Math.ceil(toFloat(v)),
  floor: (v: unknown) => Math.floor(toFloat(v)),
  round: (v: unknown) => Math.round(toFloat(v)),
  max: (...xs: unknown[]) => Math.max(...numbers(xs, 'max')),
  min: (...xs: unknown[]) => Math.min(...numbers(xs, 'min')),
  sum: (l: unknown) => numbers([l], 'sum').reduce((a, b) => a + b, 0),
  mean: (l: unknown) => {
    const n = numbers([l], 'mean');
    return n.length ? n.reduce((a, b) => a + b, 0) / n.length : 0;
  },
  first: (l: unknown) => (Array.isArray(l) ? (l[0] ?? null) : null),
  last: (l: unknown) => (Array.isArray(l) ? (l[l.length - 1] ?? null) : null),
  reverse: (l: unknown) => (Array.isArray(l) ? [...l].reverse() : l),
  sort: (l: unknown) => (Array.isArray(l) ? [...l].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)) : l),
  toBase64: (s: unknown) => Buffer.from(str(s, 'toBase64'), 'utf8').toString('base64'),
  fromBase64: (s: unknown) => Buffer.from(str(s, 'fromBase64'), 'base64').toString('utf8'),
  now: () => new Date().toISOString(),
  sprig: SPRIG,
};

/** Built-ins whose second argument is a closure over `#` (the element). */
export const CLOSURE_BUILTINS: Record<string, (list: unknown[], f: (item: unknown) => unknown) => unknown> = {
  filter: (l, f) => l.filter((x) => f(x) === true),
  map: (l, f) => l.map(f),
  all: (l, f) => l.every((x) => f(x) === true),
  any: (l, f) => l.some((x) => f(x) === true),
  none: (l, f) => !l.some((x) => f(x) === true),
  one: (l, f) => l.filter((x) => f(x) === true).length === 1,
  count: (l, f) => l.filter((x) => f(x) === true).length,
  find: (l, f) => l.find((x) => f(x) === true) ?? null,
  findIndex: (l, f) => l.findIndex((x) => f(x) === true),
  sortBy: (l, f) =>
    [...l].sort((a, b) => {
      const x = f(a) as number | string;
      const y = f(b) as number | string;
      return x < y ? -1 : x > y ? 1 : 0;
    }),
  groupBy: (l, f) => {
    const out: Record<string, unknown[]> = {};
    for (const x of l) (out[toText(f(x))] ??= []).push(x);
    return out;
  },
};
