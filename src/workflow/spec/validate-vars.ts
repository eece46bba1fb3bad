// Placeholders (`{{…}}`) and expressions in a workflow: what each may name where it appears.
import { ExpressionError } from '../expr/depends.js';
import { parseExpr } from '../expr/lang/parse.js';
import { references } from '../expr/template.js';
import { artifactVarProblem } from './validate-artifacts.js';
import { BUILTINS } from '../steps/builtin.js';
import type { Template } from './schema.js';

export type Path = (string | number)[];

export interface Ctx {
  byName: Map<string, Template>;
  workflowParams: Set<string>;
  /** Output parameters' globalNames: `workflow.outputs.parameters.<name>`. */
  globalNames: Set<string>;
  add: (path: Path, message: string) => void;
}

/** Where a placeholder appears decides what it may name. */
export interface VarScope {
  inputs: Set<string>;
  inputArtifacts?: Set<string>;
  /** steps.X or tasks.X that may be referenced, with their templates (for output names). */
  siblings?: { prefix: 'steps' | 'tasks'; names: Map<string, Template | undefined> };
  item: boolean;
}

export function checkStrings(ctx: Ctx, value: unknown, path: Path, scope: VarScope): void {
  if (typeof value === 'string') checkVars(ctx, value, path, scope);
  else if (Array.isArray(value)) value.forEach((v, i) => checkStrings(ctx, v, [...path, i], scope));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) checkStrings(ctx, v, [...path, k], scope);
  }
}

/** Checks each `{{...}}` of a string names something that will exist where the string is used. */
export function checkVars(
  ctx: Ctx,
  text: string,
  path: Path,
  scope: VarScope,
  all?: Map<string, unknown>,
): void {
  for (const ref of references(text)) {
    const problem = varProblem(ctx, ref, scope, all);
    if (problem) ctx.add(path, problem);
  }
}

export function varProblem(
  ctx: Ctx,
  ref: string,
  scope: VarScope,
  all?: Map<string, unknown>,
): string | undefined {
  if (ref.startsWith('=')) return expressionProblem(ref.slice(1));
  const parts = ref.split('.');
  const artifactProblem = artifactVarProblem(ref, parts, scope);
  if (artifactProblem !== false) return artifactProblem;
  const head = parts[0];
  if (head === 'item')
    return scope.item
      ? undefined
      : `{{${ref}}} is only defined in a step with withItems, withParam or withSequence`;
  if (ref === 'retries') return undefined;
  if (head === 'workflow') return workflowVarProblem(ctx, ref, parts);
  if (head === 'inputs') return inputVarProblem(ref, parts, scope);
  if (head === 'steps' || head === 'tasks') return siblingVarProblem(ref, parts, scope, all);
  return `unknown variable {{${ref}}}`;
}

/** `workflow.*` names Argo defines (variables.md), which the engine fills in (engine/variables.ts). */
const WORKFLOW_VARS = new Set([
  'name',
  'uid',
  'namespace',
  'mainEntrypoint',
  'serviceAccountName',
  'status',
  'failures',
  'duration',
  'priority',
  'creationTimestamp',
  'parameters',
  'parameters.json',
  'labels.json',
  'annotations.json',
]);

export function workflowVarProblem(ctx: Ctx, ref: string, parts: string[]): string | undefined {
  const rest = parts.slice(1).join('.');
  if (WORKFLOW_VARS.has(rest)) return undefined;
  const [second, third] = [parts[1], parts[2]];
  if (second === 'creationTimestamp' && parts.length === 3) return undefined;
  if ((second === 'labels' || second === 'annotations') && parts.length >= 3) return undefined;
  if (second === 'outputs' && third === 'parameters' && parts.length === 4) {
    return ctx.globalNames.has(parts[3] ?? '')
      ? undefined
      : `{{${ref}}}: no output parameter has globalName "${parts[3]}"`;
  }
  if (second === 'parameters' && parts.length === 3) {
    return ctx.workflowParams.has(third ?? '')
      ? undefined
      : `unknown workflow parameter "${third}" in {{${ref}}} (declare it in spec.arguments.parameters)`;
  }
  return `unknown variable {{${ref}}}`;
}

export function inputVarProblem(ref: string, parts: string[], scope: VarScope): string | undefined {
  if (parts[1] === 'parameters' && parts.length === 2) return undefined;
  if (parts[1] === 'parameters' && parts.length === 3) {
    return scope.inputs.has(parts[2] ?? '')
      ? undefined
      : `unknown input parameter "${parts[2]}" in {{${ref}}} (declare it in inputs.parameters)`;
  }
  return `unknown variable {{${ref}}}`;
}

export function siblingVarProblem(
  ref: string,
  parts: string[],
  scope: VarScope,
  all?: Map<string, unknown>,
): string | undefined {
  const [head, second, third, fourth] = parts;
  const sib = scope.siblings;
  if (!sib || sib.prefix !== head)
    return `{{${ref}}} can only be used inside a ${head === 'steps' ? 'steps' : 'dag'} template`;
  if (!sib.names.has(second ?? '')) {
    if (head === 'tasks' && all?.has(second ?? ''))
      return `{{${ref}}} refers to task "${second}" which this task does not depend on`;
    return `{{${ref}}}: no ${head === 'steps' ? 'earlier step' : 'task'} named "${second}"`;
  }
  if (parts.length === 3 && ['status', 'exitCode', 'id', 'hostNodeName'].includes(third ?? ''))
    return undefined;
  if (third === 'outputs' && (fourth === 'result' || fourth === 'parameters') && parts.length === 4)
    return undefined;
  if (third === 'outputs' && fourth === 'parameters' && parts.length === 5) {
    const target = sib.names.get(second ?? '');
    const declared = new Set((target?.outputs?.parameters ?? []).map((p) => p.name));
    if (target?.distml) BUILTINS[target.distml.kind].outputNames.forEach((n) => declared.add(n));
    return !target || declared.has(parts[4] ?? '')
      ? undefined
      : `{{${ref}}}: template "${target.name}" has no output parameter "${parts[4]}"`;
  }
  return `unknown variable {{${ref}}}`;
}

/** An expression tag is checked for syntax here; the names it reads are checked when it is evaluated. */
export function expressionProblem(expression: string): string | undefined {
  try {
    parseExpr(expression);
    return undefined;
  } catch (err) {
    return `expression {{=${expression.trim()}}}: ${(err as Error).message}`;
  }
}

export { ExpressionError };
