/** Adam's hyper-parameters other than the learning rate; defaults are the engine's (Keras's). */
export interface AdamMoments {
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

/**
 * Adam for one parameter shard, the exact update libtorch's `torch::optim::Adam` makes (the engine's
 * optimizer), so a parameter server steps its slice as a single process would step the whole model:
 *   m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  p ← p − (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + ε).
 * Moments are float32 like torch's; arithmetic per element is double, rounded on store.
 */
export class ShardAdam {
  readonly m: Float32Array;
  readonly v: Float32Array;
  step = 0;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly epsilon: number;

  constructor(
    readonly params: Float32Array,
    config: AdamMoments = {},
  ) {
    this.beta1 = config.beta1 ?? 0.9;
    this.beta2 = config.beta2 ?? 0.999;
    this.epsilon = config.epsilon ?? 1e-7;
    this.m = new Float32Array(params.length);
    this.v = new Float32Array(params.length);
  }

  /** Applies one step with gradient `grad` (same length as the shard) at learning rate `lr`. */
  apply(grad: Float32Array, lr: number): void {
    const { params: p, m, v, beta1, beta2, epsilon } = this;
    if (grad.length !== p.length)
      throw new RangeError(`gradient has ${grad.length} values, shard ${p.length}`);
    this.step++;
    const stepSize = lr / (1 - beta1 ** this.step);
    const bc2Sqrt = Math.sqrt(1 - beta2 ** this.step);
    const a1 = 1 - beta1;
    const a2 = 1 - beta2;
    for (let i = 0; i < p.length; i++) {
      const g = grad[i] as number;
      m[i] = beta1 * (m[i] as number) + a1 * g;
      v[i] = beta2 * (v[i] as number) + a2 * g * g;
      // Read back the float32-rounded moments, as torch's later ops do.
      p[i] =
        (p[i] as number) - (stepSize * (m[i] as number)) / (Math.sqrt(v[i] as number) / bc2Sqrt + epsilon);
    }
  }
}
