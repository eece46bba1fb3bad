// Fair share (book 6.2.2, figures 6.3 and 6.4): the machine is divided among groups by weight, a group's part
// among its active users by weight, and a user's part among the user's active jobs by their queues' weights.
// A user's second job halves that user's share only. "Active" means pending or running: an idle user takes
// nothing, so the others' shares grow (4 users → 25% each; a fifth arrives → 20% each).
// The order of pending jobs weighs each user's usage against that entitlement (see ShareBook.score, usage.ts).
import type { QueueConfig } from './config-types.js';
import { add, dominantShare, type Resources, ZERO } from './resources.js';
import { rankOf, UsageHistory } from './usage.js';

export const DEFAULT_GROUP = 'default';

/** Who is in which group, with weights, from the queue configuration. */
export class Groups {
  private readonly groupOf = new Map<string, string>();
  private readonly userWeight = new Map<string, number>();
  private readonly groupWeight = new Map<string, number>();

  constructor(config: QueueConfig) {
    for (const g of config.groups) {
      this.groupWeight.set(g.name, g.weight);
      for (const u of g.users) {
        this.groupOf.set(u.name, g.name);
        this.userWeight.set(u.name, u.weight);
      }
    }
  }

  group(user: string): string {
    return this.groupOf.get(user) ?? DEFAULT_GROUP;
  }

  weightOfUser(user: string): number {
    return this.userWeight.get(user) ?? 1;
  }

  weightOfGroup(group: string): number {
    return this.groupWeight.get(group) ?? 1;
  }
}

export interface ElasticClaim {
  id: string;
  /** Dominant share of the machine one member takes. */
  perMember: number;
  min: number;
  max: number;
  entitlement: number;
}

/**
 * Members per elastic job: weighted max-min fairness (water-filling) over `available` (a fraction of the
 * machine), each job between its min and max, in proportion to its entitlement. Whole members only; the
 * remainder goes one member at a time to the job furthest below its entitlement.
 */
export function waterfill(claims: ElasticClaim[], available: number): Map<string, number> {
  const out = new Map(claims.map((c) => [c.id, c.min]));
  let left = available - claims.reduce((a, c) => a + c.min * c.perMember, 0);
  let open = claims.filter((c) => c.max > c.min && c.perMember > 0);
  while (left > 1e-9 && open.length > 0) {
    const weight = open.reduce((a, c) => a + c.entitlement, 0) || open.length;
    let spent = 0;
    const still: ElasticClaim[] = [];
    for (const c of open) {
      const want = (left * (c.entitlement || weight / open.length)) / weight;
      const have = out.get(c.id)!;
      const add = Math.min(Math.floor(want / c.perMember + 1e-9), c.max - have);
      out.set(c.id, have + add);
      spent += add * c.perMember;
      if (have + add < c.max) still.push(c);
    }
    left -= spent;
    open = still;
    if (spent === 0) break;
  }
  // Whole members left over: to whoever is furthest below its entitlement, while they fit.
  for (;;) {
    const c = open
      .filter((x) => x.perMember <= left + 1e-9 && out.get(x.id)! < x.max)
      .sort(
        (a, b) =>
          (out.get(a.id)! * a.perMember) / (a.entitlement || 1e-12) -
          (out.get(b.id)! * b.perMember) / (b.entitlement || 1e-12),
      )[0];
    if (!c) break;
    out.set(c.id, out.get(c.id)! + 1);
    left -= c.perMember;
  }
  return out;
}

/** x/sum of weights, or an equal split when every weight is zero. */
const part = (w: number, sum: number, n: number): number => (sum > 0 ? w / sum : n > 0 ? 1 / n : 0);

/**
 * Entitlements kept incrementally as jobs become active (pending or running) and inactive, so a share costs
 * O(1) on a machine with thousands of users; and each user's usage, now and decayed over the past.
 */
export class ShareBook {
  private readonly jobWeight = new Map<string, { sum: number; n: number }>();
  private readonly groupUsers = new Map<string, { sum: number; n: number }>();
  private groupsSum = 0;
  private groupsN = 0;
  private readonly usage = new Map<string, Resources>();
  readonly history: UsageHistory;

  constructor(
    readonly groups: Groups,
    private readonly capacity: Resources,
    halfLifeMs: number,
  ) {
    this.history = new UsageHistory(halfLifeMs);
  }

  /** A job of `user` with queue weight `w` became active (+1) or inactive (−1). */
  activate(user: string, w: number, sign: 1 | -1): void {
    const j = this.jobWeight.get(user) ?? { sum: 0, n: 0 };
    const wasActive = j.n > 0;
    j.sum += sign * w;
    j.n += sign;
    if (j.n > 0) this.jobWeight.set(user, j);
    else this.jobWeight.delete(user);
    if (wasActive === j.n > 0) return;
    const g = this.groups.group(user);
    const gu = this.groupUsers.get(g) ?? { sum: 0, n: 0 };
    const groupWasActive = gu.n > 0;
    gu.sum += sign * this.groups.weightOfUser(user);
    gu.n += sign;
    if (gu.n > 0) this.groupUsers.set(g, gu);
    else this.groupUsers.delete(g);
    if (groupWasActive === gu.n > 0) return;
    this.groupsSum += sign * this.groups.weightOfGroup(g);
    this.groupsN += sign;
  }

  groupShare(group: string): number {
    if (!this.groupUsers.has(group)) return 0;
    return part(this.groups.weightOfGroup(group), this.groupsSum, this.groupsN);
  }

  userShare(user: string): number {
    const gu = this.groupUsers.get(this.groups.group(user));
    if (!gu || !this.jobWeight.has(user)) return 0;
    return this.groupShare(this.groups.group(user)) * part(this.groups.weightOfUser(user), gu.sum, gu.n);
  }

  /** The share of one active job of `user` whose queue weighs `w`. */
  jobShare(user: string, w: number): number {
    const j = this.jobWeight.get(user);
    return j ? this.userShare(user) * part(w, j.sum, j.n) : 0;
  }

  activeUsers(): string[] {
    return [...this.jobWeight.keys()];
  }

  /** `user` now holds `delta` more (negative: less). */
  use(user: string, delta: Resources, now: number): void {
    const next = add(this.usage.get(user) ?? ZERO, delta);
    this.usage.set(user, next);
    this.history.setRate(user, dominantShare(next, this.capacity), now);
  }

  /**
   * Job `id` of `user` holds `r` from `now` on (nothing: it stopped), with `leftMs` of its time limit left
   * (undefined: none). Counted at once for the work it promises (see usage.ts), so the order reacts within
   * the same cycle and a long job weighs more than a short one.
   */
  hold(user: string, id: string, r: Resources, leftMs: number | undefined, now: number): void {
    this.history.promise(user, id, dominantShare(r, this.capacity), leftMs, now);
  }

  /** The user's dominant-resource share of the machine right now (Kueue's DRS, without quota). */
  current(user: string): number {
    return dominantShare(this.usage.get(user) ?? ZERO, this.capacity);
  }

  /**
   * The fair-share rank of a user whose next job asks for `next` with time limit `limitMs`: the user's
   * fair-share charge (admissions counted for the work they promise, faded; see usage.ts) against the user's entitlement,
   * weighed with the size of the next job (see rankOf). Lower goes first; a user with no entitlement
   * (weight 0) goes last.
   */
  score(user: string, next: Resources, limitMs: number | undefined, now: number): number {
    const charge = this.history.charge(dominantShare(next, this.capacity), limitMs);
    return rankOf(this.history.charged(user, now), this.userShare(user), charge);
  }
}
