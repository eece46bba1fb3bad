/** `{{ name }}` placeholders as Argo writes them (simple tags, not `{{= expr }}` expression tags). */
const TAG = /\{\{\s*([^{}]*?)\s*\}\}/g;

/** Names referenced by the placeholders of a string, in order. */
export function references(text: string): string[] {
  return [...text.matchAll(TAG)].map((m) => m[1] ?? '');
}

/** Thrown by `substitute` when a placeholder names nothing in scope. */
export class UnresolvedVariable extends Error {
  constructor(readonly variable: string) {
    super(`unresolved variable {{${variable}}}`);
  }
}

/** Replaces every placeholder with its value from `scope`; an unknown name throws UnresolvedVariable. */
export function substitute(text: string, scope: ReadonlyMap<string, string>): string {
  return text.replace(TAG, (_all, ref: string) => {
    const v = scope.get(ref);
    if (v === undefined) throw new UnresolvedVariable(ref);
    return v;
  });
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
