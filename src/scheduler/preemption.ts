// Choosing victims: whole gangs only, the FEWEST that make room (Volcano#5984 evicted every lower-priority
// pod instead), lowest priority first; and a ledger that forbids preemption loops (Kueue#3779, #7101).
import { SchedulerError } from './errors.js';
import { dominantShare, type Resources } from './resources.js';

export interface Candidate {
  id: string;
  priority: number;
  /** What evicting the whole gang frees. */
  frees: Resources;
}

/** Subsets tried before falling back to a greedy choice (bounds a cycle's cost on a crowded machine). */
const MAX_COMBINATIONS = 20_000;

/**
 * The smallest set of candidates whose eviction makes `fitsWithout` true; among sets of that size, the one
 * whose highest priority is lowest, then the one that frees least beyond need. Undefined when none does.
 */
export function fewestVictims(
  candidates: Candidate[],
  fitsWithout: (victims: Candidate[]) => boolean,
  capacity: Resources,
): Candidate[] | undefined {
  if (candidates.length === 0 || !fitsWithout(candidates)) return undefined;
  const sorted = [...candidates].sort(
    (a, b) => a.priority - b.priority || dominantShare(b.frees, capacity) - dominantShare(a.frees, capacity),
  );
  let budget = MAX_COMBINATIONS;
  for (let k = 1; k <= sorted.length; k++) {
    let best: Candidate[] | undefined;
    let bestKey: [number, number] = [Infinity, Infinity];
    const pick: Candidate[] = [];
    const walk = (from: number): boolean => {
      if (pick.length === k) {
        if (--budget < 0) return false;
        if (fitsWithout(pick)) {
          const key: [number, number] = [
            Math.max(...pick.map((c) => c.priority)),
            pick.reduce((a, c) => a + dominantShare(c.frees, capacity), 0),
          ];
          if (key[0] < bestKey[0] || (key[0] === bestKey[0] && key[1] < bestKey[1])) {
            best = [...pick];
            bestKey = key;
          }
        }
        return true;
      }
      for (let i = from; i <= sorted.length - (k - pick.length); i++) {
        pick.push(sorted[i]!);
        const go = walk(i + 1);
        pick.pop();
        if (!go) return false;
      }
      return true;
    };
    const complete = walk(0);
    if (best) return best;
    if (!complete) return greedy(sorted, fitsWithout);
  }
  return undefined;
}

/** Lowest priority first until room is made, then drops every victim that turns out not to be needed. */
function greedy(
  sorted: Candidate[],
  fitsWithout: (victims: Candidate[]) => boolean,
): Candidate[] | undefined {
  const chosen: Candidate[] = [];
  for (const c of sorted) {
    chosen.push(c);
    if (fitsWithout(chosen)) break;
  }
  if (!fitsWithout(chosen)) return undefined;
  for (let i = chosen.length - 1; i >= 0; i--) {
    const without = chosen.filter((_, j) => j !== i);
    if (fitsWithout(without)) chosen.splice(i, 1);
  }
  return chosen;
}

/**
 * Who preempted whom, while both are alive. A preemption that would close a cycle (A preempted B, and now B
 * would preempt A, directly or through others) is refused by `wouldLoop` and, if the policy ever chose one
 * anyway, `record` throws: a loop is a bug, and stopping loudly beats evicting forever.
 */
export class PreemptionLedger {
  private readonly edges = new Map<string, Set<string>>();

  /** True when `preemptor` preempting `victim` would close a cycle. */
  wouldLoop(preemptor: string, victim: string): boolean {
    if (preemptor === victim) return true;
    const seen = new Set<string>();
    const stack = [victim];
    while (stack.length > 0) {
      const at = stack.pop()!;
      if (at === preemptor) return true;
      if (seen.has(at)) continue;
      seen.add(at);
      for (const next of this.edges.get(at) ?? []) stack.push(next);
    }
    return false;
  }

  record(preemptor: string, victim: string): void {
    if (this.wouldLoop(preemptor, victim))
      throw new SchedulerError(
        'SCHED_INVARIANT',
        `preemption loop refused: ${preemptor} would preempt ${victim}, which already (transitively) preempted ${preemptor}`,
      );
    const set = this.edges.get(preemptor) ?? new Set<string>();
    set.add(victim);
    this.edges.set(preemptor, set);
  }

  /** A job that ended takes its edges with it. */
  forget(id: string): void {
    this.edges.delete(id);
    for (const set of this.edges.values()) set.delete(id);
  }
}
