import { EngineError } from './errors.js';
import type { NativeOptimizer } from './native.js';

/** Adam; defaults are Keras's (beta1 0.9, beta2 0.999, epsilon 1e-7). */
export interface AdamConfig {
  type: 'adam';
  learningRate: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

/** Stochastic gradient descent, optionally with (heavy-ball) momentum; default momentum 0. */
export interface SgdConfig {
  type: 'sgd';
  learningRate: number;
  momentum?: number;
}

export type OptimizerConfig = AdamConfig | SgdConfig;

/** The optimizer a new model starts with: Keras's `optimizer='adam'`. */
export const DEFAULT_OPTIMIZER: AdamConfig = { type: 'adam', learningRate: 0.001 };

function check(ok: boolean, field: string, what: string, got: unknown): void {
  if (!ok)
    throw new EngineError('ENGINE_BAD_INPUT', `optimizer.${field} must be ${what} (got ${String(got)})`);
}

/** Validates a learning rate (a finite number > 0). */
export function checkLearningRate(lr: unknown): number {
  check(typeof lr === 'number' && Number.isFinite(lr) && lr > 0, 'learningRate', 'a positive number', lr);
  return lr as number;
}

const unit = (v: unknown): boolean => typeof v === 'number' && v >= 0 && v < 1;

/** Validates an optimizer config and resolves defaults into the addon's flat form. */
export function resolveOptimizer(config: OptimizerConfig): NativeOptimizer {
  const c = config as unknown as Record<string, unknown>;
  check(c.type === 'adam' || c.type === 'sgd', 'type', "'adam' or 'sgd'", c.type);
  const learningRate = checkLearningRate(c.learningRate);
  if (config.type === 'sgd') {
    const momentum = config.momentum ?? 0;
    check(unit(momentum), 'momentum', 'a number in [0, 1)', momentum);
    return { type: 'sgd', learningRate, momentum, beta1: 0, beta2: 0, epsilon: 0 };
  }
  const { beta1 = 0.9, beta2 = 0.999, epsilon = 1e-7 } = config;
  check(unit(beta1), 'beta1', 'a number in [0, 1)', beta1);
  check(unit(beta2), 'beta2', 'a number in [0, 1)', beta2);
  check(typeof epsilon === 'number' && epsilon > 0, 'epsilon', 'a positive number', epsilon);
  return { type: 'adam', learningRate, beta1, beta2, epsilon, momentum: 0 };
}
