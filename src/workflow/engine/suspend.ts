// Argo's suspend template (docs/walk-through/suspending.md, docs/intermediate-inputs.md): the node waits until
// a person resumes it (`distml resume RUN`, Argo's `argo resume`) or, with `suspend.duration`, until that time
// has passed. Its outputs are `valueFrom.supplied`: values a person set on the waiting node
// (`distml node set RUN --node STEP --output-parameter NAME=VALUE`, Argo's `argo node set`), else their default.
// The run database is the channel: resume marks the node Succeeded, node set writes its output parameters,
// and the engine, which polls the node while it waits, gives the node its final outputs once resumed.
import { setTimeout as sleep } from 'node:timers/promises';
import type { MetadataStore, NodeRecord } from '../../metadata/index.js';
import { WorkflowError } from '../errors.js';
import { checkWorkflow } from '../spec/parse.js';
import { parseDuration } from '../expr/quantity.js';
import type { Template } from '../spec/schema.js';
import { transition, type NodeResult, type RunContext } from './context.js';

/** How often a waiting suspend node looks for a resume. */
const POLL_MS = 250;

/** The node type of a suspend step (as Argo names it), which `distml resume` and `distml node set` look for. */
export const SUSPEND_TYPE = 'Suspend';

/**
 * Waits at a suspend node. `before` is the node as an earlier engine left it: already resumed (Succeeded),
 * with the values set on it, when that engine died while it waited.
 */
export async function runSuspend(
  ctx: RunContext,
  t: Template,
  id: string,
  before: Pick<NodeRecord, 'phase' | 'outputs'> | undefined,
): Promise<NodeResult> {
  const duration = t.suspend?.duration !== undefined ? parseDuration(t.suspend.duration) : undefined;
  const until = duration !== undefined ? Date.now() + duration : undefined;
  const how = `\`distml resume ${ctx.run}\` continues it${duration !== undefined ? ` (or it goes on after ${t.suspend!.duration})` : ''}`;
  let supplied = before?.outputs?.parameters ?? {};
  if (before?.phase !== 'Succeeded') {
    transition(ctx, id, {
      phase: 'Running',
      message: `suspended: ${how}`,
      outputs: { parameters: supplied },
    });
    for (;;) {
      if (ctx.signal.aborted) {
        transition(ctx, id, { phase: 'Failed', message: 'stopped', finishedAt: Date.now() });
        return { phase: 'Failed', outputs: {}, message: 'stopped' };
      }
      const node = ctx.store.getNode(ctx.run, id);
      supplied = node?.outputs?.parameters ?? {};
      if (node?.phase === 'Succeeded' || (until !== undefined && Date.now() >= until)) break;
      await sleep(POLL_MS);
    }
  }
  const parameters: Record<string, string> = {};
  for (const p of t.outputs?.parameters ?? []) {
    const v = supplied[p.name] ?? p.valueFrom?.default ?? p.default;
    if (v === undefined) {
      const message =
        `output parameter "${p.name}" was not supplied: ` +
        `\`distml node set ${ctx.run} --node ${ctx.store.getNode(ctx.run, id)?.displayName ?? id} --output-parameter ${p.name}=VALUE\` before resuming`;
      transition(ctx, id, { phase: 'Error', message, finishedAt: Date.now() });
      return { phase: 'Error', outputs: {}, message };
    }
    parameters[p.name] = v;
  }
  const outputs = { parameters };
  transition(ctx, id, { phase: 'Succeeded', message: null, outputs, finishedAt: Date.now() });
  return { phase: 'Succeeded', outputs };
}

const waiting = (n: NodeRecord) =>
  n.type === SUSPEND_TYPE && (n.phase === 'Running' || n.phase === 'Pending');

/** Resumes every suspend node of a run that waits (Argo's `argo resume`); returns their display names. */
export function resumeSuspended(store: MetadataStore, run: string): string[] {
  const nodes = store.listNodes(run).filter(waiting);
  for (const n of nodes) store.updateNode(run, n.id, { phase: 'Succeeded', message: 'resumed' });
  return nodes.map((n) => n.displayName);
}

/**
 * Sets output parameters of a waiting suspend node (Argo's `argo node set --output-parameter`). `node` is its
 * display name or id; each name must be a `valueFrom.supplied` output of its template.
 */
export function setSuppliedOutputs(
  store: MetadataStore,
  run: string,
  node: string,
  values: Record<string, string>,
): void {
  const nodes = store.listNodes(run);
  const n = nodes.find((x) => x.id === node) ?? nodes.find((x) => x.displayName === node);
  const suspended = nodes.filter(waiting).map((x) => x.displayName);
  const which = suspended.length ? `waiting: ${suspended.join(', ')}` : 'none is waiting';
  if (!n || !waiting(n)) {
    throw new WorkflowError(
      'WORKFLOW_STEP_NOT_FOUND',
      `run ${run} has no suspended step "${node}" (${which}); \`distml get ${run}\` lists the steps`,
    );
  }
  const spec = checkWorkflow(store.getRun(run).spec, run);
  const t = spec.spec.templates.find((x) => x.name === n.template);
  const names = (t?.outputs?.parameters ?? []).filter((p) => p.valueFrom?.supplied).map((p) => p.name);
  for (const k of Object.keys(values)) {
    if (!names.includes(k))
      throw new WorkflowError(
        'WORKFLOW_PARAMETER_MISSING',
        `step "${n.displayName}" has no supplied output parameter "${k}" (it has: ${names.join(', ') || 'none'})`,
      );
  }
  const parameters = { ...(n.outputs?.parameters ?? {}), ...values };
  store.updateNode(run, n.id, { outputs: { ...(n.outputs ?? {}), parameters } });
}
