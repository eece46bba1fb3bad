// Fair share (book 6.2.2, figures 6.3 and 6.4): the machine is divided among groups by weight, a group's part
// among its active users by weight, and a user's part among the user's active jobs by their queues' weights.
// A user's second job halves that user's share only. "Active" means pending or running: an idle user takes
// nothing, so the others' shares grow (4 users → 25% each; a fifth arrives → 20% each).
// The order of pending jobs weighs each user's usage against that entitlement (see ShareBook.score).
import type { QueueConfig } from './config-types.js';
import { add, dominantShare, type Resources, ZERO } from './resources.js';

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

/**
 * Past usage that fades with a half-life (Kueue's admission fair sharing, Slurm's fair-share factor): per user
 * the integral of the dominant-resource share over time, decayed by 2^(−age/halfLife). `average` reads it as
 * the share the user held on average over the recent past (a user that held 30% for a long while reads 0.3).
 */
export class UsageHistory {
  private readonly lambda: number;
  private readonly users = new Map<string, { value: number; rate: number; at: number }>();

  constructor(halfLifeMs: number) {
    this.lambda = halfLifeMs > 0 ? Math.LN2 / halfLifeMs : Infinity;
  }

  private advance(user: string, now: number): { value: number; rate: number; at: number } {
    const u = this.users.get(user) ?? { value: 0, rate: 0, at: now };
    const dt = Math.max(0, now - u.at);
    if (dt > 0 && Number.isFinite(this.lambda)) {
      const k = Math.exp(-this.lambda * dt);
      u.value = u.value * k + (u.rate * (1 - k)) / this.lambda;
    }
    u.at = now;
    this.users.set(user, u);
    return u;
  }

  /** The user's current dominant share changed to `rate` at `now`. */
  setRate(user: string, rate: number, now: number): void {
    this.advance(user, now).rate = rate;
  }

  /** Adds `share` to the user's decayed average at once (an admission's charge). */
  charge(user: string, share: number, now: number): void {
    if (!Number.isFinite(this.lambda)) return;
    this.advance(user, now).value += share / this.lambda;
  }

  /** Decayed average share of the recent past, in [0, 1]. With no half-life, the current share. */
  average(user: string, now: number): number {
    if (!Number.isFinite(this.lambda)) return this.users.get(user)?.rate ?? 0;
    const u = this.users.get(user);
    if (!u) return 0;
    const k = Math.exp(-this.lambda * Math.max(0, now - u.at));
    return (u.value * k + (u.rate * (1 - k)) / this.lambda) * this.lambda;
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

  /**
   * `user` now holds `delta` more (negative: less). An admission also charges its share at once, as if it had
   * already been used (Kueue's admission penalty): the order reacts within the same cycle, and the charge
   * fades with the half-life instead of lasting while the job runs (which would favour users with nothing
   * running over users whose other jobs still run).
   */
  use(user: string, delta: Resources, now: number): void {
    const next = add(this.usage.get(user) ?? ZERO, delta);
    this.usage.set(user, next);
    this.history.setRate(user, dominantShare(next, this.capacity), now);
    if (delta.cores > 0 || delta.memory > 0)
      this.history.charge(user, dominantShare(delta, this.capacity), now);
  }

  /** The user's dominant-resource share of the machine right now (Kueue's DRS, without quota). */
  current(user: string): number {
    return dominantShare(this.usage.get(user) ?? ZERO, this.capacity);
  }

  /**
   * The fair-share rank of a user: the decayed average share of the recent past (admission charges
   * included) divided by the user's entitlement. Lower goes first; a user with no entitlement (weight 0) goes last.
   * Rounded to 1/1000 so that usage long faded (or equal) ties, and submission order decides.
   */
  score(user: string, now: number): number {
    const e = this.userShare(user);
    const used = this.history.average(user, now);
    return e > 0 ? Math.round((used / e) * 1000) / 1000 : Infinity;
  }
}
