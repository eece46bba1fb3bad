// The artifact half of the semantic checks: where each kind of template takes its artifacts from, and which
// `{{…artifacts…}}` names exist where they are used (Argo's validation of inputs/outputs.artifacts).
import type { DagTask, Step, Template } from './schema.js';

type Path = (string | number)[];
type Check = (text: string, at: Path) => void;
interface Ctx {
  add: (path: Path, message: string) => void;
}
/** What a placeholder may name where it appears (validate.ts's VarScope, the parts read here). */
interface VarScope {
  inputArtifacts?: Set<string>;
  siblings?: { prefix: 'steps' | 'tasks'; names: Map<string, Template | undefined> };
}

/** Path or from, as the template's kind needs; `from` tags checked by `check`. */
export function checkArtifacts(ctx: Ctx, t: Template, path: Path, check: Check): void {
  const composite = t.steps !== undefined || t.dag !== undefined;
  t.inputs?.artifacts.forEach((a, i) => {
    const at = [...path, 'inputs', 'artifacts', i];
    if (!composite && a.path === undefined)
      ctx.add([...at, 'path'], `input artifact "${a.name}" needs a path: where the step finds it`);
    if (a.from !== undefined) check(a.from, [...at, 'from']);
  });
  t.outputs?.artifacts.forEach((a, i) => {
    const at = [...path, 'outputs', 'artifacts', i];
    if (composite && a.path !== undefined)
      ctx.add(
        [...at, 'path'],
        'a steps or dag template writes no files: take the artifact from a child (from)',
      );
    if (!composite && (a.from !== undefined || a.fromExpression !== undefined))
      ctx.add([...at, 'from'], 'only steps and dag templates take output artifacts from their children');
  });
}

/**
 * The problem with an artifact variable, undefined when it is fine, or false when `ref` is not about
 * artifacts: `inputs.artifacts.X[.path]`, `outputs.artifacts.X.path`, `outputs.parameters.X.path`,
 * `steps.X.outputs.artifacts.Y` / `tasks.…`, `workflow.outputs.artifacts.G`.
 */
export function artifactVarProblem(
  ref: string,
  parts: string[],
  scope: VarScope,
): string | undefined | false {
  const [head, second, third, fourth] = parts;
  if (head === 'inputs' && second === 'artifacts') {
    if (parts.length === 3 || (parts.length === 4 && fourth === 'path')) {
      return scope.inputArtifacts?.has(third ?? '')
        ? undefined
        : `unknown input artifact "${third}" in {{${ref}}} (declare it in inputs.artifacts)`;
    }
    return `unknown variable {{${ref}}}`;
  }
  if (head === 'outputs' && (second === 'artifacts' || second === 'parameters') && fourth === 'path')
    return parts.length === 4 ? undefined : `unknown variable {{${ref}}}`;
  if (head === 'workflow' && second === 'outputs' && third === 'artifacts')
    return parts.length === 4 ? undefined : `unknown variable {{${ref}}}`;
  if ((head === 'steps' || head === 'tasks') && third === 'outputs' && fourth === 'artifacts') {
    if (parts.length !== 5) return `unknown variable {{${ref}}}`;
    const sib = scope.siblings;
    if (!sib || sib.prefix !== head || !sib.names.has(second ?? '')) return false; // the sibling check says why
    const target = sib.names.get(second ?? '');
    return !target || (target.outputs?.artifacts ?? []).some((a) => a.name === parts[4])
      ? undefined
      : `{{${ref}}}: template "${target.name}" has no output artifact "${parts[4]}"`;
  }
  return false;
}

/** A call's arguments.artifacts: each names an input of the template, and every required input is given. */
export function checkCallArtifacts(
  ctx: Ctx,
  s: Step | DagTask,
  target: Template | undefined,
  at: Path,
  check: Check,
): void {
  const given = s.arguments?.artifacts ?? [];
  given.forEach((a, j) => {
    const argPath = [...at, 'arguments', 'artifacts', j];
    if (a.from !== undefined) check(a.from, [...argPath, 'from']);
    if (target && !(target.inputs?.artifacts ?? []).some((p) => p.name === a.name))
      ctx.add([...argPath, 'name'], `template "${target.name}" has no input artifact "${a.name}"`);
  });
  for (const p of target?.inputs?.artifacts ?? []) {
    if (given.some((a) => a.name === p.name) || p.optional || p.from !== undefined || p.raw !== undefined)
      continue;
    ctx.add([...at, 'arguments'], `missing artifact "${p.name}" required by template "${target?.name}"`);
  }
}
