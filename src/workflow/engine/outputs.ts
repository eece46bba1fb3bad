// Where a template's output parameters come from (Argo's valueFrom): a file the step wrote (`path`), a field
// of the JSON it printed (`jsonPath`), or, for steps and dag templates, a tag (`parameter`) or an expression
// (`expression`) over their children. `valueFrom.default` (then the parameter's `default`) stands in when the
// source is missing. Pure functions of the step's result, its files and its scope.
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { evaluateTag, substitute, UnresolvedVariable } from '../expr/template.js';
import type { Template } from '../spec/schema.js';

type OutputParameter = NonNullable<Template['outputs']>['parameters'][number];

/** The JSON object on the last line of a step's stdout (the built-in steps' result). */
export function lastJson(text: string): Record<string, unknown> {
  const line = text.trim().split('\n').pop() ?? '';
  try {
    const v: unknown = JSON.parse(line);
    if (v && typeof v === 'object') return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new Error(`the step printed no JSON result on stdout (got ${JSON.stringify(line.slice(0, 80))})`);
}

/** A dotted path (`train.count`, `$.a[0].b`) into the JSON result; undefined where nothing is. */
export function readJsonPath(result: string, path: string): string | undefined {
  let v: unknown = lastJson(result);
  for (const part of path
    .replace(/^\$\.?/, '')
    .split(/\.|\[(\d+)\]/)
    .filter(Boolean)) {
    v = v && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
  }
  return v === undefined ? undefined : typeof v === 'string' ? v : JSON.stringify(v);
}

function fallback(p: OutputParameter): string | undefined {
  return p.valueFrom?.default ?? p.default;
}

/**
 * A container/script/distml step's output parameter, or an Error naming what is missing. `hostPath` maps an
 * absolute path of the step to where it is on the host (its private folders, see artifacts/private-paths.ts).
 */
export function leafParameter(
  p: OutputParameter,
  result: string,
  cwd: string,
  hostPath: (path: string) => string = (path) => path,
): string {
  const from = p.valueFrom ?? {};
  let v: string | undefined;
  if (from.path !== undefined) {
    const file = isAbsolute(from.path) ? hostPath(from.path) : join(cwd, from.path);
    v = existsSync(file) ? readFileSync(file, 'utf8').replace(/\r?\n$/, '') : undefined;
  } else if (from.jsonPath !== undefined) v = readJsonPath(result, from.jsonPath);
  v ??= fallback(p);
  if (v === undefined) {
    const source =
      from.path !== undefined ? `file ${from.path}` : `field ${from.jsonPath} of the JSON result`;
    throw new Error(
      `output parameter "${p.name}": ${source} not found (give it a default to make it optional)`,
    );
  }
  return v;
}

/** A steps or dag template's output parameter from its children's scope; a missing child output takes the default. */
export function compositeParameter(p: OutputParameter, scope: ReadonlyMap<string, string>): string {
  const from = p.valueFrom ?? {};
  try {
    if (from.expression !== undefined) return evaluateTag(from.expression, scope);
    if (from.parameter !== undefined) return substitute(from.parameter, scope);
  } catch (err) {
    const v = fallback(p);
    if (err instanceof UnresolvedVariable && v !== undefined) return v;
    throw err;
  }
  return fallback(p) ?? '';
}
