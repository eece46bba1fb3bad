/**
 * Argo's `depends` expressions: task results joined by `&&`, `||`, `!` and parentheses, e.g.
 * `A.Succeeded || (B && !C.Failed)`. A bare task name means `A.Succeeded || A.Skipped || A.Daemoned`.
 */
export const TASK_RESULTS = [
  'Succeeded',
  'Failed',
  'Errored',
  'Skipped',
  'Omitted',
  'Daemoned',
  'AnySucceeded',
  'AllFailed',
] as const;
export type TaskResult = (typeof TASK_RESULTS)[number];

export type DependsExpr =
  | { op: 'and' | 'or'; left: DependsExpr; right: DependsExpr }
  | { op: 'not'; expr: DependsExpr }
  | { op: 'task'; task: string; result: TaskResult | null };

export class ExpressionError extends Error {}

const TOKEN = /\s*(&&|\|\||!|\(|\)|[A-Za-z0-9_-]+(?:\.[A-Za-z]+)?)/y;

function tokenize(text: string): string[] {
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  let pos = 0;
  while (pos < text.length) {
    if (/^\s*$/.test(text.slice(pos))) break;
    TOKEN.lastIndex = pos;
    const m = TOKEN.exec(text);
    if (!m) throw new ExpressionError(`unexpected "${text.slice(pos).trim().slice(0, 20)}" at offset ${pos}`);
    tokens.push(m[1] as string);
    pos = TOKEN.lastIndex;
  }
  return tokens;
}

/** Parses a `depends` expression; throws ExpressionError with what is wrong. */
export function parseDepends(text: string): DependsExpr {
  const tokens = tokenize(text);
  let i = 0;
  const peek = () => tokens[i];
  const orExpr = (): DependsExpr => {
    let left = andExpr();
    while (peek() === '||') {
      i++;
      left = { op: 'or', left, right: andExpr() };
    }
    return left;
  };
  const andExpr = (): DependsExpr => {
    let left = unary();
    while (peek() === '&&') {
      i++;
      left = { op: 'and', left, right: unary() };
    }
    return left;
  };
  const unary = (): DependsExpr => {
    const t = tokens[i++];
    if (t === undefined) throw new ExpressionError('ends too early: expected a task name');
    if (t === '!') return { op: 'not', expr: unary() };
    if (t === '(') {
      const e = orExpr();
      if (tokens[i++] !== ')') throw new ExpressionError('missing ")"');
      return e;
    }
    if (t === ')' || t === '&&' || t === '||')
      throw new ExpressionError(`unexpected "${t}": expected a task name`);
    const [task, result] = t.split('.') as [string, string | undefined];
    if (result !== undefined && !(TASK_RESULTS as readonly string[]).includes(result)) {
      throw new ExpressionError(`"${t}": unknown result "${result}" (one of ${TASK_RESULTS.join(', ')})`);
    }
    return { op: 'task', task, result: (result as TaskResult | undefined) ?? null };
  };
  if (tokens.length === 0) throw new ExpressionError('is empty');
  const expr = orExpr();
  if (i < tokens.length) throw new ExpressionError(`unexpected "${tokens[i]}" after a complete expression`);
  return expr;
}

/** Task names a `depends` expression mentions. */
export function dependsTasks(e: DependsExpr): string[] {
  if (e.op === 'task') return [e.task];
  if (e.op === 'not') return dependsTasks(e.expr);
  return [...dependsTasks(e.left), ...dependsTasks(e.right)];
}

/** Results mentioned for each task (to tell which failures a DAG handles). */
export function mentionedResults(e: DependsExpr): { task: string; result: TaskResult | null }[] {
  if (e.op === 'task') return [{ task: e.task, result: e.result }];
  if (e.op === 'not') return mentionedResults(e.expr);
  return [...mentionedResults(e.left), ...mentionedResults(e.right)];
}

/** What a finished task looks like to an expression: its phase and, for fan-outs, its items' phases. */
export interface TaskOutcome {
  phase: string;
  itemPhases: string[];
  /** A daemon step that is up and serving (Argo's Daemoned). */
  daemoned?: boolean;
}

export function evalDepends(e: DependsExpr, outcome: (task: string) => TaskOutcome): boolean {
  switch (e.op) {
    case 'and':
      return evalDepends(e.left, outcome) && evalDepends(e.right, outcome);
    case 'or':
      return evalDepends(e.left, outcome) || evalDepends(e.right, outcome);
    case 'not':
      return !evalDepends(e.expr, outcome);
    case 'task': {
      const o = outcome(e.task);
      const items = o.itemPhases.length ? o.itemPhases : [o.phase];
      switch (e.result) {
        case null:
          return o.phase === 'Succeeded' || o.phase === 'Skipped';
        case 'Errored':
          return o.phase === 'Error';
        case 'Daemoned':
          return o.daemoned === true;
        case 'AnySucceeded':
          return items.some((p) => p === 'Succeeded');
        case 'AllFailed':
          return items.every((p) => p === 'Failed' || p === 'Error');
        default:
          return o.phase === e.result;
      }
    }
  }
}
