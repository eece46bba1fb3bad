// Elastic jobs (book 6.2.3, 3.4): they start at their minimum when that fits; at the end of every cycle the
// resources elastic jobs hold plus what is free (less any hold for a waiting job) are re-divided among them by
// fair share, priority tier by priority tier: jobs above their target shrink, jobs below grow as room allows.
import type { Core } from './core.js';
import type { Cycle } from './cycle-context.js';
import { waterfill } from './fairshare.js';
import { holding, type Job } from './job.js';
import { add, dominantShare, fits, type Resources, sub } from './resources.js';

export function rebalanceElastic(core: Core, c: Cycle): void {
  const elastic = [...core.running.values()].filter((j) => j.phase === 'running' && j.spec.elastic);
  if (elastic.length === 0) return;
  const before = new Map(elastic.map((j) => [j, j.members]));
  const target = targets(core, c, elastic);
  for (const j of elastic) if (j.members > target.get(j)!) core.grant(j, target.get(j)!, c.now);
  grow(core, c, elastic, target);
  for (const j of elastic) {
    if (j.members === before.get(j)) continue;
    const reason = j.members > before.get(j)! ? 'grows into free resources' : 'shrinks to its fair share';
    c.out.push({ kind: 'resize', id: j.spec.id, members: j.members, reason });
  }
}

function targets(core: Core, c: Cycle, elastic: Job[]): Map<Job, number> {
  let pool: Resources = core.free;
  for (const j of elastic) pool = add(pool, holding(j));
  if (c.hold) pool = sub(pool, c.hold.need);
  const cap = core.capacity;
  const usesCores = elastic.some((j) => j.spec.gang.perMember.cores > 0);
  const usesMemory = elastic.some((j) => j.spec.gang.perMember.memory > 0);
  let avail = Math.max(
    0,
    Math.min(usesCores ? pool.cores / cap.cores : Infinity, usesMemory ? pool.memory / cap.memory : Infinity),
  );
  const out = new Map<Job, number>();
  const tiers = [...new Set(elastic.map((j) => j.priority))].sort((a, b) => b - a);
  for (const p of tiers) {
    const tier = elastic.filter((j) => j.priority === p);
    const claims = tier.map((j) => ({
      id: j.spec.id,
      perMember: dominantShare(holding(j, 1), cap),
      min: j.min,
      max: j.max,
      entitlement: core.shares.jobShare(j.spec.user, j.queue),
    }));
    const got = waterfill(claims, avail);
    for (const j of tier) {
      const m = got.get(j.spec.id)!;
      out.set(j, m);
      avail -= m * dominantShare(holding(j, 1), cap);
    }
    avail = Math.max(0, avail);
  }
  return out;
}

/** One member at a time to the job furthest below its target, while it fits beside any hold and its quota. */
function grow(core: Core, c: Cycle, elastic: Job[], target: Map<Job, number>): void {
  const open = elastic.filter((j) => j.members < target.get(j)!);
  while (open.length > 0) {
    open.sort((a, b) => a.members / target.get(a)! - b.members / target.get(b)!);
    const j = open[0]!;
    const one = holding(j, 1);
    const room = c.hold ? sub(core.free, c.hold.need) : core.free;
    if (!fits(one, room) || !core.quota.fits(j.queue, one)) {
      open.shift();
      continue;
    }
    core.grant(j, j.members + 1, c.now);
    if (j.members >= target.get(j)!) open.shift();
  }
}
