import { dependsTasks, parseDepends } from '../expr/depends.js';
import { parseDuration, parseMemory } from '../expr/quantity.js';
import { evalWhen } from '../expr/when.js';
import type { SpecProblem } from '../errors.js';
import { checkArtifacts, checkCallArtifacts } from './validate-artifacts.js';
import {
  checkStrings,
  checkVars,
  expressionProblem,
  type Ctx,
  type Path,
  type VarScope,
} from './validate-vars.js';
export { ExpressionError } from './validate-vars.js';
import {
  templateKind,
  type DagTask,
  stepHooks,
  type Hooks,
  type Step,
  type Template,
  type WorkflowSpec,
} from './schema.js';

/** Semantic checks zod cannot do: references, expressions, cycles, parameters. Returns every problem found. */
export function validateWorkflow(wf: WorkflowSpec): SpecProblem[] {
  const problems: SpecProblem[] = [];
  const add = (path: Path, message: string) => problems.push({ path, message });
  const byName = new Map<string, Template>();
  wf.spec.templates.forEach((t, i) => {
    if (byName.has(t.name)) add(['spec', 'templates', i, 'name'], `duplicate template name "${t.name}"`);
    byName.set(t.name, t);
  });
  const known = [...byName.keys()].join(', ');
  if (!byName.has(wf.spec.entrypoint))
    add(['spec', 'entrypoint'], `unknown template "${wf.spec.entrypoint}" (templates: ${known})`);
  if (wf.spec.onExit !== undefined && !byName.has(wf.spec.onExit)) {
    add(['spec', 'onExit'], `unknown template "${wf.spec.onExit}" (templates: ${known})`);
  }
  if (wf.spec.onExit !== undefined && wf.spec.hooks?.exit !== undefined)
    add(
      ['spec', 'hooks', 'exit'],
      'set either spec.onExit or spec.hooks.exit, not both (both are the exit handler)',
    );
  const workflowParams = new Set(wf.spec.arguments.parameters.map((p) => p.name));
  const globalNames = new Set(
    wf.spec.templates.flatMap((t) => (t.outputs?.parameters ?? []).flatMap((p) => p.globalName ?? [])),
  );
  const ctx: Ctx = { byName, workflowParams, globalNames, add };
  validateHooks(ctx, wf.spec.hooks, ['spec', 'hooks'], { inputs: new Set(), item: false });
  wf.spec.templates.forEach((t, i) => validateTemplate(ctx, t, ['spec', 'templates', i]));
  wf.spec.arguments.artifacts.forEach((a, i) => {
    if (a.raw === undefined)
      add(
        ['spec', 'arguments', 'artifacts', i],
        'a workflow argument artifact must be raw (there is no external store)',
      );
  });
  return problems;
}

function validateTemplate(ctx: Ctx, t: Template, path: Path): void {
  const inputs = new Set((t.inputs?.parameters ?? []).map((p) => p.name));
  const inputArtifacts = new Set((t.inputs?.artifacts ?? []).map((a) => a.name));
  const body: VarScope = { inputs, inputArtifacts, item: false };
  const kind = templateKind(t);
  checkArtifacts(ctx, t, path, (text, at) => checkVars(ctx, text, at, body));
  if (t.container) checkStrings(ctx, t.container, [...path, 'container'], body);
  if (t.script) checkStrings(ctx, t.script, [...path, 'script'], body);
  if (t.distml) checkStrings(ctx, t.distml.with, [...path, 'distml', 'with'], body);
  if (t.memoize) {
    checkVars(ctx, t.memoize.key, [...path, 'memoize', 'key'], body);
    checkDuration(ctx, t.memoize.maxAge, [...path, 'memoize', 'maxAge']);
  }
  const b = t.retryStrategy?.backoff;
  checkDuration(ctx, b?.duration, [...path, 'retryStrategy', 'backoff', 'duration']);
  checkDuration(ctx, b?.maxDuration, [...path, 'retryStrategy', 'backoff', 'maxDuration']);
  checkDuration(ctx, b?.cap, [...path, 'retryStrategy', 'backoff', 'cap']);
  // Argo resolves a template's timeout when the node starts: it may be a tag (`{{inputs.parameters.timeout}}`).
  if (t.timeout?.includes('{{')) checkVars(ctx, t.timeout, [...path, 'timeout'], body);
  else checkDuration(ctx, t.timeout, [...path, 'timeout']);
  checkDuration(ctx, t.suspend?.duration, [...path, 'suspend', 'duration']);
  if (t.retryStrategy?.expression !== undefined) {
    const problem = expressionProblem(t.retryStrategy.expression);
    if (problem) ctx.add([...path, 'retryStrategy', 'expression'], problem);
  }
  if (t.resources?.memory !== undefined) {
    try {
      parseMemory(t.resources.memory);
    } catch (err) {
      ctx.add([...path, 'resources', 'memory'], (err as Error).message);
    }
  }
  t.outputs?.parameters.forEach((p, i) => {
    const at = [...path, 'outputs', 'parameters', i, 'valueFrom'];
    const composite = kind === 'steps' || kind === 'dag';
    if (p.valueFrom?.parameter !== undefined && !composite)
      ctx.add([...at, 'parameter'], 'only steps and dag templates take outputs from their children');
    if (p.valueFrom?.expression !== undefined) {
      if (!composite)
        ctx.add([...at, 'expression'], 'only steps and dag templates take outputs from their children');
      const problem = expressionProblem(p.valueFrom.expression);
      if (problem) ctx.add([...at, 'expression'], problem);
    }
    if (p.valueFrom?.supplied !== undefined && kind !== 'suspend')
      ctx.add([...at, 'supplied'], 'only a suspend template has outputs a person supplies');
    if (kind === 'suspend' && p.valueFrom?.supplied === undefined)
      ctx.add(at, 'a suspend template runs nothing: its outputs are valueFrom.supplied');
    if (p.valueFrom?.path !== undefined && composite)
      ctx.add([...at, 'path'], 'a steps or dag template writes no files: use valueFrom.parameter');
  });
  if (t.steps) validateSteps(ctx, t, t.steps, [...path, 'steps'], body);
  if (t.dag) validateDag(ctx, t, t.dag.tasks, [...path, 'dag', 'tasks'], body);
}

function validateSteps(ctx: Ctx, t: Template, groups: Step[][], path: Path, body: VarScope): void {
  const earlier = new Map<string, Template | undefined>();
  const seen = new Set<string>();
  groups.forEach((group, g) => {
    group.forEach((s, i) => {
      const at = [...path, g, i];
      if (seen.has(s.name)) ctx.add([...at, 'name'], `duplicate step name "${s.name}"`);
      seen.add(s.name);
      validateCall(ctx, s, at, { ...body, siblings: { prefix: 'steps', names: earlier }, item: fans(s) });
      const self = new Map([...earlier, [s.name, ctx.byName.get(s.template)]]);
      validateHooks(ctx, stepHooks(s), [...at, 'hooks'], {
        ...body,
        siblings: { prefix: 'steps', names: self },
        item: false,
      });
    });
    group.forEach((s) => earlier.set(s.name, ctx.byName.get(s.template)));
  });
  checkCompositeOutputs(ctx, t, path.slice(0, -1), { prefix: 'steps', names: earlier });
}

function validateDag(ctx: Ctx, t: Template, tasks: DagTask[], path: Path, body: VarScope): void {
  const names = new Map<string, Template | undefined>();
  tasks.forEach((task, i) => {
    if (names.has(task.name)) ctx.add([...path, i, 'name'], `duplicate task name "${task.name}"`);
    names.set(task.name, ctx.byName.get(task.template));
  });
  const deps = new Map<string, string[]>();
  tasks.forEach((task, i) => {
    const at = [...path, i];
    const d: string[] = [];
    if (task.dependencies && task.depends !== undefined)
      ctx.add(at, 'set either dependencies or depends, not both');
    task.dependencies?.forEach((name, j) => {
      if (!names.has(name)) ctx.add([...at, 'dependencies', j], `unknown task "${name}"`);
      else d.push(name);
    });
    if (task.depends !== undefined) {
      try {
        for (const name of dependsTasks(parseDepends(task.depends))) {
          if (!names.has(name)) ctx.add([...at, 'depends'], `unknown task "${name}" in "${task.depends}"`);
          else d.push(name);
        }
      } catch (err) {
        ctx.add([...at, 'depends'], `bad expression "${task.depends}": ${(err as Error).message}`);
      }
    }
    deps.set(task.name, d);
  });
  const cycle = findCycle(deps);
  if (cycle) ctx.add(path.slice(0, -1), `dependency cycle: ${cycle.join(' -> ')}`);
  tasks.forEach((task, i) => {
    const visible = new Map([...ancestors(deps, task.name)].map((n) => [n, names.get(n)]));
    validateCall(
      ctx,
      task,
      [...path, i],
      { ...body, siblings: { prefix: 'tasks', names: visible }, item: fans(task) },
      names,
    );
    visible.set(task.name, names.get(task.name));
    validateHooks(ctx, stepHooks(task), [...path, i, 'hooks'], {
      ...body,
      siblings: { prefix: 'tasks', names: visible },
      item: false,
    });
  });
  checkCompositeOutputs(ctx, t, path.slice(0, -2), { prefix: 'tasks', names });
}

const fans = (s: Step | DagTask) =>
  s.withItems !== undefined || s.withParam !== undefined || s.withSequence !== undefined;

function validateCall(
  ctx: Ctx,
  s: Step | DagTask,
  at: Path,
  scope: VarScope,
  all?: Map<string, unknown>,
): void {
  if (s.onExit !== undefined && s.hooks?.exit !== undefined)
    ctx.add([...at, 'onExit'], 'set either onExit or hooks.exit, not both (both are its exit handler)');
  const target = ctx.byName.get(s.template);
  if (!target) {
    ctx.add(
      [...at, 'template'],
      `unknown template "${s.template}" (templates: ${[...ctx.byName.keys()].join(', ')})`,
    );
  }
  if ([s.withItems, s.withParam, s.withSequence].filter((x) => x !== undefined).length > 1)
    ctx.add(at, 'set one of withItems, withParam, withSequence, not several');
  const args = s.arguments?.parameters ?? [];
  args.forEach((a, j) => {
    const argPath = [...at, 'arguments', 'parameters', j];
    checkVars(ctx, a.value, [...argPath, 'value'], scope, all);
    if (target && !(target.inputs?.parameters ?? []).some((p) => p.name === a.name)) {
      ctx.add([...argPath, 'name'], `template "${target.name}" has no input parameter "${a.name}"`);
    }
  });
  for (const p of target?.inputs?.parameters ?? []) {
    if (p.value === undefined && p.default === undefined && !args.some((a) => a.name === p.name)) {
      ctx.add([...at, 'arguments'], `missing parameter "${p.name}" required by template "${target?.name}"`);
    }
  }
  checkCallArtifacts(ctx, s, target, at, (text, path) => checkVars(ctx, text, path, scope, all));
  if (s.withParam !== undefined) checkVars(ctx, s.withParam, [...at, 'withParam'], scope, all);
  if (s.when !== undefined) {
    checkVars(ctx, s.when, [...at, 'when'], scope, all);
    try {
      // Stand-ins for the tags, to check the shape: an expression tag usually is a whole condition.
      evalWhen(s.when.replace(/\{\{=[\s\S]*?\}\}/g, 'true').replace(/\{\{[^{}]*\}\}/g, '0'));
    } catch (err) {
      ctx.add([...at, 'when'], `bad expression "${s.when}": ${(err as Error).message}`);
    }
  }
}

/** Lifecycle hooks: a known template, its arguments, and an expression on every hook but `exit`. */
function validateHooks(ctx: Ctx, hooks: Hooks | undefined, path: Path, scope: VarScope): void {
  for (const [name, hook] of Object.entries(hooks ?? {})) {
    const at = [...path, name];
    validateCall(ctx, { name, template: hook.template, arguments: hook.arguments }, at, scope);
    if (name === 'exit') continue;
    if (hook.expression === undefined)
      ctx.add(at, `hook "${name}" needs an expression (only the hook named "exit" runs without one)`);
    else {
      const problem = expressionProblem(hook.expression);
      if (problem) ctx.add([...at, 'expression'], problem);
    }
  }
}

function checkCompositeOutputs(ctx: Ctx, t: Template, path: Path, siblings: VarScope['siblings']): void {
  const inputs = new Set((t.inputs?.parameters ?? []).map((p) => p.name));
  const inputArtifacts = new Set((t.inputs?.artifacts ?? []).map((a) => a.name));
  t.outputs?.artifacts.forEach((a, i) => {
    if (a.from !== undefined)
      checkVars(ctx, a.from, [...path, 'outputs', 'artifacts', i, 'from'], {
        inputs,
        inputArtifacts,
        siblings,
        item: false,
      });
  });
  t.outputs?.parameters.forEach((p, i) => {
    if (p.valueFrom?.parameter !== undefined) {
      checkVars(ctx, p.valueFrom.parameter, [...path, 'outputs', 'parameters', i, 'valueFrom', 'parameter'], {
        inputs,
        siblings,
        item: false,
      });
    }
  });
}

function checkDuration(ctx: Ctx, text: string | undefined, path: Path): void {
  if (text === undefined) return;
  try {
    parseDuration(text);
  } catch (err) {
    ctx.add(path, (err as Error).message);
  }
}

/** A dependency cycle as the task names around it (first repeated at the end), or undefined. */
export function findCycle(deps: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string): string[] | undefined => {
    if (state.get(n) === 'done') return undefined;
    if (state.get(n) === 'visiting') return [...stack.slice(stack.indexOf(n)), n];
    state.set(n, 'visiting');
    stack.push(n);
    for (const d of deps.get(n) ?? []) {
      const c = visit(d);
      if (c) return c;
    }
    stack.pop();
    state.set(n, 'done');
    return undefined;
  };
  for (const n of deps.keys()) {
    const c = visit(n);
    if (c) return c.reverse();
  }
  return undefined;
}

function ancestors(deps: Map<string, string[]>, name: string): Set<string> {
  const seen = new Set<string>();
  const walk = (n: string) => {
    for (const d of deps.get(n) ?? []) {
      if (seen.has(d) || d === name) continue;
      seen.add(d);
      walk(d);
    }
  };
  walk(name);
  return seen;
}
