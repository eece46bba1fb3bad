// A container, script or distml template run as a node: the memo cache first, then its share of the pool
// (admit.ts: a scheduler job when the run has a user and queue),
// then attempts until one succeeds or the retry policy (retry.ts) says stop.
import { setTimeout as sleep } from 'node:timers/promises';
import { ArtifactRepository } from '../artifacts/repository.js';
import { parseDuration, parseMemory } from '../expr/quantity.js';
import { substitute } from '../expr/template.js';
import type { Template } from '../spec/schema.js';
import { BUILTINS } from '../steps/builtin.js';
import { hold, type Held } from './admit.js';
import { runAttempt, type AttemptPlan } from './attempt.js';
import { transition, type NodeResult, type RunContext } from './context.js';
import { lookupMemo, saveMemo, type MemoPlan } from './memo.js';
import { decideRetry, type RetryDecision } from './retry.js';
import type { Attempt } from './verdict.js';

/** Runs a container, script or distml template as a process: memo, resources, retries, outputs, scratch. */
export async function runLeaf(
  ctx: RunContext,
  t: Template,
  id: string,
  scope: Map<string, string>,
): Promise<NodeResult> {
  const memo = t.memoize ? planMemo(t, scope) : undefined;
  if (memo) {
    const hit = lookupMemo(ctx, memo);
    // A hit restores the step's artifacts from the repository: one whose blob is gone is a miss.
    const repo = ArtifactRepository.of(ctx.workspace);
    if (hit && (hit.artifacts ?? []).every((x) => repo.has(x.digest))) {
      transition(ctx, id, {
        phase: 'Succeeded',
        outputs: hit,
        memoizationStatus: { hit: true, key: memo.key, cacheName: memo.cacheName },
        finishedAt: Date.now(),
        message: 'memoized',
      });
      return { phase: 'Succeeded', outputs: hit };
    }
    ctx.store.updateNode(ctx.run, id, {
      memoizationStatus: { hit: false, key: memo.key, cacheName: memo.cacheName },
    });
  }
  const cores = t.resources?.cores ?? (t.distml ? BUILTINS[t.distml.kind].defaultCores : 0);
  const memory = parseMemory(t.resources?.memory ?? 0);
  if (cores || memory) ctx.store.updateNode(ctx.run, id, { message: `waiting for ${cores} cores` });
  let held: Held;
  try {
    held = await hold(ctx, t, id, scope, { cores, memory });
  } catch (err) {
    return finish(ctx, id, {
      phase: ctx.signal.aborted ? 'Failed' : 'Error',
      message: (err as Error).message,
      outputs: {},
      exitCode: null,
    });
  }
  let keepRelease = false;
  try {
    let r = await attempts(ctx, t, id, scope, { cores, held });
    // A preempted step waits for its resources again (an admitted job in its old place in the queue; a
    // plain acquire like a newly submitted one); preemptions never count against retryStrategy.
    while (r.preempted && !ctx.signal.aborted) {
      transition(ctx, id, { phase: 'Running', message: 'preempted: checkpointed and requeued' });
      try {
        await held.requeue();
      } catch (err) {
        return finish(ctx, id, {
          ...r,
          phase: ctx.signal.aborted ? 'Failed' : 'Error',
          message: (err as Error).message,
        });
      }
      transition(ctx, id, { phase: 'Running', message: 'readmitted after preemption: resuming' });
      r = await attempts(ctx, t, id, scope, { cores, held });
    }
    if (r.phase === 'Succeeded') {
      if (r.daemonExited) {
        keepRelease = true;
        void r.daemonExited.then(() => held.release());
      }
      if (memo) saveMemo(ctx, memo, id, r.outputs);
    }
    return finish(ctx, id, r);
  } finally {
    if (!keepRelease) held.release();
  }
}

/** Attempts until one succeeds, the run is stopped, or retryStrategy gives up; the last attempt's end. */
async function attempts(
  ctx: RunContext,
  t: Template,
  id: string,
  scope: Map<string, string>,
  { cores, held }: { cores: number; held: Held },
): Promise<Attempt> {
  const daemon = isDaemon(t);
  const firstStartedAt = Date.now();
  const deadlineAt = t.timeout !== undefined ? firstStartedAt + parseDuration(t.timeout) : undefined;
  const limit = t.retryStrategy?.limit ?? 0;
  for (let attempt = 0; ; attempt++) {
    // `{{retries}}`: which attempt this is (0 for the first), as Argo numbers them.
    const attemptScope = new Map([...scope, ['retries', String(attempt)]]);
    const attemptStart = Date.now();
    const plan = { id, scope: attemptScope, attempt, daemon, cores, deadlineAt, mayStart: held.mayStart };
    const r = await startedAttempt(ctx, t, plan, held);
    if (r.phase === 'Succeeded' || r.preempted || r.unstarted || ctx.signal.aborted) return r;
    let next: RetryDecision;
    try {
      const failed = {
        phase: r.phase,
        message: r.message,
        exitCode: r.exitCode,
        durationMs: Date.now() - attemptStart,
      };
      next = decideRetry(t, attempt, failed, {
        firstStartedAt,
        now: Date.now(),
        scope: attemptScope,
        deadlineAt,
      });
    } catch (err) {
      return { ...r, phase: 'Error', message: `retryStrategy: ${(err as Error).message}` };
    }
    if (!next.retry) return next.why ? { ...r, message: `${r.message ?? r.phase}; ${next.why}` } : r;
    transition(ctx, id, {
      phase: 'Running',
      retries: attempt + 1,
      message: `${r.message ?? r.phase}; retry ${attempt + 1}/${limit} in ${(next.delayMs / 1000).toFixed(1)}s`,
    });
    try {
      await sleep(next.delayMs, undefined, { signal: ctx.signal });
    } catch {
      return { ...r, message: 'stopped' };
    }
  }
}

/**
 * One attempt that started: preempted before its process started, it waits for readmission and starts then
 * (the same attempt: it never ran). Still `unstarted` only when the wait failed (the run stopped).
 */
async function startedAttempt(ctx: RunContext, t: Template, plan: AttemptPlan, held: Held): Promise<Attempt> {
  for (;;) {
    const r = await runAttempt(ctx, t, plan);
    if (!r.unstarted) return r;
    const stopped = await readmitted(ctx, plan.id, held, r, plan.attempt + 1);
    if (stopped) return stopped;
  }
}

/** Waits for readmission after a preemption that came before the step started; the end if the run stopped. */
async function readmitted(
  ctx: RunContext,
  id: string,
  held: Held,
  r: Attempt,
  n: number,
): Promise<Attempt | undefined> {
  transition(ctx, id, { phase: 'Running', message: `attempt ${n} waits for readmission after a preemption` });
  try {
    // Still away: wait for the readmission under way (requeue() returns it; it never gives the lease back twice).
    if (!held.mayStart()) await held.requeue();
  } catch (err) {
    return { ...r, phase: ctx.signal.aborted ? 'Failed' : 'Error', message: (err as Error).message };
  }
  transition(ctx, id, { phase: 'Running', message: 'readmitted after preemption: starting' });
  return undefined;
}

/** A server: ready once it prints its first line, stopped when the run ends (`daemon: true`, built-in serve). */
export function isDaemon(t: Template): boolean {
  return Boolean(t.daemon ?? (t.distml && BUILTINS[t.distml.kind].daemon));
}

function planMemo(t: Template, scope: Map<string, string>): MemoPlan {
  const m = t.memoize!;
  return {
    key: substitute(m.key, scope),
    cacheName: m.cache.configMap.name,
    maxAgeMs: m.maxAge !== undefined ? parseDuration(m.maxAge) : undefined,
  };
}

function finish(ctx: RunContext, id: string, r: Attempt): NodeResult {
  transition(ctx, id, {
    phase: r.phase,
    message: r.message,
    outputs: r.outputs,
    exitCode: r.exitCode,
    finishedAt: Date.now(),
  });
  return { phase: r.phase, outputs: r.outputs, message: r.message };
}
