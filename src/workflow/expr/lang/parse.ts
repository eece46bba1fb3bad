// The syntax of Argo's expression tags `{{= … }}`, which are expr-lang (github.com/expr-lang/expr) programs:
// literals, member and index access (`inputs.parameters['my-param']`), slices, calls, closures (`{# > 1}`),
// unary and binary operators with expr-lang's precedence, `?:` and `??`. Parsed once into a small tree that
// evaluate.ts walks; no JavaScript is ever evaluated.
import { ExpressionError } from '../depends.js';

export type Node =
  | { k: 'lit'; v: unknown }
  | { k: 'id'; name: string }
  | { k: 'member'; obj: Node; prop: Node; optional: boolean }
  | { k: 'slice'; obj: Node; from: Node | undefined; to: Node | undefined }
  | { k: 'call'; fn: Node; args: Node[] }
  | { k: 'closure'; body: Node }
  | { k: 'unary'; op: string; x: Node }
  | { k: 'binary'; op: string; l: Node; r: Node }
  | { k: 'cond'; c: Node; a: Node; b: Node }
  | { k: 'array'; items: Node[] }
  | { k: 'map'; entries: [Node, Node][] };

type Token = { t: 'num' | 'str' | 'id' | 'op'; v: string };

const TOKEN =
  /\s*(?:(\d+\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+|0[xX][0-9a-fA-F]+|\d+)|('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|([A-Za-z_$][A-Za-z0-9_$]*)|(\*\*|==|!=|<=|>=|&&|\|\||\?\?|\?\.|\.\.|[-+*/%<>!?:.,()[\]{}#@^]))/y;

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let pos = 0;
  while (!/^\s*$/.test(text.slice(pos))) {
    TOKEN.lastIndex = pos;
    const m = TOKEN.exec(text);
    if (!m) throw new ExpressionError(`unexpected "${text.slice(pos).trim().slice(0, 20)}"`);
    if (m[1] !== undefined) out.push({ t: 'num', v: m[1] });
    else if (m[2] !== undefined) out.push({ t: 'str', v: unquote(m[2]) });
    else if (m[3] !== undefined) out.push({ t: 'id', v: m[3] });
    else out.push({ t: 'op', v: m[4] as string });
    pos = TOKEN.lastIndex;
  }
  return out;
}

function unquote(s: string): string {
  const body = s.slice(1, -1);
  const escapes: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"' };
  return body.replace(/\\(u[0-9a-fA-F]{4}|.)/g, (_all, e: string) =>
    e.length === 5 ? String.fromCharCode(parseInt(e.slice(1), 16)) : (escapes[e] ?? e),
  );
}

/** Binary operators by precedence (expr-lang's table), with the word operators beside their symbols. */
const BINARY: Record<string, number> = {
  '||': 10,
  or: 10,
  '&&': 15,
  and: 15,
  '==': 20,
  '!=': 20,
  '<': 20,
  '>': 20,
  '<=': 20,
  '>=': 20,
  in: 20,
  'not in': 20,
  matches: 20,
  contains: 20,
  startsWith: 20,
  endsWith: 20,
  '..': 25,
  '+': 30,
  '-': 30,
  '*': 60,
  '/': 60,
  '%': 60,
  '**': 100,
  '^': 100,
  '??': 500,
};
const RIGHT_ASSOC = new Set(['**', '^']);
const CONSTANTS: Record<string, unknown> = { true: true, false: false, nil: null };

/** Parses an expression; throws ExpressionError naming what is wrong. */
export function parseExpr(text: string): Node {
  const tokens = tokenize(text);
  let i = 0;
  const peek = (): Token | undefined => tokens[i];
  const isOp = (v: string) => peek()?.t === 'op' && peek()?.v === v;
  const expect = (v: string) => {
    if (!isOp(v))
      throw new ExpressionError(`expected "${v}"${peek() ? ` before "${peek()?.v}"` : ' at the end'}`);
    i++;
  };
  const binaryOp = (): string | undefined => {
    const t = peek();
    if (!t) return undefined;
    if (t.t === 'id' && t.v === 'not' && tokens[i + 1]?.t === 'id' && tokens[i + 1]?.v === 'in')
      return 'not in';
    if ((t.t === 'op' || t.t === 'id') && BINARY[t.v] !== undefined) return t.v;
    return undefined;
  };

  const expression = (): Node => {
    const c = binary(0);
    if (isOp('?')) {
      i++;
      const a = expression();
      expect(':');
      return { k: 'cond', c, a, b: expression() };
    }
    return c;
  };
  const binary = (minPrec: number): Node => {
    let left = unary();
    for (let op = binaryOp(); op !== undefined; op = binaryOp()) {
      const prec = BINARY[op] as number;
      if (prec < minPrec) break;
      i += op === 'not in' ? 2 : 1;
      const right = binary(RIGHT_ASSOC.has(op) ? prec : prec + 1);
      left = {
        k: 'binary',
        op: op === 'or' ? '||' : op === 'and' ? '&&' : op === '^' ? '**' : op,
        l: left,
        r: right,
      };
    }
    return left;
  };
  const unary = (): Node => {
    const t = peek();
    if (t && ((t.t === 'op' && ['!', '-', '+'].includes(t.v)) || (t.t === 'id' && t.v === 'not'))) {
      i++;
      return { k: 'unary', op: t.v === 'not' ? '!' : t.v, x: binary(90) };
    }
    return postfix(primary());
  };
  const postfix = (node: Node): Node => {
    for (;;) {
      if (isOp('.') || isOp('?.')) {
        const optional = peek()?.v === '?.';
        i++;
        const name = tokens[i++];
        if (!name || name.t !== 'id') throw new ExpressionError('expected a field name after "."');
        node = { k: 'member', obj: node, prop: { k: 'lit', v: name.v }, optional };
      } else if (isOp('[')) {
        i++;
        node = indexOrSlice(node);
      } else if (isOp('(')) {
        i++;
        node = { k: 'call', fn: node, args: list(')') };
      } else return node;
    }
  };
  const indexOrSlice = (obj: Node): Node => {
    const from = isOp(':') ? undefined : expression();
    if (isOp(']')) {
      i++;
      if (!from) throw new ExpressionError('empty index "[]"');
      return { k: 'member', obj, prop: from, optional: false };
    }
    expect(':');
    const to = isOp(']') ? undefined : expression();
    expect(']');
    return { k: 'slice', obj, from, to };
  };
  const list = (close: string): Node[] => {
    const items: Node[] = [];
    while (!isOp(close)) {
      items.push(isOp('{') && close === ')' ? closureOrMap() : expression());
      if (!isOp(close)) expect(',');
    }
    i++;
    return items;
  };
  const closureOrMap = (): Node => {
    // `{#...}` / `{ # > 1 }` is a closure; `{key: value}` a map. A closure's body uses `#` (or `.field`).
    i++;
    const first = peek();
    const second = tokens[i + 1];
    const isMap =
      isOp('}') || ((first?.t === 'id' || first?.t === 'str' || first?.t === 'num') && second?.v === ':');
    if (isMap) return mapLiteral();
    const body = expression();
    expect('}');
    return { k: 'closure', body };
  };
  const primary = (): Node => {
    const t = tokens[i++];
    if (!t) throw new ExpressionError('ends too early');
    if (t.t === 'num') return { k: 'lit', v: Number(t.v) };
    if (t.t === 'str') return { k: 'lit', v: t.v };
    if (t.t === 'id') return t.v in CONSTANTS ? { k: 'lit', v: CONSTANTS[t.v] } : { k: 'id', name: t.v };
    switch (t.v) {
      case '(': {
        const e = expression();
        expect(')');
        return e;
      }
      case '[':
        return { k: 'array', items: list(']') };
      case '{':
        i--;
        return closureOrMap();
      case '#':
      case '@':
        return { k: 'id', name: t.v };
      case '.': {
        // `.field` inside a closure is `#.field`
        const name = tokens[i++];
        if (!name || name.t !== 'id') throw new ExpressionError('expected a field name after "."');
        return { k: 'member', obj: { k: 'id', name: '#' }, prop: { k: 'lit', v: name.v }, optional: false };
      }
    }
    throw new ExpressionError(`unexpected "${t.v}"`);
  };
  const mapLiteral = (): Node => {
    const entries: [Node, Node][] = [];
    while (!isOp('}')) {
      const key = tokens[i++];
      if (!key) throw new ExpressionError('unterminated map literal');
      const keyNode: Node =
        key.t === 'op' && key.v === '('
          ? (() => {
              const e = expression();
              expect(')');
              return e;
            })()
          : { k: 'lit', v: key.v };
      expect(':');
      entries.push([keyNode, expression()]);
      if (!isOp('}')) expect(',');
    }
    i++;
    return { k: 'map', entries };
  };

  if (tokens.length === 0) throw new ExpressionError('is empty');
  const node = expression();
  if (i < tokens.length) throw new ExpressionError(`unexpected "${tokens[i]?.v}"`);
  return node;
}
