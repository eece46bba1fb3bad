// A step's hold on the machine (issue 13). A run with a user, queue and priority (RunContext.job) admits each
// step as a scheduler job: a `distml train` step is a gang of its workers (all-or-nothing; elastic between
// min and max), checkpointable and preemptible; any other step is one non-preemptible member. The lease's
// preemption asks the step to checkpoint and stop (StepPreemptions), its resize reaches the training's
// control file, and after a preempted exit the step waits again in its old place (`lease.stopped()`); so does a
// step preempted while it has no process (not launched yet, or between retries), before it starts.
// Without a job identity the step takes plain `pool.acquire` resources, as before.
import type { JobSpec, Lease } from '../../scheduler/index.js';
import { substitute } from '../expr/template.js';
import type { Template } from '../spec/schema.js';
import { BUILTINS, type GangShape } from '../steps/builtin.js';
import { transition, type RunContext } from './context.js';
import { controlFileOf, LeaseSize, withOutputPaths } from './resize.js';

/** Resources a step holds: given back once; after a preemption, queued for again. */
export interface Held {
  release(): void;
  /** The step was preempted and has exited: resolves when it may start again (rejects if the run stops). */
  requeue(): Promise<void>;
  /**
   * False while the resources are given back after a preemption that found no process (admitted but not yet
   * launched, or between retries): the step must not start until `requeue()` resolves. Checked right before
   * the process starts, in the same tick, so a preemption cannot slip between the check and the start.
   */
  mayStart(): boolean;
}

interface Request {
  cores: number;
  memory: number;
}

let jobSeq = 0;

/** Waits for the step's resources: a scheduler admission when the run has a job identity, else acquire. */
export async function hold(
  ctx: RunContext,
  t: Template,
  id: string,
  scope: Map<string, string>,
  request: Request,
): Promise<Held> {
  const owner = `${ctx.run}/${id}`;
  if (!ctx.job || (request.cores <= 0 && request.memory <= 0)) {
    let release = await ctx.pool.acquire(owner, request, ctx.signal);
    return {
      release: () => release(),
      async requeue() {
        release();
        release = () => undefined;
        release = await ctx.pool.acquire(owner, request, ctx.signal);
      },
      mayStart: () => true,
    };
  }
  const withValues = builtinWith(t, scope);
  const shape =
    t.distml && withValues ? BUILTINS[t.distml.kind].gang?.(withValues, request.cores) : undefined;
  const job = jobSpec(ctx, owner, request, shape);
  const lease = await ctx.pool.admit(job, ctx.signal);
  const away = job.preemptible ? followPreemptions(ctx, id, owner, lease) : () => undefined;
  const size = shape?.elastic
    ? await follow(ctx, id, lease, builtinWith(t, withOutputPaths(ctx, t, id, scope)))
    : undefined;
  return {
    release: () => {
      lease.release();
      void size?.end();
    },
    // Readmitted with as many members as fit now: the resumed training starts with that many. The lease's
    // count, not the admission's: a grow decided in the same cycle has already been written.
    requeue: async () => {
      await (away() ?? lease.stopped());
      await size?.set(lease.members);
    },
    mayStart: () => away() === undefined,
  };
}

/**
 * A preemptible step's lease: a preemption stops its process (StepPreemptions); one that finds no process
 * gives the lease back at once (the preemptor gets the room now) and the step waits for admission again in its
 * old place before it starts. Returns the readmission while the step is away, else undefined.
 */
function followPreemptions(
  ctx: RunContext,
  id: string,
  owner: string,
  lease: Lease,
): () => Promise<number> | undefined {
  let away: Promise<number> | undefined;
  lease.onPreempt((graceMs) => {
    const why = 'preempted by the scheduler for a higher-priority job';
    if (ctx.preemptions!.preempt(owner, graceMs, why) || away) return;
    // Set now, so a launch later in this tick sees it; the lease goes back after the scheduler's cycle.
    const back: Promise<number> = Promise.resolve().then(() => {
      transition(ctx, id, {
        phase: 'Running',
        message: `${why} before it started: waiting for resources again`,
      });
      return lease.stopped();
    });
    away = back;
    back.then(
      () => void (away === back && (away = undefined)),
      () => undefined, // the run stopped while it waited: requeue() rethrows it
    );
  });
  return () => away;
}

/** The scheduler job of a step: a train step's gang (with its parameter servers' cores shared out), else 1. */
function jobSpec(ctx: RunContext, owner: string, request: Request, shape: GangShape | undefined): JobSpec {
  const { user, queue, priorityClass } = ctx.job!;
  // Only a step that checkpoints when asked can be preempted: anything else would lose its work.
  const preemptible = shape !== undefined && ctx.preemptions !== undefined;
  const base = { id: `${owner}#${++jobSeq}`, user, queue, ...(priorityClass ? { priorityClass } : {}) };
  if (!shape) return { ...base, gang: { count: 1, perMember: request }, preemptible: false };
  const count = shape.elastic?.max ?? shape.workers;
  const psCores = shape.parameterServers * shape.coresPerServer;
  return {
    ...base,
    gang: {
      count,
      perMember: { cores: shape.coresPerWorker + psCores / count, memory: request.memory / count },
    },
    ...(shape.elastic ? { elastic: shape.elastic } : {}),
    checkpointable: preemptible,
    preemptible,
  };
}

/**
 * An elastic training follows its lease: the members granted now are written as a standing request before it
 * starts (so it starts with them), and every resize after.
 */
async function follow(
  ctx: RunContext,
  id: string,
  lease: Lease,
  withValues: Record<string, string | string[]> | undefined,
): Promise<LeaseSize> {
  const file = controlFileOf(ctx.workspace, ctx.run, id, ctx.cwd, withValues);
  const size = new LeaseSize(file, lease.id, (err) =>
    ctx.store.updateNode(ctx.run, id, { message: `elastic resize not delivered to ${file}: ${err.message}` }),
  );
  lease.onResize((members) => void size.set(members));
  await size.set(lease.members);
  return size;
}

/**
 * A built-in step's `with:` values with their placeholders filled (as the step's command gets them). A value
 * that names what only the attempt defines (`{{outputs.artifacts.X.path}}`: the step's private paths) is left
 * out: the scheduler needs the gang's shape (workers, threads), not where the step writes.
 */
function builtinWith(t: Template, scope: Map<string, string>): Record<string, string | string[]> | undefined {
  if (!t.distml) return undefined;
  const sub = (s: string): string | undefined => {
    try {
      return substitute(s, scope);
    } catch {
      return undefined; // unresolved until the attempt: not part of the gang's shape
    }
  };
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(t.distml.with)) {
    const value = Array.isArray(v) ? v.map(sub) : sub(v);
    if (Array.isArray(value) ? value.every((x) => x !== undefined) : value !== undefined)
      out[k] = value as string | string[];
  }
  return out;
}
