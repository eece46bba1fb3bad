import type { StepPreemptions } from './preempt.js';
import { setMaxListeners } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { MetadataStore, RunRecord } from '../../metadata/index.js';
import type { ResourcePool } from '../../scheduler/index.js';
import { WorkflowError } from '../errors.js';
import { checkRunName } from '../spec/names.js';
import { checkWorkflow } from '../spec/parse.js';
import type { WorkflowSpec } from '../spec/schema.js';
import { isFailure, type EngineEvent, type RunContext, type RunJob } from './context.js';
import { execNode } from './execution.js';
import { HookSet } from './hooks.js';
import { substitute } from '../expr/template.js';
import { Slots } from './slots.js';
import { workflowScope } from './variables.js';
import { startTimeOf } from '../../process/index.js';
import { isEngineAlive, reapRunProcesses, type StepProcess } from './process.js';

/** How long a daemon (or a step) may drain after SIGTERM before it gets SIGKILL. */
const STOP_GRACE_MS = 10_000;

/** Records a new run of `spec` with its parameters (`-p name=value` over the spec's defaults); returns its name. */
export function submitRun(
  store: MetadataStore,
  spec: WorkflowSpec,
  overrides: Record<string, string>,
): string {
  const declared = spec.spec.arguments.parameters;
  for (const name of Object.keys(overrides)) {
    if (!declared.some((p) => p.name === name)) {
      throw new WorkflowError(
        'WORKFLOW_PARAMETER_MISSING',
        `-p ${name}: the workflow has no parameter "${name}" (it has: ${declared.map((p) => p.name).join(', ') || 'none'})`,
      );
    }
  }
  const parameters: Record<string, string> = {};
  for (const p of declared) {
    const v = overrides[p.name] ?? p.value ?? p.default;
    if (v === undefined)
      throw new WorkflowError(
        'WORKFLOW_PARAMETER_MISSING',
        `parameter "${p.name}" has no value: pass -p ${p.name}=VALUE`,
      );
    parameters[p.name] = v;
  }
  const base = (spec.metadata.generateName ?? spec.metadata.name ?? 'workflow').replace(/-+$/, '');
  let name: string;
  do name = `${base}-${randomBytes(3).toString('hex').slice(0, 5)}`;
  while (store.hasRun(name));
  checkRunName(name);
  store.createRun({ name, workflow: base, spec, parameters });
  return name;
}

export interface ExecuteOptions {
  store: MetadataStore;
  workspace: string;
  pool: ResourcePool;
  distmlCommand: string[];
  /** Where the run was started: built-in steps' relative paths resolve from it. Default process.cwd(). */
  cwd?: string;
  /** Abort to stop the run: running steps are killed and the exit handler still runs. */
  signal?: AbortSignal;
  /** Reuse Succeeded nodes from an earlier execution (resume, retry). */
  reuse?: boolean;
  onEvent?: (e: EngineEvent) => void;
  /** Longest a daemon step may take to become ready (its first line on stdout). Default 10 minutes. */
  daemonReadyTimeoutMs?: number;
  /** Lets the scheduler preempt this run's steps (preempt.ts): they checkpoint, stop and are requeued. */
  preemptions?: StepPreemptions;
  /** The run's user, queue and priority class: each step is admitted as a job of theirs (gangs, preemption). */
  job?: RunJob;
}

/** Default of ExecuteOptions.daemonReadyTimeoutMs: a model server loads in seconds; a stuck one fails. */
export const DEFAULT_DAEMON_READY_TIMEOUT_MS = 10 * 60_000;

/** Executes (or continues) a run to its end; returns the final record. */
export async function executeRun(name: string, opts: ExecuteOptions): Promise<RunRecord> {
  const { store } = opts;
  const record = store.getRun(name);
  const spec = checkWorkflow(record.spec, name);
  const emit = opts.onEvent ?? (() => undefined);
  store.updateRun(name, {
    phase: 'Running',
    startedAt: record.startedAt ?? Date.now(),
    finishedAt: null,
    message: null,
    enginePid: process.pid,
    engineStart: startTimeOf(process.pid),
    stopRequested: false,
  });
  emit({ event: 'run', run: name, phase: 'Running' });
  const daemons = new Set<StepProcess>();
  const ctx: RunContext = {
    store,
    run: name,
    spec,
    templates: new Map(spec.spec.templates.map((t) => [t.name, t])),
    workspace: opts.workspace,
    pool: opts.pool,
    distmlCommand: opts.distmlCommand,
    cwd: opts.cwd ?? process.cwd(),
    signal: opts.signal ?? new AbortController().signal,
    preemptions: opts.preemptions,
    job: opts.job,
    reuse: opts.reuse ?? false,
    daemons,
    startedAt: Date.now(),
    ...(spec.spec.parallelism ? { podSlots: new Slots(spec.spec.parallelism) } : {}),
    daemonReadyTimeoutMs: opts.daemonReadyTimeoutMs ?? DEFAULT_DAEMON_READY_TIMEOUT_MS,
    globals: new Map(),
    emit,
  };
  // Every running step listens for the stop (a fan-out of 1,000 steps: 1,000 listeners), by design.
  setMaxListeners(0, ctx.signal);
  const scope = workflowScope(name, spec, record);
  // Argo passes the workflow's arguments to the entrypoint's inputs of the same names.
  const args = new Map(Object.entries(record.parameters));
  const artifacts = new Map(spec.spec.arguments.artifacts.map((a) => [a.name, { raw: a.raw?.data ?? '' }]));
  // Workflow lifecycle hooks: those true while Running start beside the entrypoint; the rest are tried again
  // with the final status, before the exit handler.
  const hooks = new HookSet(ctx, spec.spec.hooks, name, { id: name, displayName: name }, execNode);
  hooks.fire(scope);
  const main = await execNode(
    ctx,
    { template: spec.spec.entrypoint, id: name, parent: null, displayName: name, args, artifacts },
    scope,
  );
  let phase = main.phase;
  let message = main.message ?? null;
  scope.set('workflow.status', isFailure(phase) ? 'Failed' : 'Succeeded');
  scope.set('workflow.duration', String((Date.now() - (record.startedAt ?? record.createdAt)) / 1000));
  const failures = store.listNodes(name).filter((n) => isFailure(n.phase) && n.type === 'Pod');
  scope.set(
    'workflow.failures',
    JSON.stringify(failures.map((n) => ({ displayName: n.displayName, message: n.message, phase: n.phase }))),
  );
  for (const [k, v] of ctx.globals ?? []) scope.set(k, v);
  hooks.fire(scope);
  await hooks.settle();
  const exitHook = spec.spec.hooks?.exit;
  const onExit = spec.spec.onExit ?? exitHook?.template;
  if (onExit) {
    // The exit handler runs even after `distml stop` (Argo's stop, not terminate).
    const exitCtx = { ...ctx, signal: new AbortController().signal, reuse: ctx.reuse && !isFailure(phase) };
    const exitArgs = new Map(
      (exitHook?.arguments?.parameters ?? []).map((a) => [a.name, substitute(a.value, scope)]),
    );
    const exit = await execNode(
      exitCtx,
      {
        template: onExit,
        id: `${name}.onExit`,
        parent: name,
        displayName: `${name}.onExit`,
        args: exitArgs,
        artifacts: new Map(),
      },
      scope,
    );
    if (isFailure(exit.phase) && !isFailure(phase)) {
      phase = 'Failed';
      message = `exit handler failed: ${exit.message ?? exit.phase}`;
    }
  }
  await Promise.all([...daemons].map(stopDaemon));
  const final =
    phase === 'Succeeded' || phase === 'Skipped' ? 'Succeeded' : phase === 'Error' ? 'Error' : 'Failed';
  if (ctx.signal.aborted) message = 'Stopped';
  store.updateRun(name, {
    phase: final,
    message,
    finishedAt: Date.now(),
    enginePid: null,
    engineStart: null,
  });
  emit({ event: 'run', run: name, phase: final, message });
  return store.getRun(name);
}

/** SIGTERM to a daemon's process group (it drains, a gateway stops its replicas), SIGKILL after the grace. */
async function stopDaemon(d: StepProcess): Promise<void> {
  d.kill('SIGTERM');
  const timer = setTimeout(() => d.kill('SIGKILL'), STOP_GRACE_MS);
  await d.exited;
  clearTimeout(timer);
}

/**
 * Prepares a run whose engine is gone for another execution: ends every process the dead engine left (steps
 * that were running are run again; daemons are started again) and refuses when an engine still drives it.
 */
export async function prepareRestart(
  store: MetadataStore,
  name: string,
  mode: 'resume' | 'retry',
): Promise<void> {
  const run = store.getRun(name);
  if (isEngineAlive(run))
    throw new WorkflowError(
      'WORKFLOW_RUN_ACTIVE',
      `run ${name} is still running (engine pid ${run.enginePid}); \`distml stop ${name}\` first`,
    );
  if (run.phase === 'Succeeded')
    throw new WorkflowError('WORKFLOW_RUN_FINISHED', `run ${name} already succeeded; nothing to ${mode}`);
  if (mode === 'retry' && run.phase !== 'Failed' && run.phase !== 'Error') {
    throw new WorkflowError(
      'WORKFLOW_RUN_ACTIVE',
      `run ${name} is ${run.phase}, not failed; use \`distml resume ${name}\` to continue it`,
    );
  }
  await reapRunProcesses(store, name, STOP_GRACE_MS);
}

/** Marks a run whose engine is gone as stopped, ending every process of it (daemons included). */
export async function markStopped(store: MetadataStore, name: string): Promise<void> {
  await reapRunProcesses(store, name, STOP_GRACE_MS);
  for (const n of store.listNodes(name)) {
    if (n.phase !== 'Running' && n.phase !== 'Pending') continue;
    store.updateNode(name, n.id, { phase: 'Failed', message: 'stopped', finishedAt: Date.now() });
  }
  store.updateRun(name, {
    phase: 'Failed',
    message: 'Stopped',
    finishedAt: Date.now(),
    enginePid: null,
    engineStart: null,
  });
}

/** Ends whatever is left of a run after its engine stopped it (a daemon's replica, a step's stray child). */
export async function reapLeftovers(store: MetadataStore, name: string): Promise<number> {
  return reapRunProcesses(store, name, STOP_GRACE_MS);
}

export { isEngineAlive };
