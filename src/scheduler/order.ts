// The order pending jobs are considered in: higher priority first; within a priority, the user with the lowest
// fair-share rank (charge against entitlement, weighed with the user's next job; see ShareBook.score) first,
// re-ranked after every admission; within a user, submission order (a preempted job keeps its place). Kept
// per (priority, user) so a cycle touches only the jobs it considers, not every pending job.
import type { Job } from './job.js';

/** Min-heap on (key, tie). */
class Heap<T> {
  private readonly items: { key: number; tie: number; value: T }[] = [];

  get size(): number {
    return this.items.length;
  }

  push(key: number, tie: number, value: T): void {
    const a = this.items;
    a.push({ key, tie, value });
    for (let i = a.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (!less(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }

  pop(): T | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      a[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && less(a[l]!, a[m]!)) m = l;
        if (r < a.length && less(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top?.value;
  }
}

const less = (a: { key: number; tie: number }, b: { key: number; tie: number }): boolean =>
  a.key < b.key || (a.key === b.key && a.tie < b.tie);

/** Pending jobs by priority, then user, then submission. */
export class PendingQueue {
  private readonly tiers = new Map<number, Map<string, Job[]>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(job: Job): void {
    const tier = this.tiers.get(job.priority) ?? new Map<string, Job[]>();
    this.tiers.set(job.priority, tier);
    const list = tier.get(job.spec.user) ?? [];
    tier.set(job.spec.user, list);
    list.splice(firstFrom(list, job.seq), 0, job);
    this.count++;
  }

  remove(job: Job): void {
    const tier = this.tiers.get(job.priority);
    const list = tier?.get(job.spec.user);
    const i = list ? firstFrom(list, job.seq) : -1;
    if (!tier || !list || list[i] !== job) return;
    list.splice(i, 1);
    if (list.length === 0) tier.delete(job.spec.user);
    if (tier.size === 0) this.tiers.delete(job.priority);
    this.count--;
  }

  /**
   * Pending jobs in order. `score(next)` (the rank of `next`'s user with `next` in line) is read when a user's
   * turn comes up again, so an admission (which raises the user's charge) lets the next user go first. Jobs
   * removed while iterating are skipped.
   */
  *ordered(score: (next: Job) => number): Generator<Job> {
    const priorities = [...this.tiers.keys()].sort((a, b) => b - a);
    for (const p of priorities) {
      const tier = this.tiers.get(p);
      if (!tier) continue;
      const heap = new Heap<{ user: string; seq: number }>();
      for (const [user, list] of tier) heap.push(score(list[0]!), list[0]!.seq, { user, seq: list[0]!.seq });
      for (let e = heap.pop(); e; e = heap.pop()) {
        const list = tier.get(e.user) ?? [];
        const job = list[firstFrom(list, e.seq)];
        if (!job) continue;
        if (job.phase === 'pending') yield job;
        const next = tier.get(e.user) ?? [];
        const n = next[firstFrom(next, job.seq + 1)];
        if (n) heap.push(score(n), n.seq, { user: e.user, seq: n.seq });
      }
    }
  }
}

/** Index of the first job with seq ≥ `seq` in a list sorted by seq. */
function firstFrom(list: Job[], seq: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid]!.seq < seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
