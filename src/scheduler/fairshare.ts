// Fair share (book 6.2.2, figures 6.3 and 6.4): the machine is divided along the cohort tree by
// fairSharing weights (Kueue's hierarchical cohorts), a queue's part among its groups by weight, a group's
// part among its active users by weight, and a user's part of a queue equally among the user's jobs there
// (share-tree.ts). A user's second job halves that user's share only. "Active" means pending or running: an
// idle user takes nothing, so the others' shares grow (4 users → 25% each; a fifth arrives → 20% each).
// The order of pending jobs weighs each user's usage against that entitlement (see ShareBook.score, usage.ts).
import type { QueueConfig } from './config-types.js';
import { add, dominantShare, type Resources, ZERO } from './resources.js';
import { ShareTree } from './share-tree.js';
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

/**
 * Entitlements along the cohort tree (share-tree.ts), kept incrementally as jobs become active (pending or
 * running) and inactive; and each user's usage, now and decayed over the past.
 */
export class ShareBook {
  private readonly tree: ShareTree;
  private readonly usage = new Map<string, Resources>();
  readonly history: UsageHistory;

  constructor(
    config: QueueConfig,
    readonly groups: Groups,
    private readonly capacity: Resources,
    /** A reload's: kept when its half-life is the configuration's (the past stays as it was). */
    history?: UsageHistory,
  ) {
    this.tree = new ShareTree(config, groups);
    this.history =
      history?.halfLifeMs === config.usageHalfLifeMs ? history : new UsageHistory(config.usageHalfLifeMs);
  }

  /** A job of `user` in `queue` became active (+1) or inactive (−1). */
  activate(user: string, queue: string, sign: 1 | -1): void {
    this.tree.activate(user, queue, sign);
  }

  /** The user's part of the machine (summed over the queues where the user has jobs). */
  userShare(user: string): number {
    return this.tree.userShare(user);
  }

  /** The share of one active job of `user` in `queue`. */
  jobShare(user: string, queue: string): number {
    return this.tree.jobShare(user, queue);
  }

  activeUsers(): string[] {
    return this.tree.activeUsers();
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
