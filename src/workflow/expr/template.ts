import { ExpressionError } from './depends.js';
import { evaluate, expandEnv, MissingVariable } from './lang/evaluate.js';

/**
 * Argo's two kinds of template tag: simple `{{ name }}` and expression `{{= expr }}` (`{{` directly followed by
 * `=`; an expression may hold braces, and ends at the first `}}`, as in Argo's template parser).
 */
const TAG = /\{\{(=[\s\S]*?|\s*[^{}]*?\s*)\}\}/g;

/** What the placeholders of a string reference, in order: a variable name, or `=expr` for an expression tag. */
export function references(text: string): string[] {
  return [...text.matchAll(TAG)].map((m) => (m[1] ?? '').trim());
}

/** Thrown by `substitute` when a placeholder names nothing in scope. */
export class UnresolvedVariable extends Error {
  constructor(readonly variable: string) {
    super(`unresolved variable {{${variable}}}`);
  }
}

/** Thrown by `substitute` when an expression tag cannot be evaluated (syntax, types). */
export class ExpressionTagError extends Error {
  constructor(
    readonly expression: string,
    reason: string,
  ) {
    super(`expression {{=${expression}}}: ${reason}`);
  }
}

/**
 * Replaces every placeholder with its value from `scope`: a simple tag by name, an expression tag by evaluating
 * it with the scope expanded into nested maps. An unknown name throws UnresolvedVariable.
 */
export function substitute(text: string, scope: ReadonlyMap<string, string>): string {
  let env: ReturnType<typeof expandEnv> | undefined;
  return text.replace(TAG, (_all, tag: string) => {
    if (tag.startsWith('=')) return expressionValue(tag.slice(1).trim(), (env ??= expandEnv(scope)));
    const ref = tag.trim();
    const v = scope.get(ref);
    if (v === undefined) throw new UnresolvedVariable(ref);
    return v;
  });
}

/** Evaluates one expression (the inside of a `{{= … }}` tag) in `scope`, as the tag would insert it. */
export function evaluateTag(expression: string, scope: ReadonlyMap<string, string>): string {
  return expressionValue(expression, expandEnv(scope));
}

/** An expression's value as Argo inserts it: strings as they are, anything else as JSON. */
function expressionValue(expression: string, env: ReturnType<typeof expandEnv>): string {
  let v: unknown;
  try {
    v = evaluate(expression, env);
  } catch (err) {
    if (err instanceof MissingVariable) throw new UnresolvedVariable(err.variable);
    if (err instanceof ExpressionError || err instanceof SyntaxError)
      throw new ExpressionTagError(expression, err.message);
    throw err;
  }
  if (v === null || v === undefined) throw new ExpressionTagError(expression, 'evaluates to nil');
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** The scope entries of one fan-out item: `item`, and `item.field` for each field of an object item. */
export function itemScope(item: unknown): [string, string][] {
  const entries: [string, string][] = [['item', typeof item === 'string' ? item : JSON.stringify(item)]];
  if (item && typeof item === 'object' && !Array.isArray(item)) {
    for (const [k, v] of Object.entries(item))
      entries.push([`item.${k}`, typeof v === 'string' ? v : JSON.stringify(v)]);
  }
  return entries;
}

/** How a fan-out item shows in a node name: `train(1:dropout)`. */
export function itemLabel(item: unknown): string {
  const text = typeof item === 'string' ? item : JSON.stringify(item);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}
