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
  return new Parser(tokenize(text)).parse();
}

/** A Pratt parser over the tokens: one method per rule of the grammar. */
class Parser {
  private i = 0;

  constructor(private readonly tokens: Token[]) {}

  private peek(): Token | undefined {
    return this.tokens[this.i];
  }
  private isOp(v: string) {
    return this.peek()?.t === 'op' && this.peek()?.v === v;
  }
  private expect(v: string) {
    if (!this.isOp(v))
      throw new ExpressionError(
        `expected "${v}"${this.peek() ? ` before "${this.peek()?.v}"` : ' at the end'}`,
      );
    this.i++;
  }
  private binaryOp(): string | undefined {
    const t = this.peek();
    if (!t) return undefined;
    if (
      t.t === 'id' &&
      t.v === 'not' &&
      this.tokens[this.i + 1]?.t === 'id' &&
      this.tokens[this.i + 1]?.v === 'in'
    )
      return 'not in';
    if ((t.t === 'op' || t.t === 'id') && BINARY[t.v] !== undefined) return t.v;
    return undefined;
  }

  private expression(): Node {
    const c = this.binary(0);
    if (this.isOp('?')) {
      this.i++;
      const a = this.expression();
      this.expect(':');
      return { k: 'cond', c, a, b: this.expression() };
    }
    return c;
  }
  private binary(minPrec: number): Node {
    let left = this.unary();
    for (let op = this.binaryOp(); op !== undefined; op = this.binaryOp()) {
      const prec = BINARY[op] as number;
      if (prec < minPrec) break;
      this.i += op === 'not in' ? 2 : 1;
      const right = this.binary(RIGHT_ASSOC.has(op) ? prec : prec + 1);
      left = {
        k: 'binary',
        op: op === 'or' ? '||' : op === 'and' ? '&&' : op === '^' ? '**' : op,
        l: left,
        r: right,
      };
    }
    return left;
  }
  private unary(): Node {
    const t = this.peek();
    if (t && ((t.t === 'op' && ['!', '-', '+'].includes(t.v)) || (t.t === 'id' && t.v === 'not'))) {
      this.i++;
      return { k: 'unary', op: t.v === 'not' ? '!' : t.v, x: this.binary(90) };
    }
    return this.postfix(this.primary());
  }
  private postfix(node: Node): Node {
    for (;;) {
      if (this.isOp('.') || this.isOp('?.')) {
        const optional = this.peek()?.v === '?.';
        this.i++;
        const name = this.tokens[this.i++];
        if (!name || name.t !== 'id') throw new ExpressionError('expected a field name after "."');
        node = { k: 'member', obj: node, prop: { k: 'lit', v: name.v }, optional };
      } else if (this.isOp('[')) {
        this.i++;
        node = this.indexOrSlice(node);
      } else if (this.isOp('(')) {
        this.i++;
        node = { k: 'call', fn: node, args: this.list(')') };
      } else return node;
    }
  }
  private indexOrSlice(obj: Node): Node {
    const from = this.isOp(':') ? undefined : this.expression();
    if (this.isOp(']')) {
      this.i++;
      if (!from) throw new ExpressionError('empty index "[]"');
      return { k: 'member', obj, prop: from, optional: false };
    }
    this.expect(':');
    const to = this.isOp(']') ? undefined : this.expression();
    this.expect(']');
    return { k: 'slice', obj, from, to };
  }
  private list(close: string): Node[] {
    const items: Node[] = [];
    while (!this.isOp(close)) {
      items.push(this.isOp('{') && close === ')' ? this.closureOrMap() : this.expression());
      if (!this.isOp(close)) this.expect(',');
    }
    this.i++;
    return items;
  }
  private closureOrMap(): Node {
    // `{#...}` / `{ # > 1 }` is a closure; `{key: value}` a map. A closure's body uses `#` (or `.field`).
    this.i++;
    const first = this.peek();
    const second = this.tokens[this.i + 1];
    const isMap =
      this.isOp('}') ||
      ((first?.t === 'id' || first?.t === 'str' || first?.t === 'num') && second?.v === ':');
    if (isMap) return this.mapLiteral();
    const body = this.expression();
    this.expect('}');
    return { k: 'closure', body };
  }
  private primary(): Node {
    const t = this.tokens[this.i++];
    if (!t) throw new ExpressionError('ends too early');
    if (t.t === 'num') return { k: 'lit', v: Number(t.v) };
    if (t.t === 'str') return { k: 'lit', v: t.v };
    if (t.t === 'id') return t.v in CONSTANTS ? { k: 'lit', v: CONSTANTS[t.v] } : { k: 'id', name: t.v };
    switch (t.v) {
      case '(': {
        const e = this.expression();
        this.expect(')');
        return e;
      }
      case '[':
        return { k: 'array', items: this.list(']') };
      case '{':
        this.i--;
        return this.closureOrMap();
      case '#':
      case '@':
        return { k: 'id', name: t.v };
      case '.': {
        // `.field` inside a closure is `#.field`
        const name = this.tokens[this.i++];
        if (!name || name.t !== 'id') throw new ExpressionError('expected a field name after "."');
        return { k: 'member', obj: { k: 'id', name: '#' }, prop: { k: 'lit', v: name.v }, optional: false };
      }
    }
    throw new ExpressionError(`unexpected "${t.v}"`);
  }
  private mapLiteral(): Node {
    const entries: [Node, Node][] = [];
    while (!this.isOp('}')) {
      const key = this.tokens[this.i++];
      if (!key) throw new ExpressionError('unterminated map literal');
      const keyNode: Node =
        key.t === 'op' && key.v === '('
          ? (() => {
              const e = this.expression();
              this.expect(')');
              return e;
            })()
          : { k: 'lit', v: key.v };
      this.expect(':');
      entries.push([keyNode, this.expression()]);
      if (!this.isOp('}')) this.expect(',');
    }
    this.i++;
    return { k: 'map', entries };
  }

  parse(): Node {
    if (this.tokens.length === 0) throw new ExpressionError('is empty');
    const node = this.expression();
    if (this.i < this.tokens.length) throw new ExpressionError(`unexpected "${this.tokens[this.i]?.v}"`);
    return node;
  }
}
