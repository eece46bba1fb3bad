import { hostname } from 'node:os';
import type { NodeOutputs, NodePhase } from '../../metadata/index.js';
import {
  evalDepends,
  mentionedResults,
  parseDepends,
  type DependsExpr,
  type TaskOutcome,
} from '../expr/depends.js';
import { parseDuration } from '../expr/quantity.js';
import { itemLabel, itemScope, substitute } from '../expr/template.js';
import { evalWhen } from '../expr/when.js';
import { templateKind, type DagTask, type Step, type Template } from '../spec/schema.js';
import { argumentArtifacts, bindInputArtifacts, compositeArtifacts, publishGlobals } from './artifacts.js';
import { isFailure, transition, type Call, type NodeResult, type RunContext } from './context.js';
import { HookSet, stepHooks } from './hooks.js';
import { fanOutItems } from './items.js';
import { compositeParameter } from './outputs.js';
import { isDaemon, runLeaf } from './leaf.js';
import { publish } from './publish.js';
import { runSuspend, SUSPEND_TYPE } from './suspend.js';
import { Slots, within } from './slots.js';
import { continuesOn, SYNC_ANNOTATION, syncWaits, targetClosure } from './dag-rules.js';

export { SYNC_ANNOTATION };

/** Argo's template annotation naming the node it runs as. */
const DISPLAY_NAME = 'workflows.argoproj.io/display-name';

const TYPES = {
  steps: 'Steps',
  dag: 'DAG',
  container: 'Pod',
  script: 'Pod',
  distml: 'Pod',
  suspend: SUSPEND_TYPE,
} as const;

/** Runs a template as a node (reusing it when resume finds it done) and returns how it ended. */
export async function execNode(ctx: RunContext, call: Call, base: Map<string, string>): Promise<NodeResult> {
  const r = await runNode(ctx, call, base);
  // Argo's global outputs: an output parameter with a globalName is visible to every later step.
  if (r.phase === 'Succeeded') {
    for (const p of ctx.templates.get(call.template)!.outputs?.parameters ?? []) {
      const v = r.outputs.parameters?.[p.name];
      if (p.globalName !== undefined && v !== undefined)
        ctx.globals?.set(`workflow.outputs.parameters.${p.globalName}`, v);
    }
  }
  return r;
}

async function runNode(ctx: RunContext, call: Call, base: Map<string, string>): Promise<NodeResult> {
  const t = ctx.templates.get(call.template)!;
  const existing = ctx.store.ensureNode({
    run: ctx.run,
    id: call.id,
    parent: call.parent,
    displayName: call.displayName,
    template: t.name,
    type: TYPES[templateKind(t)],
  });
  // A daemon that succeeded before is started again: the engine that ran it is gone, and so is it.
  // A suspend node resumed while no engine ran is finished by runSuspend (its supplied outputs, defaults).
  if (
    ctx.reuse &&
    (existing.phase === 'Succeeded' || existing.phase === 'Skipped') &&
    !isDaemon(t) &&
    !t.suspend
  ) {
    publishGlobals(ctx, existing.outputs ?? {});
    return { phase: existing.phase, outputs: existing.outputs ?? {} };
  }
  const inputs: Record<string, string> = {};
  for (const p of t.inputs?.parameters ?? []) {
    const own = p.value ?? p.default;
    // A template's own value or default may use the workflow's variables (Argo resolves them in its scope).
    let v: string | undefined;
    try {
      v = call.args.get(p.name) ?? (own !== undefined ? substitute(own, base) : undefined);
    } catch (err) {
      return fail(ctx, call.id, 'Error', `input parameter "${p.name}": ${(err as Error).message}`);
    }
    if (v === undefined) return fail(ctx, call.id, 'Error', `missing input parameter "${p.name}"`);
    inputs[p.name] = v;
  }
  const scope = new Map([...base, ...(ctx.globals ?? [])]);
  for (const [k, v] of Object.entries(inputs)) scope.set(`inputs.parameters.${k}`, v);
  scope.set(
    'inputs.parameters',
    JSON.stringify(Object.entries(inputs).map(([name, value]) => ({ name, value }))),
  );
  scope.set('workflow.duration', String((Date.now() - ctx.startedAt) / 1000));
  const missing = await bindInputArtifacts(ctx, t, call.id, call.artifacts, scope);
  if (missing) return fail(ctx, call.id, 'Error', missing);
  const shown = t.annotations?.[DISPLAY_NAME];
  if (shown !== undefined) {
    try {
      ctx.store.updateNode(ctx.run, call.id, { displayName: substitute(shown, scope) });
    } catch (err) {
      return fail(ctx, call.id, 'Error', `annotation ${DISPLAY_NAME}: ${(err as Error).message}`);
    }
  }
  transition(ctx, call.id, {
    phase: t.steps || t.dag ? 'Running' : 'Pending',
    startedAt: Date.now(),
    finishedAt: null,
    message: null,
    inputs,
    outputs: null,
    memoizationStatus: null,
    retries: 0,
  });
  try {
    if (t.steps || t.dag) {
      const r = t.steps ? await execSteps(ctx, t, call.id, scope) : await execDag(ctx, t, call.id, scope);
      const outputs: NodeOutputs = { parameters: {} };
      if (r.phase === 'Succeeded') {
        for (const p of t.outputs?.parameters ?? []) {
          outputs.parameters![p.name] = compositeParameter(p, r.scope);
        }
        const artifacts = compositeArtifacts(ctx, t, r.scope);
        if (artifacts.length) outputs.artifacts = artifacts;
        publishGlobals(ctx, outputs);
      }
      transition(ctx, call.id, {
        phase: r.phase,
        message: r.message ?? null,
        outputs,
        finishedAt: Date.now(),
      });
      return { phase: r.phase, outputs, message: r.message ?? null };
    }
    if (t.suspend) return await runSuspend(ctx, t, call.id, ctx.reuse ? existing : undefined);
    const leaf = t.timeout?.includes('{{') ? { ...t, timeout: resolvedDuration(t.timeout, scope) } : t;
    const r = await within(ctx.podSlots, () => runLeaf(ctx, leaf, call.id, scope));
    publishGlobals(ctx, r.outputs);
    return r;
  } catch (err) {
    return fail(ctx, call.id, 'Error', (err as Error).message);
  }
}

/** A template's `timeout` given as a tag, resolved in the node's scope; throws when it is not a duration. */
function resolvedDuration(text: string, scope: Map<string, string>): string {
  const v = substitute(text, scope);
  try {
    parseDuration(v);
  } catch (err) {
    throw new Error(`timeout "${text}" is "${v}": ${(err as Error).message}`);
  }
  return v;
}

function fail(ctx: RunContext, id: string, phase: NodePhase, message: string): NodeResult {
  transition(ctx, id, { phase, message, finishedAt: Date.now() });
  return { phase, outputs: {}, message };
}

interface CompositeResult {
  phase: NodePhase;
  message?: string;
  scope: Map<string, string>;
}

async function execSteps(
  ctx: RunContext,
  t: Template,
  id: string,
  scope: Map<string, string>,
): Promise<CompositeResult> {
  const inner = new Map(scope);
  const slots = t.parallelism ? new Slots(t.parallelism) : undefined;
  const stop = { failed: false };
  for (const group of t.steps!) {
    if (ctx.signal.aborted) return { phase: 'Failed', message: 'stopped', scope: inner };
    const results = await Promise.all(
      group.map((s) => execFanOut(ctx, s, 'steps', id, inner, slots, t.failFast ? stop : undefined)),
    );
    const failed = group.filter((s, i) => isFailure(results[i]!.phase) && !continuesOn(s, results[i]!.phase));
    if (failed.length > 0) {
      return {
        phase: 'Failed',
        message: `child step${failed.length > 1 ? 's' : ''} ${failed.map((s) => `"${s.name}"`).join(', ')} failed`,
        scope: inner,
      };
    }
  }
  return { phase: 'Succeeded', scope: inner };
}

async function execDag(
  ctx: RunContext,
  t: Template,
  id: string,
  scope: Map<string, string>,
): Promise<CompositeResult> {
  const inner = new Map(scope);
  const tasks = t.dag!.tasks;
  const exprs = new Map<string, DependsExpr | null>(
    tasks.map((k) => [k.name, k.depends !== undefined ? parseDepends(k.depends) : null]),
  );
  const deps = new Map(
    tasks.map((k) => [
      k.name,
      k.depends !== undefined
        ? mentionedResults(exprs.get(k.name)!).map((m) => m.task)
        : (k.dependencies ?? []),
    ]),
  );
  // A failure some task's `depends` reacts to (X.Failed, X.AllFailed, ...) is handled and does not fail the DAG.
  const handled = new Set(
    [...exprs.values()].flatMap((e) =>
      e
        ? mentionedResults(e)
            .filter((m) => m.result && m.result !== 'Succeeded')
            .map((m) => m.task)
        : [],
    ),
  );
  const waits = syncWaits(ctx, tasks, deps);
  const wanted = targetClosure(t.dag!.target, deps);
  const failFast = t.dag!.failFast ?? true;
  const slots = t.parallelism ? new Slots(t.parallelism) : undefined;
  const outcomes = new Map<string, TaskOutcome>();
  const running = new Map<string, Promise<void>>();
  const outcome = (name: string) => outcomes.get(name)!;
  const unhandled = (k: DagTask, phase: string) =>
    isFailure(phase as NodePhase) && !handled.has(k.name) && !continuesOn(k, phase as NodePhase);
  // failFast (Argo's default): after an unhandled failure no new task starts; running ones finish.
  let stopping = false;
  for (;;) {
    for (const task of tasks) {
      if (outcomes.has(task.name) || running.has(task.name) || ctx.signal.aborted || stopping) continue;
      if (wanted && !wanted.has(task.name)) continue;
      if (!(deps.get(task.name) ?? []).every((d) => outcomes.has(d))) continue;
      if (!(waits.get(task.name) ?? []).every((d) => outcomes.has(d))) continue;
      const expr = exprs.get(task.name);
      const go = expr
        ? evalDepends(expr, outcome)
        : (task.dependencies ?? []).every((d) => ['Succeeded', 'Skipped'].includes(outcome(d).phase));
      if (!go) {
        omit(ctx, id, task);
        outcomes.set(task.name, { phase: 'Omitted', itemPhases: [] });
        continue;
      }
      running.set(
        task.name,
        execFanOut(ctx, task, 'tasks', id, inner, slots).then((r) => {
          const daemoned = r.phase === 'Succeeded' && isDaemon(ctx.templates.get(task.template)!);
          outcomes.set(task.name, { phase: r.phase, itemPhases: r.itemPhases, daemoned });
          running.delete(task.name);
          if (failFast && unhandled(task, r.phase)) stopping = true;
        }),
      );
    }
    if (running.size === 0) break;
    await Promise.race(running.values());
  }
  if (ctx.signal.aborted) return { phase: 'Failed', message: 'stopped', scope: inner };
  const failed = tasks.filter((k) => unhandled(k, outcomes.get(k.name)?.phase ?? 'Pending'));
  if (failed.length > 0)
    return {
      phase: 'Failed',
      message: `task${failed.length > 1 ? 's' : ''} ${failed.map((k) => `"${k.name}"`).join(', ')} failed`,
      scope: inner,
    };
  return { phase: 'Succeeded', scope: inner };
}

function omit(ctx: RunContext, parent: string, task: DagTask): void {
  const id = `${parent}.${task.name}`;
  ctx.store.ensureNode({
    run: ctx.run,
    id,
    parent,
    displayName: task.name,
    template: task.template,
    type: 'Skipped',
  });
  transition(ctx, id, { phase: 'Omitted', message: 'depends condition not met', finishedAt: Date.now() });
}

interface FanOutResult {
  phase: NodePhase;
  itemPhases: string[];
}

/** Runs a step or task once, or once per item (withItems/withParam), and publishes its outputs to `scope`. */
async function execFanOut(
  ctx: RunContext,
  s: Step | DagTask,
  prefix: 'steps' | 'tasks',
  parent: string,
  scope: Map<string, string>,
  slots: Slots | undefined,
  /** The parent's failFast: set once a child fails; children not started by then never start. */
  stop?: { failed: boolean },
): Promise<FanOutResult> {
  const expanded = fanOutItems(s, scope);
  if ('error' in expanded) {
    const id = `${parent}.${s.name}`;
    ctx.store.ensureNode({
      run: ctx.run,
      id,
      parent,
      displayName: s.name,
      template: s.template,
      type: 'Pod',
    });
    fail(ctx, id, 'Error', expanded.error);
    publish(scope, `${prefix}.${s.name}`, [{ phase: 'Error', outputs: {} }], false);
    return { phase: 'Error', itemPhases: [] };
  }
  const items = expanded.items;
  const key = `${prefix}.${s.name}`;
  const hookSpec = stepHooks(s);
  const hooks = hookSpec
    ? new HookSet(ctx, hookSpec, parent, { id: `${parent}.${s.name}`, displayName: s.name }, execNode)
    : undefined;
  hooks?.fire(new Map([...scope, [`${key}.status`, 'Running']]));
  const calls =
    items === undefined
      ? [{ label: s.name, extra: [] as [string, string][] }]
      : items.map((item, i) => ({ label: `${s.name}(${i}:${itemLabel(item)})`, extra: itemScope(item) }));
  const results = await Promise.all(
    calls.map(async ({ label, extra }) => {
      const local = new Map([...scope, ...(ctx.globals ?? []), ...extra]);
      const id = `${parent}.${label}`;
      try {
        if (s.when !== undefined && !evalWhen(substitute(s.when, local))) {
          ctx.store.ensureNode({
            run: ctx.run,
            id,
            parent,
            displayName: label,
            template: s.template,
            type: 'Skipped',
          });
          transition(ctx, id, {
            phase: 'Skipped',
            message: `when '${substitute(s.when, local)}' evaluated false`,
            finishedAt: Date.now(),
          });
          return { phase: 'Skipped' as NodePhase, outputs: {} };
        }
        const args = new Map(
          (s.arguments?.parameters ?? []).map((a) => [a.name, substitute(a.value, local)]),
        );
        const artifacts = argumentArtifacts(ctx, s.arguments?.artifacts ?? [], local);
        return await within(slots, async () => {
          if (stop?.failed) return { phase: 'Omitted' as NodePhase, outputs: {} };
          const r = await execNode(
            ctx,
            { template: s.template, id, parent, displayName: label, args, artifacts },
            scope,
          );
          if (stop && isFailure(r.phase)) stop.failed = true;
          return r;
        });
      } catch (err) {
        ctx.store.ensureNode({
          run: ctx.run,
          id,
          parent,
          displayName: label,
          template: s.template,
          type: 'Pod',
        });
        return fail(ctx, id, 'Error', (err as Error).message);
      }
    }),
  );
  publish(scope, key, results, items !== undefined);
  // Argo's node facts of a single call: its node id and the host it ran on (this machine).
  if (items === undefined) {
    scope.set(`${key}.id`, `${parent}.${s.name}`);
    scope.set(`${key}.hostNodeName`, hostname());
  }
  if (hooks) {
    hooks.fire(scope);
    await hooks.exit(scope);
    await hooks.settle();
  }
  const phases = results.map((r) => r.phase);
  const phase: NodePhase = phases.some(isFailure)
    ? phases.includes('Failed')
      ? 'Failed'
      : 'Error'
    : phases.length > 0 && phases.every((p) => p === 'Skipped')
      ? 'Skipped'
      : 'Succeeded';
  return { phase, itemPhases: items !== undefined ? phases : [] };
}
