// The rules that decide which DAG tasks run and what a failure means: Argo's continueOn, dag.target, and
// distml's synchronous mode. Pure, apart from reading the run's templates.
import type { NodePhase } from '../../metadata/index.js';
import type { DagTask, Step } from '../spec/schema.js';
import type { RunContext } from './context.js';
import { isDaemon } from './leaf.js';

/** The workflow annotation that makes servers wait for all the batch work (`distml run --sync`). */
export const SYNC_ANNOTATION = 'workflows.distml.io/sync';

/**
 * Synchronous runs (SYNC_ANNOTATION): each server task also waits for every task that is neither a server nor
 * downstream of one — all the batch work — to end, whatever its outcome. Only batch work is waited for, so
 * no wait can close a cycle. Asynchronous runs (the default) add nothing.
 */
export function syncWaits(
  ctx: RunContext,
  tasks: DagTask[],
  deps: Map<string, string[]>,
): Map<string, string[]> {
  const waits = new Map<string, string[]>();
  const annotations = ctx.spec.metadata['annotations'] as Record<string, string> | undefined;
  if (annotations?.[SYNC_ANNOTATION] !== 'true') return waits;
  const server = (k: DagTask) => isDaemon(ctx.templates.get(k.template)!);
  const needsServer = new Map<string, boolean>();
  const downstream = (name: string, seen = new Set<string>()): boolean => {
    if (needsServer.has(name)) return needsServer.get(name)!;
    if (seen.has(name)) return false;
    seen.add(name);
    const r = (deps.get(name) ?? []).some((d) => {
      const k = tasks.find((x) => x.name === d);
      return (k !== undefined && server(k)) || downstream(d, seen);
    });
    needsServer.set(name, r);
    return r;
  };
  const batch = tasks.filter((k) => !server(k) && !downstream(k.name)).map((k) => k.name);
  for (const k of tasks) if (server(k)) waits.set(k.name, batch);
  return waits;
}

/** Argo's continueOn: a Failed child with `failed: true`, or an Errored one with `error: true`, fails nothing. */
export function continuesOn(s: Step | DagTask, phase: NodePhase): boolean {
  return (
    (phase === 'Failed' && s.continueOn?.failed === true) ||
    (phase === 'Error' && s.continueOn?.error === true)
  );
}

/** With `dag.target`, the named tasks and everything they depend on; without it, undefined (every task). */
export function targetClosure(
  target: string | undefined,
  deps: Map<string, string[]>,
): Set<string> | undefined {
  if (target === undefined) return undefined;
  const wanted = new Set<string>();
  const add = (name: string) => {
    if (wanted.has(name)) return;
    wanted.add(name);
    for (const d of deps.get(name) ?? []) add(d);
  };
  for (const name of target.split(/\s+/).filter(Boolean)) add(name);
  return wanted;
}
