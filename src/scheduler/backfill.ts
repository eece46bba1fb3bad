// Time planning from promised run times (Slurm's backfill): when would a job fit if every running job ends at
// its time limit? A held gang's planned start bounds what may be backfilled; the same timeline estimates every
// pending job's start. Jobs without a time limit end "never" as far as planning knows.
import { add, fits, type Resources, sub } from './resources.js';

export interface Release {
  /** When the resources come back; undefined: unknown (no time limit). */
  at: number | undefined;
  frees: Resources;
}

/** Earliest time `need` fits, walking the known releases in time order; undefined when none makes it fit. */
export function plannedStart(
  now: number,
  free: Resources,
  releases: Release[],
  need: Resources,
): number | undefined {
  if (fits(need, free)) return now;
  let avail = free;
  const known = releases.filter((r) => r.at !== undefined).sort((a, b) => a.at! - b.at!);
  for (const r of known) {
    avail = add(avail, r.frees);
    if (fits(need, avail)) return Math.max(now, r.at!);
  }
  return undefined;
}

interface Change {
  at: number;
  delta: Resources;
}

/**
 * Estimated start of each job in `order` (the pending order), placing each at the earliest time it fits
 * beside the running jobs and the jobs placed before it. Stops at the first job that cannot be placed: after
 * it, every estimate would rest on a guess.
 */
export function estimateStarts(
  now: number,
  free: Resources,
  releases: Release[],
  order: { id: string; need: Resources; durationMs?: number }[],
): Map<string, number> {
  const changes: Change[] = releases
    .filter((r) => r.at !== undefined)
    .map((r) => ({ at: Math.max(now, r.at!), delta: r.frees }));
  const out = new Map<string, number>();
  for (const job of order) {
    const start = earliest(now, free, changes, job.need, job.durationMs);
    if (start === undefined) break;
    out.set(job.id, start);
    changes.push({ at: start, delta: sub({ cores: 0, memory: 0 }, job.need) });
    if (job.durationMs !== undefined) changes.push({ at: start + job.durationMs, delta: job.need });
  }
  return out;
}

function earliest(
  now: number,
  free: Resources,
  changes: Change[],
  need: Resources,
  durationMs: number | undefined,
): number | undefined {
  // At equal times, releases before takes: a job placed where another ends starts with its resources.
  changes.sort((a, b) => a.at - b.at || b.delta.cores - a.delta.cores);
  for (const t of [now, ...changes.map((c) => c.at).filter((at) => at > now)]) {
    if (fitsFrom(t, free, changes, need, durationMs === undefined ? Infinity : t + durationMs)) return t;
  }
  return undefined;
}

/** Whether `need` fits at every moment of [t, end) on the timeline `changes` (sorted). */
function fitsFrom(t: number, free: Resources, changes: Change[], need: Resources, end: number): boolean {
  let avail = free;
  let checkedAtT = false;
  for (const c of changes) {
    if (c.at > t) {
      if (!checkedAtT && !fits(need, avail)) return false;
      checkedAtT = true;
      if (c.at >= end) return true;
    }
    avail = add(avail, c.delta);
    if (c.at > t && !fits(need, avail)) return false;
  }
  return checkedAtT || fits(need, avail);
}
