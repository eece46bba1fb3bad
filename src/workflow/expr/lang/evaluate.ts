// Evaluates a parsed expr-lang tree against Argo's environment: the workflow's variables expanded into nested
// maps (`inputs.parameters.x` → inputs → parameters → x), expr-lang's built-ins and Argo's additions
// (functions.ts). Semantics follow expr-lang where users can tell: `/` is float division, `==` compares
// type and value ('1' != 1), `&&`/`||` need booleans, member access on nil fails unless `?.` or `??` guard it.
import { ExpressionError } from '../depends.js';
import { BUILTINS, CLOSURE_BUILTINS, describeType } from './functions.js';
import { queryJsonPath } from './jsonpath.js';
import { parseExpr, type Node } from './parse.js';

export type Env = Record<string, unknown>;

/** Thrown when an expression names a variable the environment does not have (yet). */
export class MissingVariable extends ExpressionError {
  constructor(readonly variable: string) {
    super(`unknown name ${variable}`);
  }
}

/** Expands flat dotted keys into nested maps: {'a.b': 1, 'a.c': 2} → {a: {b: 1, c: 2}}. */
export function expandEnv(flat: ReadonlyMap<string, string> | Record<string, unknown>): Env {
  const env: Env = {};
  const entries = flat instanceof Map ? [...flat.entries()] : Object.entries(flat);
  // Shorter keys first, so that `inputs.parameters.x` nests under a map rather than under the JSON string
  // `inputs.parameters` (Argo lists both; the map is the one expressions navigate).
  entries.sort(([a], [b]) => a.split('.').length - b.split('.').length);
  for (const [key, value] of entries) {
    const parts = key.split('.');
    let at: Env = env;
    for (const part of parts.slice(0, -1)) {
      const next = at[part];
      if (next === undefined || typeof next !== 'object' || next === null) at[part] = {};
      at = at[part] as Env;
    }
    const last = parts[parts.length - 1] as string;
    if (at[last] === undefined || typeof at[last] !== 'object') at[last] = value;
  }
  return env;
}

/** Parses and evaluates `text` in `env` (variables plus the built-in functions). */
export function evaluate(text: string, env: Env): unknown {
  return new Evaluator(env).eval(parseExpr(text), undefined);
}

const NUMBER_OPS: Record<string, (a: number, b: number) => unknown> = {
  '-': (a, b) => a - b,
  '*': (a, b) => a * b,
  '/': (a, b) => a / b,
  '%': (a, b) => {
    if (!Number.isInteger(a) || !Number.isInteger(b)) throw new ExpressionError('% needs integers');
    if (b === 0) throw new ExpressionError('integer divide by zero');
    return a % b;
  },
  '**': (a, b) => a ** b,
  '<': (a, b) => a < b,
  '>': (a, b) => a > b,
  '<=': (a, b) => a <= b,
  '>=': (a, b) => a >= b,
};

class Evaluator {
  constructor(private readonly env: Env) {}

  eval(n: Node, pointer: unknown): unknown {
    switch (n.k) {
      case 'lit':
        return n.v;
      case 'id':
        return this.lookup(n.name, pointer);
      case 'member':
        return this.member(n, pointer);
      case 'slice':
        return this.slice(n, pointer);
      case 'call':
        return this.call(n, pointer);
      case 'closure':
        throw new ExpressionError('a closure {…} is only allowed as an argument of filter, map, all, any, …');
      case 'unary':
        return this.unary(n.op, this.eval(n.x, pointer));
      case 'binary':
        return this.binary(n, pointer);
      case 'cond':
        return this.truth(this.eval(n.c, pointer), '?:') ? this.eval(n.a, pointer) : this.eval(n.b, pointer);
      case 'array':
        return n.items.map((x) => this.eval(x, pointer));
      case 'map':
        return Object.fromEntries(
          n.entries.map(([k, v]) => [String(this.eval(k, pointer)), this.eval(v, pointer)]),
        );
    }
  }

  private lookup(name: string, pointer: unknown): unknown {
    if (name === '#' || name === '@') return pointer;
    if (Object.prototype.hasOwnProperty.call(this.env, name)) return this.env[name];
    if (name === 'jsonpath') return this.jsonpath;
    if (Object.prototype.hasOwnProperty.call(BUILTINS, name)) return BUILTINS[name];
    throw new MissingVariable(name);
  }

  /** Argo's `jsonpath(json, path)`: a filter's condition is an expression over `@`, the element. */
  private readonly jsonpath = (json: unknown, path: unknown): unknown => {
    if (typeof json !== 'string')
      throw new ExpressionError(`jsonpath needs a JSON string, not a ${describeType(json)}`);
    let value: unknown;
    try {
      value = JSON.parse(json);
    } catch (err) {
      throw new ExpressionError(`jsonpath: not JSON (${(err as Error).message}): ${json.slice(0, 60)}`);
    }
    // A filter's condition is parsed once per query, not once per element it is tested on.
    const parsed = new Map<string, Node>();
    const test = (cond: string, element: unknown) => {
      let node = parsed.get(cond);
      if (!node) parsed.set(cond, (node = parseExpr(cond)));
      return this.eval(node, element) === true;
    };
    return queryJsonPath(value, String(path), test);
  };

  private member(n: Extract<Node, { k: 'member' }>, pointer: unknown): unknown {
    const obj = this.eval(n.obj, pointer);
    const key = this.eval(n.prop, pointer);
    if (obj === null || obj === undefined) {
      if (n.optional) return null;
      throw new MissingVariable(`${pathOf(n.obj)}.${String(key)}`);
    }
    if (Array.isArray(obj) || typeof obj === 'string') {
      if (typeof key !== 'number')
        throw new ExpressionError(`cannot index a ${describeType(obj)} with ${String(key)}`);
      const i = key < 0 ? obj.length + key : key;
      if (i < 0 || i >= obj.length)
        throw new ExpressionError(`index ${key} out of range (length ${obj.length})`);
      return obj[i];
    }
    if (typeof obj === 'object' && Object.prototype.hasOwnProperty.call(obj, String(key))) {
      return (obj as Record<string, unknown>)[String(key)];
    }
    if (n.optional) return null;
    throw new MissingVariable(`${pathOf(n.obj)}.${String(key)}`);
  }

  private slice(n: Extract<Node, { k: 'slice' }>, pointer: unknown): unknown {
    const obj = this.eval(n.obj, pointer);
    if (!Array.isArray(obj) && typeof obj !== 'string')
      throw new ExpressionError(`cannot slice a ${describeType(obj)}`);
    const from = n.from ? Number(this.eval(n.from, pointer)) : 0;
    const to = n.to ? Number(this.eval(n.to, pointer)) : obj.length;
    return obj.slice(from, to);
  }

  private call(n: Extract<Node, { k: 'call' }>, pointer: unknown): unknown {
    if (
      n.fn.k === 'id' &&
      CLOSURE_BUILTINS[n.fn.name] &&
      !Object.prototype.hasOwnProperty.call(this.env, n.fn.name)
    ) {
      const [listNode, closure] = n.args;
      if (!listNode || closure?.k !== 'closure')
        throw new ExpressionError(`${n.fn.name}(list, {closure}) expected`);
      const list = this.eval(listNode, pointer);
      if (!Array.isArray(list))
        throw new ExpressionError(`${n.fn.name} needs a list, not a ${describeType(list)}`);
      return CLOSURE_BUILTINS[n.fn.name]?.(list, (item) => this.eval(closure.body, item));
    }
    const fn = this.eval(n.fn, pointer);
    if (typeof fn !== 'function') throw new ExpressionError(`${pathOf(n.fn)} is not a function`);
    const args = n.args.map((a) => {
      if (a.k === 'closure') throw new ExpressionError(`${pathOf(n.fn)} takes no closure`);
      return this.eval(a, pointer);
    });
    return (fn as (...a: unknown[]) => unknown)(...args);
  }

  private unary(op: string, v: unknown): unknown {
    if (op === '!') return !this.truth(v, '!');
    if (typeof v !== 'number')
      throw new ExpressionError(`unary ${op} needs a number, not a ${describeType(v)}`);
    return op === '-' ? -v : v;
  }

  private truth(v: unknown, op: string): boolean {
    if (typeof v !== 'boolean')
      throw new ExpressionError(`${op} needs a boolean, not a ${describeType(v)} (${JSON.stringify(v)})`);
    return v;
  }

  private binary(n: Extract<Node, { k: 'binary' }>, pointer: unknown): unknown {
    const { op } = n;
    if (op === '&&')
      return this.truth(this.eval(n.l, pointer), op) && this.truth(this.eval(n.r, pointer), op);
    if (op === '||')
      return this.truth(this.eval(n.l, pointer), op) || this.truth(this.eval(n.r, pointer), op);
    if (op === '??') {
      let l: unknown;
      try {
        l = this.eval(n.l, pointer);
      } catch (err) {
        if (!(err instanceof MissingVariable)) throw err;
      }
      return l === null || l === undefined ? this.eval(n.r, pointer) : l;
    }
    return applyBinary(op, this.eval(n.l, pointer), this.eval(n.r, pointer));
  }
}

function applyBinary(op: string, l: unknown, r: unknown): unknown {
  switch (op) {
    case '==':
      return equal(l, r);
    case '!=':
      return !equal(l, r);
    case '+':
      if (typeof l === 'number' && typeof r === 'number') return l + r;
      if (typeof l === 'string' && typeof r === 'string') return l + r;
      if (Array.isArray(l) && Array.isArray(r)) return [...l, ...r];
      break;
    case 'in':
      if (Array.isArray(r)) return r.some((x) => equal(x, l));
      if (r && typeof r === 'object') return Object.prototype.hasOwnProperty.call(r, String(l));
      break;
    case 'not in':
      return !applyBinary('in', l, r);
    case 'matches':
      if (typeof l === 'string' && typeof r === 'string') return new RegExp(r).test(l);
      break;
    case 'contains':
      if (typeof l === 'string' && typeof r === 'string') return l.includes(r);
      break;
    case 'startsWith':
      if (typeof l === 'string' && typeof r === 'string') return l.startsWith(r);
      break;
    case 'endsWith':
      if (typeof l === 'string' && typeof r === 'string') return l.endsWith(r);
      break;
    case '..':
      if (Number.isInteger(l) && Number.isInteger(r)) {
        return Array.from(
          { length: Math.max(0, (r as number) - (l as number) + 1) },
          (_x, i) => (l as number) + i,
        );
      }
      break;
    default: {
      const f = NUMBER_OPS[op];
      if (f && typeof l === 'number' && typeof r === 'number') return f(l, r);
      if (f && ['<', '>', '<=', '>='].includes(op) && typeof l === 'string' && typeof r === 'string') {
        return op === '<' ? l < r : op === '>' ? l > r : op === '<=' ? l <= r : l >= r;
      }
    }
  }
  throw new ExpressionError(
    `invalid operation: ${describeType(l)} ${op} ${describeType(r)} (${JSON.stringify(l)} ${op} ${JSON.stringify(r)})`,
  );
}

function equal(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === undefined) return b === null;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}

function pathOf(n: Node): string {
  if (n.k === 'id') return n.name;
  if (n.k === 'member') return `${pathOf(n.obj)}.${n.prop.k === 'lit' ? String(n.prop.v) : '[…]'}`;
  return 'expression';
}
