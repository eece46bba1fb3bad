// Concurrency-based autoscaling with Knative's KPA semantics (what KServe uses, book 9.3.2: `scaleMetric:
// concurrency`, `scaleTarget`). Every tick the gateway reports the average number of requests in flight or
// queued for a model over that tick; the autoscaler keeps a stable window and a panic window of such samples:
//   desiredStable = ceil(avg(stable window) / target)      desiredPanic = ceil(avg(panic window) / target)
// Panic mode starts when desiredPanic / readyReplicas >= panicThreshold (2.0: twice what the ready replicas
// can take at target) and ends one stable window after the last over-threshold tick; while panicking the
// count follows the panic window and never goes down. Otherwise it follows the stable window. Scale-down is
// further held back by a scale-down delay (the highest recommendation over that delay wins) and limited to
// halving per tick (Knative's max-scale-down-rate 2). The result is clamped to [min, max]; with min 0 the
// model scales to zero only after a whole stable window without a request.

export interface AutoscalerOptions {
  min: number;
  max: number;
  /** Target average concurrency per replica (KServe scaleTarget). */
  target: number;
  /** Default 60 s (Knative stable-window). */
  stableWindowMs?: number;
  /** Default 10% of the stable window (Knative panic-window-percentage 10). */
  panicWindowMs?: number;
  /** Default 2 (Knative panic-threshold-percentage 200). */
  panicThreshold?: number;
  /** Default 0 (Knative scale-down-delay 0s). */
  scaleDownDelayMs?: number;
  /** Default 2: at most halve the replica count per decision. */
  maxScaleDownRate?: number;
}

export const DEFAULT_STABLE_WINDOW_MS = 60_000;

export interface Decision {
  time: string;
  from: number;
  to: number;
  reason: string;
  /** Average concurrency over the window that decided, for the whole model (all replicas). */
  observedConcurrency: number;
  /** The same divided by ready replicas (what is compared with the target). */
  perReplica: number;
  panic: boolean;
}

interface Sample {
  t: number;
  value: number;
}

/** The KPA decision loop for one model's replica group. */
export class Autoscaler {
  private readonly samples: Sample[] = [];
  private readonly recommendations: Sample[] = [];
  private panicSince: number | undefined;
  private lastOverThreshold = 0;
  private maxPanicPods = 0;
  readonly decisions: Decision[] = [];
  readonly stableWindowMs: number;
  readonly panicWindowMs: number;
  /** The latest window averages (for metrics and status). */
  last = { stable: 0, panic: 0, desired: 0 };

  constructor(readonly opts: AutoscalerOptions) {
    this.stableWindowMs = opts.stableWindowMs ?? DEFAULT_STABLE_WINDOW_MS;
    this.panicWindowMs = opts.panicWindowMs ?? Math.max(1, Math.round(this.stableWindowMs / 10));
  }

  get panicking(): boolean {
    return this.panicSince !== undefined;
  }

  /** Records the average concurrency observed over the tick that ends at `now`. */
  observe(now: number, concurrency: number): void {
    this.samples.push({ t: now, value: concurrency });
    while (this.samples.length > 0 && (this.samples[0] as Sample).t <= now - this.stableWindowMs)
      this.samples.shift();
  }

  /**
   * The replica count wanted now, given `ready` routable replicas and `current` desired count. Records a
   * Decision when the answer differs from `current`.
   */
  decide(now: number, ready: number, current: number): number {
    const o = this.opts;
    const stable = this.average(now, this.stableWindowMs);
    const panic = this.average(now, this.panicWindowMs);
    const readyPods = Math.max(1, ready);
    const maxDown = Math.floor(readyPods / (o.maxScaleDownRate ?? 2));
    const rawPanic = panic / o.target;
    const desiredStable = Math.ceil(stable / o.target - 1e-9);
    const desiredPanic = Math.ceil(rawPanic - 1e-9);

    const over = rawPanic / readyPods >= (o.panicThreshold ?? 2);
    if (over) {
      this.lastOverThreshold = now;
      if (this.panicSince === undefined) {
        this.panicSince = now;
        this.maxPanicPods = ready;
      }
    } else if (this.panicSince !== undefined && now - this.lastOverThreshold >= this.stableWindowMs) {
      this.panicSince = undefined;
      this.maxPanicPods = 0;
    }

    let desired: number;
    let reason: string;
    if (this.panicSince !== undefined) {
      desired = Math.max(desiredPanic, this.maxPanicPods);
      this.maxPanicPods = desired;
      reason = `panic: ${panic.toFixed(2)} in flight over the ${this.panicWindowMs} ms panic window is at least ${o.panicThreshold ?? 2}x the target of ${o.target} per replica for ${ready} ready`;
    } else {
      desired = Math.max(desiredStable, maxDown);
      reason = `stable: ${stable.toFixed(2)} in flight on average over the ${this.stableWindowMs} ms window, target ${o.target} per replica`;
    }
    desired = this.holdScaleDown(now, desired);
    desired = Math.min(o.max, Math.max(o.min, desired));
    this.last = { stable, panic, desired };
    if (desired !== current) {
      if (desired === 0) reason = `scale to zero: no request for ${this.stableWindowMs} ms`;
      const observed = this.panicSince !== undefined ? panic : stable;
      this.decisions.push({
        time: new Date(now).toISOString(),
        from: current,
        to: desired,
        reason,
        observedConcurrency: round(observed),
        perReplica: round(observed / readyPods),
        panic: this.panicSince !== undefined,
      });
      if (this.decisions.length > 200) this.decisions.shift();
    }
    return desired;
  }

  /** Records a decision made outside the loop (scale from zero on a request, replacement). */
  record(now: number, from: number, to: number, reason: string, observed: number): void {
    this.decisions.push({
      time: new Date(now).toISOString(),
      from,
      to,
      reason,
      observedConcurrency: round(observed),
      perReplica: round(observed / Math.max(1, from)),
      panic: false,
    });
  }

  /** The highest recommendation over the scale-down delay, so a dip shorter than the delay changes nothing. */
  private holdScaleDown(now: number, desired: number): number {
    const delay = this.opts.scaleDownDelayMs ?? 0;
    if (delay <= 0) return desired;
    this.recommendations.push({ t: now, value: desired });
    while (this.recommendations.length > 0 && (this.recommendations[0] as Sample).t <= now - delay)
      this.recommendations.shift();
    return Math.max(...this.recommendations.map((r) => r.value));
  }

  private average(now: number, windowMs: number): number {
    let sum = 0;
    let n = 0;
    for (let i = this.samples.length - 1; i >= 0; i--) {
      const s = this.samples[i] as Sample;
      if (s.t <= now - windowMs) break;
      sum += s.value;
      n++;
    }
    return n === 0 ? 0 : sum / n;
  }
}

const round = (v: number) => Math.round(v * 1000) / 1000;
