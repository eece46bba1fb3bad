// Usage that fades with a half-life (Kueue's admission fair sharing, Slurm's fair-share factor), in two forms:
// what each user really used (`average`, shown as the past share) and the charge the fair-share order ranks on
// (`charged`).
//
// The charge counts an admitted job at once for the work it promises (its share × its time limit), fading
// with the half-life from its admission; when the job stops early, the unused part is given back as faded;
// a job without a time limit promises one mean lifetime of the decay (1/λ), and a job running past its promise
// is charged from then on as it uses. The charge used before (the share alone, as if the job ran 1/λ, plus use
// as it ran) was blind to a job's length, so users of long jobs got more: bench/scheduler measured ±9–11%
// per user of weight 1 from job lengths alone; fair-share.test.ts's user of 90-minute jobs got 83.6% instead
// of 50% against one of 10-minute jobs. A charge taken at once, as one amount, is also what makes the order's
// compensation for large charges (rankOf) exact.
const EPS = 1e-12;
/** Usage under this fraction of the entitlement counts as none (long faded). */
const FADED = 1e-6;

interface Pledge {
  /** Dominant share the job holds. */
  share: number;
  /** When it started holding `share`. */
  since: number;
  /** The work promised from `since`, in units of 1/λ (time limit left × λ; 1 without a time limit). */
  span: number;
  /** False without a time limit: the promise is a guess, kept whole when the job stops (see promise()). */
  limited: boolean;
}

/** Per user: real use and the fair-share charge, both decayed by 2^(−age/halfLife). */
export class UsageHistory {
  readonly lambda: number;
  private readonly users = new Map<string, { value: number; rate: number; at: number }>();
  /** Per user: the faded charges of admissions (units of `average`), and the running jobs' pledges. */
  private readonly charges = new Map<string, { value: number; at: number; pledges: Map<string, Pledge> }>();

  constructor(readonly halfLifeMs: number) {
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

  /** Decayed average share of the recent past, in [0, 1]. With no half-life, the current share. */
  average(user: string, now: number): number {
    if (!Number.isFinite(this.lambda)) return this.users.get(user)?.rate ?? 0;
    const u = this.users.get(user);
    if (!u) return 0;
    const k = Math.exp(-this.lambda * Math.max(0, now - u.at));
    return (u.value * k + (u.rate * (1 - k)) / this.lambda) * this.lambda;
  }

  /** What admitting a job of `share` with time limit `limitMs` (undefined: none) charges, in `average`'s units. */
  charge(share: number, limitMs: number | undefined): number {
    if (!Number.isFinite(this.lambda)) return 0;
    return share * (limitMs === undefined ? 1 : limitMs * this.lambda);
  }

  /**
   * Job `id` of `user` holds `share` from `now` on (0: it stopped), with `leftMs` of its time limit left
   * (undefined: none). What it held before is settled: the unused part of its promise is given back.
   */
  promise(user: string, id: string, share: number, leftMs: number | undefined, now: number): void {
    if (!Number.isFinite(this.lambda)) return;
    const c = this.charges.get(user) ?? { value: 0, at: now, pledges: new Map<string, Pledge>() };
    this.charges.set(user, c);
    c.value *= Math.exp(-this.lambda * Math.max(0, now - c.at));
    c.at = now;
    const old = c.pledges.get(id);
    if (old) {
      const t = this.lambda * Math.max(0, now - old.since);
      // A job without a time limit promised a guess: stopping early keeps it whole (the admission penalty of
      // Kueue's admission fair sharing), or short jobs would cost nothing once done while a running one costs
      // the whole guess. Its size changing (elastic) settles it as a limited one.
      const refund = old.limited || share > 0;
      if (t > old.span) c.value += beyond(old, t);
      else if (refund) c.value -= old.share * (old.span - t) * Math.exp(-t);
      c.pledges.delete(id);
    }
    if (share > 0) {
      const span = leftMs === undefined ? 1 : Math.max(0, leftMs) * this.lambda;
      c.pledges.set(id, { share, since: now, span, limited: leftMs !== undefined });
      c.value += share * span;
    }
    if (c.pledges.size === 0 && c.value < EPS) this.charges.delete(user);
  }

  /** The user's fair-share charge: admissions' charges, faded, plus use past a promise. */
  charged(user: string, now: number): number {
    if (!Number.isFinite(this.lambda)) return this.average(user, now);
    const c = this.charges.get(user);
    if (!c) return 0;
    let v = c.value * Math.exp(-this.lambda * Math.max(0, now - c.at));
    for (const p of c.pledges.values()) v += beyond(p, this.lambda * Math.max(0, now - p.since));
    return v;
  }
}

/** Use past the promise, faded, after `t` (units of 1/λ) of holding. */
function beyond(p: Pledge, t: number): number {
  return t > p.span ? p.share * (1 - Math.exp(-(t - p.span))) : 0;
}

/**
 * The fair-share rank of a user whose charge is `used`, entitlement `e`, and whose next job would add `next`
 * (same units); lower goes first. Plain `used / e` favours users whose jobs are large against their
 * entitlement: charges fade in proportion to themselves, so after a charge j (per unit of entitlement) a user
 * is back at the others' level K after ln(1 + j/K)/λ, less than in proportion to j (bench/scheduler: users of
 * weight 1 got 7% more than their share, users of weight 3 2% less; fair-share.test.ts's light group 30%
 * instead of 25%). Going when the level reaches a = j/(e^(j/K) − 1) instead makes ln(a + j) − ln(a) = j/K:
 * over a user's admissions the time between them adds up to Σ j/(λK), in proportion to what the user was
 * charged, for small and large jobs alike. The rank is that a solved for K: j / ln(1 + j/a); for small j it
 * is `used / e`. Usage long faded counts as none, and ranks are rounded to 1/1000, so faded (or equal) usage
 * ties and submission order decides.
 */
export function rankOf(used: number, e: number, next: number): number {
  if (!(e > 0)) return Infinity;
  const s = used / e;
  const j = next / e;
  const key = s < FADED ? 0 : j > EPS ? j / Math.log1p(j / s) : s;
  return Math.round(key * 1000) / 1000;
}
