// Making room for a job that does not fit: first shrink elastic jobs toward their minimum (cheap: nobody
// stops), then evict the fewest whole gangs of lower priority. Victims are told to checkpoint and get a grace
// period; they keep holding their resources until they report stopped, so nothing is double-booked.
import type { Core } from './core.js';
import { admit, type Cycle, setWhy } from './cycle-context.js';
import { holding, type Job } from './job.js';
import { type Candidate, fewestVictims } from './preemption.js';
import { add, dominantShare, fits, type Resources, ZERO } from './resources.js';

/** True when `job` was admitted (after shrinks) or now waits for victims to stop. */
export function tryPreempt(core: Core, c: Cycle, job: Job, need: Resources): boolean {
  if (!core.mightMakeRoom(job.priority, job.queue)) return false;
  const victims = [...core.running.values()].filter((v) => mayEvict(core, c.now, job, v));
  const shrinkable = [...core.running.values()].filter(
    (v) => v.phase === 'running' && shrinkFloor(core, job, v) < v.members,
  );
  const fitsWith = (freed: Map<string, Resources>): boolean => {
    let machine = core.free;
    for (const r of freed.values()) machine = add(machine, r);
    return fits(need, machine) && core.quota.fits(job.queue, need, freed);
  };
  const shrinks = planShrinks(core, job, shrinkable, fitsWith);
  if (shrinks) {
    for (const [v, members] of shrinks) {
      core.grant(v, members, c.now);
      c.out.push({
        kind: 'resize',
        id: v.spec.id,
        members,
        reason: `shrinks toward its minimum for ${job.spec.id}`,
      });
    }
    admit(core, c, job, job.min);
    return true;
  }
  if (evictFewest(core, c, job, victims, fitsWith)) return true;
  protectedWhy(core, c.now, job);
  return false;
}

/** Evicts the fewest whole gangs among `victims` that make `fitsWith` true; false when none do. */
function evictFewest(
  core: Core,
  c: Cycle,
  job: Job,
  victims: Job[],
  fitsWith: (freed: Map<string, Resources>) => boolean,
): boolean {
  const byId = new Map(victims.map((v) => [v.spec.id, v]));
  const candidates: Candidate[] = victims.map((v) => ({
    id: v.spec.id,
    priority: v.priority,
    frees: holding(v),
  }));
  const chosen = fewestVictims(
    candidates,
    (vs) => fitsWith(freedBy(vs.map((x) => byId.get(x.id)!))),
    core.capacity,
  );
  if (!chosen) return false;
  evict(
    core,
    c,
    job,
    chosen.map((x) => byId.get(x.id)!),
  );
  return true;
}

/** Lower priority (or, for a queue that reclaims, a borrowing queue's job), preemptible, past its minimum run time. */
function mayEvict(core: Core, now: number, job: Job, v: Job): boolean {
  if (v.phase !== 'running' || v.spec.preemptible === false) return false;
  if ((v.admittedAt ?? 0) + core.config.preemption.minRunTimeMs > now) return false;
  if (core.ledger.wouldLoop(job.spec.id, v.spec.id)) return false;
  if (v.priority < job.priority) return true;
  // Reclaim: equal priority only (a reclaim never evicts a higher-priority job, so it cannot loop back).
  return (
    core.reclaimPolicy(job.queue) === 'Any' &&
    v.priority === job.priority &&
    v.queue !== job.queue &&
    core.quota.view(v.queue).cohort !== undefined &&
    core.quota.view(v.queue).cohort === core.quota.view(job.queue).cohort &&
    core.quota.borrowing(v.queue) &&
    core.quota.withinNominal(job.queue, holding(job, job.min))
  );
}

/**
 * How far an elastic job may shrink for `job`: to its minimum for a higher-priority job; for an equal one, to
 * its fair-share target (a user's elastic job gives back what is above its entitlement, no more).
 */
function shrinkFloor(core: Core, job: Job, v: Job): number {
  if (!v.spec.elastic || v.priority > job.priority) return v.members;
  if (v.priority < job.priority) return v.min;
  const per = dominantShare(holding(v, 1), core.capacity);
  const share = core.shares.jobShare(v.spec.user, v.queue);
  return Math.min(v.members, Math.max(v.min, Math.floor(share / per + 1e-9)));
}

/** One member at a time from the lowest-priority elastic jobs until `job` fits; undefined if it never does. */
function planShrinks(
  core: Core,
  job: Job,
  shrinkable: Job[],
  fitsWith: (freed: Map<string, Resources>) => boolean,
): Map<Job, number> | undefined {
  const plan = new Map<Job, number>();
  const order = [...shrinkable].sort((a, b) => a.priority - b.priority || b.members - a.members);
  for (const v of order) {
    const floor = shrinkFloor(core, job, v);
    for (let m = v.members - 1; m >= floor; m--) {
      plan.set(v, m);
      if (fitsWith(freedByShrinks(plan))) return plan;
    }
  }
  return undefined;
}

function freedByShrinks(plan: Map<Job, number>): Map<string, Resources> {
  const out = new Map<string, Resources>();
  for (const [v, m] of plan) out.set(v.queue, add(out.get(v.queue) ?? ZERO, holding(v, v.members - m)));
  return out;
}

function freedBy(victims: Job[]): Map<string, Resources> {
  const out = new Map<string, Resources>();
  for (const v of victims) out.set(v.queue, add(out.get(v.queue) ?? ZERO, holding(v)));
  return out;
}

function evict(core: Core, c: Cycle, job: Job, victims: Job[]): void {
  job.waitingOn = new Set();
  for (const v of victims) {
    core.ledger.record(job.spec.id, v.spec.id);
    v.phase = 'stopping';
    v.preemptions++;
    v.preemptedBy = job.spec.id;
    job.waitingOn.add(v.spec.id);
    const checkpoint = v.spec.checkpointable === true;
    c.out.push({
      kind: 'preempt',
      id: v.spec.id,
      by: job.spec.id,
      reason: `${job.spec.id} (priority ${job.priority}) needs room; ${v.spec.id} has priority ${v.priority}`,
      graceMs: checkpoint ? core.config.preemption.gracePeriodMs : 0,
      checkpoint,
    });
  }
  c.hold ??= { id: job.spec.id, need: holding(job, job.min) };
  setWhy(
    core,
    job,
    'SCHED_PREEMPTING',
    `preempting ${victims.map((v) => v.spec.id).join(', ')} to make room`,
  );
}

/** When only the minimum run time protects lower-priority jobs, say so and until when. */
function protectedWhy(core: Core, now: number, job: Job): void {
  const min = core.config.preemption.minRunTimeMs;
  const guarded = [...core.running.values()].filter(
    (v) =>
      v.phase === 'running' &&
      v.priority < job.priority &&
      v.spec.preemptible !== false &&
      (v.admittedAt ?? 0) + min > now,
  );
  if (guarded.length === 0) return;
  const until = Math.min(...guarded.map((v) => (v.admittedAt ?? 0) + min));
  setWhy(
    core,
    job,
    'SCHED_PRIORITY',
    `lower-priority ${guarded.map((v) => v.spec.id).join(', ')} just started: their minimum run time protects them until t=${until}`,
  );
}
