import { ExpressionError } from './depends.js';

/**
 * `when` conditions after placeholder substitution, in the subset of govaluate Argo users write:
 * `heads == heads`, `{{inputs.parameters.acc}} >= 0.9 && ok != 'no'`, `!(a == b)`, `true`.
 * Bare words and quoted strings are strings; two numbers compare as numbers; `=~` and `!~` match a regular
 * expression (`{{steps.flip.outputs.result}} =~ hea`).
 */
type Value = string | boolean;

const TOKEN = /\s*(&&|\|\||==|!=|=~|!~|>=|<=|>|<|!|\(|\)|'[^']*'|"[^"]*"|[^\s()!=<>&|'"~]+)/y;

function tokenize(text: string): string[] {
  const tokens: string[] = [];
  let pos = 0;
  while (pos < text.length && !/^\s*$/.test(text.slice(pos))) {
    TOKEN.lastIndex = pos;
    const m = TOKEN.exec(text);
    if (!m) throw new ExpressionError(`unexpected "${text.slice(pos).trim().slice(0, 20)}"`);
    tokens.push(m[1] as string);
    pos = TOKEN.lastIndex;
  }
  return tokens;
}

const COMPARE = ['==', '!=', '=~', '!~', '>=', '<=', '>', '<'];

/** Evaluates a substituted `when` condition; throws ExpressionError when it is not one. */
export function evalWhen(text: string): boolean {
  const tokens = tokenize(text);
  let i = 0;
  const truth = (v: Value): boolean => {
    if (typeof v === 'boolean') return v;
    if (v === 'true') return true;
    if (v === 'false') return false;
    throw new ExpressionError(`"${v}" is not a condition (compare it, or write true/false)`);
  };
  const or = (): Value => {
    let v = and();
    while (tokens[i] === '||') {
      i++;
      const r = and();
      v = truth(v) || truth(r);
    }
    return v;
  };
  const and = (): Value => {
    let v = compare();
    while (tokens[i] === '&&') {
      i++;
      const r = compare();
      v = truth(v) && truth(r);
    }
    return v;
  };
  const compare = (): Value => {
    const left = unary();
    const op = tokens[i];
    if (op === undefined || !COMPARE.includes(op)) return left;
    i++;
    const right = unary();
    return compareValues(left, op, right);
  };
  const unary = (): Value => {
    const t = tokens[i++];
    if (t === undefined) throw new ExpressionError('ends too early');
    if (t === '!') return !truth(unary());
    if (t === '(') {
      const v = or();
      if (tokens[i++] !== ')') throw new ExpressionError('missing ")"');
      return v;
    }
    if (['&&', '||', ')', ...COMPARE].includes(t)) throw new ExpressionError(`unexpected "${t}"`);
    if (/^(['"]).*\1$/.test(t)) return t.slice(1, -1);
    return t;
  };
  if (tokens.length === 0) throw new ExpressionError('is empty');
  const v = or();
  if (i < tokens.length) throw new ExpressionError(`unexpected "${tokens[i]}"`);
  return truth(v);
}

function compareValues(a: Value, op: string, b: Value): boolean {
  if (op === '=~' || op === '!~') {
    let re: RegExp;
    try {
      re = new RegExp(String(b));
    } catch (err) {
      throw new ExpressionError(`"${String(b)}" is not a regular expression: ${(err as Error).message}`);
    }
    return re.test(String(a)) === (op === '=~');
  }
  const na = typeof a === 'string' && a.trim() !== '' ? Number(a) : NaN;
  const nb = typeof b === 'string' && b.trim() !== '' ? Number(b) : NaN;
  const numeric = !Number.isNaN(na) && !Number.isNaN(nb);
  const x: string | number | boolean = numeric ? na : a;
  const y: string | number | boolean = numeric ? nb : b;
  switch (op) {
    case '==':
      return x === y;
    case '!=':
      return x !== y;
    case '>':
      return x > y;
    case '<':
      return x < y;
    case '>=':
      return x >= y;
    default:
      return x <= y;
  }
}
