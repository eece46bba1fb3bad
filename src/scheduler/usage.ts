// Past usage that fades with a half-life (Kueue's admission fair sharing, Slurm's fair-share factor), and the
// usage running jobs have promised. The fair-share order (ShareBook.score) reads both.
//
// Why a promise: ranking on what was used so far sees a job's size only as it runs, so a user whose jobs run
// long gets more of the machine than one whose jobs are short (bench/scheduler measured 9% per user from
// job lengths alone). An admitted job is therefore counted at once for the work it promises (its share × its
// time limit), fading with the half-life from its admission like any usage; when it stops, the promise is
// replaced by what it really used (a job that ends early gives back the unused part).
const EPS = 1e-12;

interface Pledge {
  /** Dominant share the job holds. */
  share: number;
  /** When it started holding `share`. */
  since: number;
  /** The work promised from `since`, in units of 1/λ (time limit left × λ; 1 when it has no time limit). */
  span: number;
}

/**
 * Per user: the integral of the dominant-resource share over time, decayed by 2^(−age/halfLife), and the
 * promises of the user's running jobs. `average` reads the past as the share the user held on average over
 * the recent past (a user that held 30% for a long while reads 0.3); `withPromises` adds what running jobs
 * promised and have not used yet, in the same units.
 */
export class UsageHistory {
  readonly lambda: number;
  private readonly users = new Map<string, { value: number; rate: number; at: number }>();
  private readonly promises = new Map<string, Map<string, Pledge>>();

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

  /**
   * Job `id` of `user` holds `share` from `now` on (0: it stopped), promising to run `leftMs` more
   * (undefined: no time limit, counted as one mean lifetime of the decay, 1/λ).
   */
  promise(user: string, id: string, share: number, leftMs: number | undefined, now: number): void {
    const mine = this.promises.get(user) ?? new Map<string, Pledge>();
    if (share > 0 && Number.isFinite(this.lambda)) {
      const span = leftMs === undefined ? 1 : Math.max(0, leftMs) * this.lambda;
      mine.set(id, { share, since: now, span });
    } else mine.delete(id);
    if (mine.size > 0) this.promises.set(user, mine);
    else this.promises.delete(user);
  }

  /** What a job of `share` promising `limitMs` (undefined: none) adds at admission, in `average`'s units. */
  charge(share: number, limitMs: number | undefined): number {
    if (!Number.isFinite(this.lambda)) return 0;
    return share * (limitMs === undefined ? 1 : limitMs * this.lambda);
  }

  /** Decayed average share of the recent past, in [0, 1]. With no half-life, the current share. */
  average(user: string, now: number): number {
    if (!Number.isFinite(this.lambda)) return this.users.get(user)?.rate ?? 0;
    const u = this.users.get(user);
    if (!u) return 0;
    const k = Math.exp(-this.lambda * Math.max(0, now - u.at));
    return (u.value * k + (u.rate * (1 - k)) / this.lambda) * this.lambda;
  }

  /**
   * `average` plus what running jobs promised beyond what they used: each job counts as the larger of its
   * promise (faded since its start) and its real use so far, so a job that overruns its limit counts as used.
   */
  withPromises(user: string, now: number): number {
    let extra = 0;
    for (const p of this.promises.get(user)?.values() ?? []) {
      const k = Math.exp(-this.lambda * Math.max(0, now - p.since));
      extra += Math.max(0, p.share * p.span * k - p.share * (1 - k));
    }
    return this.average(user, now) + extra;
  }
}

/**
 * The fair-share rank of a user whose decayed usage (with promises) is `used`, entitlement `e`, whose next job
 * would add `next` (same units). Plain `used / e` with "lowest first" favours users whose jobs are large
 * against their entitlement: usage fades in proportion to itself, so a large charge fades back to the others'
 * level in time ln(1 + next/used) / λ, less than in proportion to `next` (bench/scheduler: users of weight 1
 * got 7% more than their share, users of weight 3 2% less). Ranking on
 * K = (next/e) / ln(1 + next/used) — the level the others must have faded to when this user goes — makes the
 * time between a user's admissions proportional to what each admission adds, for small and large jobs alike.
 * Usage under 1/1000 of the entitlement counts as none, so usage long faded (or equal) ties and submission
 * order decides.
 */
export function rankOf(used: number, e: number, next: number): number {
  if (!(e > 0)) return Infinity;
  const s = Math.round((used / e) * 1000) / 1000;
  const j = next / e;
  const key = s <= 0 ? 0 : j > EPS ? j / Math.log1p(j / s) : s;
  return Math.round(key * 1000) / 1000;
}
