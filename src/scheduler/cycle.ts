// One scheduling cycle: replace lost gang members first (first claim), then walk the pending order admitting
// what fits, preempting lower priority where that makes room, holding resources for the first job that
// cannot start (backfilling only jobs that end before its planned start), and finally re-dividing the
// machine among elastic jobs by fair share.
import { plannedStart } from './backfill.js';
import { type Core, rank } from './core.js';
import { admit, type Cycle, setWhy } from './cycle-context.js';
import { holding, type Decision, type Job } from './job.js';
import { tryPreempt } from './make-room.js';
import { rebalanceElastic } from './elastic.js';
import { describe, fits, isZero, type Resources, sub } from './resources.js';

/** Jobs tried for backfill per cycle once resources are held for a waiting job. */
export const BACKFILL_DEPTH = 100;

export function runCycle(core: Core, now: number): Decision[] {
  core.cycle++;
  const c: Cycle = { now, out: [] };
  for (const job of [...core.zero]) admit(core, c, job, job.min);
  restoreLost(core, c);
  admitPending(core, c);
  rebalanceElastic(core, c);
  return c.out;
}

/** A gang that lost members gets them back before anyone else gets anything (Volcano#5805). */
function restoreLost(core: Core, c: Cycle): void {
  for (const job of core.running.values()) {
    if (job.missing <= 0 || job.phase !== 'running') continue;
    const need = holding(job, job.missing);
    if (!c.hold && fits(need, core.free) && core.quota.fits(job.queue, need)) {
      const members = job.members + job.missing;
      core.grant(job, members, c.now);
      job.missing = 0;
      c.out.push({ kind: 'resize', id: job.spec.id, members, reason: 'replaces lost members (first claim)' });
    } else if (!c.hold) {
      c.hold = { id: job.spec.id, need, plannedStart: plannedStart(c.now, core.free, core.releases(), need) };
    }
  }
}

function admitPending(core: Core, c: Cycle): void {
  const ahead = { priority: -Infinity, users: new Set<string>() };
  let tried = 0;
  for (const job of core.queue.ordered((j) => rank(core, j, c.now))) {
    if (job.waitingOn && job.waitingOn.size > 0) {
      c.hold ??= { id: job.spec.id, need: holding(job, job.min) };
      setWhy(core, job, 'SCHED_PREEMPTING', `waiting for ${[...job.waitingOn].join(', ')} to stop`);
      continue;
    }
    considerOne(core, c, job, ahead);
    if (job.phase === 'pending') {
      if (job.priority > ahead.priority) ahead.priority = job.priority;
      ahead.users.add(job.spec.user);
    }
    // Nothing is free and a hold is set: no later job can start this cycle (zero requests started above).
    // Past a hold, only BACKFILL_DEPTH jobs are tried per cycle (Slurm's bf_max_job_test does the same): the
    // rest keep their place and get a reason from their position when asked.
    const free = core.free;
    if (c.hold && (free.cores <= 1e-9 || free.memory <= 0 || ++tried > BACKFILL_DEPTH)) break;
  }
}

function considerOne(core: Core, c: Cycle, job: Job, ahead: { priority: number; users: Set<string> }): void {
  const need = holding(job, job.min);
  const free = core.free;
  const quotaOk = core.quota.fits(job.queue, need);
  const machineOk = fits(need, free);
  if (c.hold) {
    const end = job.spec.timeLimitMs === undefined ? Infinity : c.now + job.spec.timeLimitMs;
    const before = c.hold.plannedStart !== undefined && end <= c.hold.plannedStart;
    if (quotaOk && machineOk && before) return admit(core, c, job, job.min);
    if (!quotaOk && machineOk) return quotaWhy(core, job);
    if (machineOk) {
      const hold = c.hold;
      const when = c.hold.plannedStart === undefined ? 'an unknown time' : `t=${c.hold.plannedStart}`;
      const limit = job.spec.timeLimitMs === undefined ? 'has no time limit' : `would end at t=${end}`;
      return setWhy(
        core,
        job,
        'SCHED_RESERVED',
        () => `resources are held for ${hold.id} (planned start ${when}); this job ${limit}`,
      );
    }
    return blockedWhy(core, job, need, free, ahead);
  }
  if (quotaOk && machineOk) return admit(core, c, job, job.min);
  if (tryPreempt(core, c, job, need)) return;
  // The quota is what blocks only when the machine has room; otherwise the machine does, and resources are held.
  if (!quotaOk && machineOk) return quotaWhy(core, job);
  c.hold = { id: job.spec.id, need, plannedStart: plannedStart(c.now, free, core.releases(), need) };
  if (job.why?.cycle !== core.cycle) blockedWhy(core, job, need, free, ahead);
}

function quotaWhy(core: Core, job: Job): void {
  const q = core.quota.view(job.queue);
  setWhy(
    core,
    job,
    'SCHED_QUOTA',
    () =>
      `queue ${job.queue} uses ${describe(q.usage)} of its nominal ${describe(q.nominal)}${q.cohort ? ` and cannot borrow more from cohort ${q.cohort}` : ''}; this job needs ${describe(holding(job, job.min))}`,
  );
}

function blockedWhy(
  core: Core,
  job: Job,
  need: Resources,
  free: Resources,
  ahead: { priority: number; users: Set<string> },
): void {
  const short = (): string => describe(sub(need, free));
  if (job.min > 1 && !job.spec.elastic)
    return setWhy(
      core,
      job,
      'SCHED_GANG_TOO_LARGE',
      () =>
        `the gang of ${job.min} needs ${describe(need)} at once and ${describe(free)} is free (short by ${short()}); it never starts partially`,
    );
  if (ahead.priority > job.priority)
    return setWhy(
      core,
      job,
      'SCHED_PRIORITY',
      () => `higher-priority jobs are ahead; needs ${describe(need)}`,
    );
  const others: string[] = [];
  for (const u of ahead.users) {
    if (u !== job.spec.user) others.push(u);
    if (others.length === 3) break;
  }
  if (others.length > 0)
    return setWhy(core, job, 'SCHED_FAIR_SHARE', () => `users ${others.join(', ')} rank first by fair share`);
  setWhy(
    core,
    job,
    'SCHED_RESOURCES',
    () => `needs ${describe(need)}, ${describe(free)} free${isZero(free) ? '' : ` (short by ${short()})`}`,
  );
}
