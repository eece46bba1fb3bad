import { EngineError, fromNative } from './errors.js';
import { loadAddon, type Labels, type NativeModel, type NativeOptimizer } from './native.js';
import { checkLearningRate, DEFAULT_OPTIMIZER, resolveOptimizer, type OptimizerConfig } from './optimizer.js';
import { planModel, type ModelPlan, type SummaryRow } from './shapes.js';
import { parseModelSpec } from './spec.js';
import {
  parameterLayout,
  tensorSize,
  type NamedTensor,
  type ParameterSlot,
  type TensorSpec,
} from './tensors.js';

/** Loss (mean over the batch) and accuracy counts of one training batch. */
export interface StepResult {
  loss: number;
  correct: number;
  count: number;
}

/** Mean loss and accuracy over a whole evaluation set. */
export interface EvalResult {
  loss: number;
  accuracy: number;
  count: number;
}

/**
 * Weights and buffers, Keras-named ("conv2d_1/kernel", "batch_normalization/moving_mean"). Layouts are
 * torch's: conv kernels [out, in, h, w], dense kernels [out, in] (inputs in Keras NHWC flatten order).
 */
export interface ModelState {
  tensors: NamedTensor[];
}

/** Optimizer hyper-parameters and slots ("<param>/exp_avg", "<param>/exp_avg_sq", "<param>/step"). */
export interface OptimizerState {
  config: OptimizerConfig;
  tensors: NamedTensor[];
}

export interface CreateModelOptions {
  /** Seeds weight initialisation and dropout; default: random. */
  seed?: number;
}

function checkSeed(seed: unknown): number {
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0) {
    throw new EngineError('ENGINE_BAD_INPUT', `seed must be a non-negative integer (got ${String(seed)})`);
  }
  return seed;
}

function checkFloats(value: unknown, what: string, length: number): Float32Array {
  if (!(value instanceof Float32Array))
    throw new EngineError('ENGINE_BAD_INPUT', `${what} must be a Float32Array`);
  if (value.length !== length) {
    throw new EngineError('ENGINE_BAD_INPUT', `${what} has ${value.length} values, expected ${length}`);
  }
  return value;
}

function toConfig(o: NativeOptimizer): OptimizerConfig {
  return o.type === 'sgd'
    ? { type: 'sgd', learningRate: o.learningRate, momentum: o.momentum }
    : { type: 'adam', learningRate: o.learningRate, beta1: o.beta1, beta2: o.beta2, epsilon: o.epsilon };
}

/**
 * A sequential network living in libtorch. Heavy methods run off the event loop and are queued, so calls
 * on one model execute one at a time in call order. Do not modify arrays passed in until the call settles.
 */
export class Model {
  /** Keras "Total params" (trainable + batch-norm moving statistics). */
  readonly paramCount: number;
  /** Length of getParameters()/getGradients(). */
  readonly trainableParamCount: number;
  /** Per-example input shape, NHWC. */
  readonly inputShape: readonly number[];
  readonly numClasses: number;
  /** Every weight and buffer in getState() order, with whether it is trainable. */
  readonly stateSpec: readonly TensorSpec[];
  /** The trainable tensors in getParameters()/getGradients() order, each with its element count. */
  readonly parameterLayout: readonly ParameterSlot[];
  private readonly plan: ModelPlan;
  private readonly inputSize: number;
  private native: NativeModel | undefined;
  private optimizer: NativeOptimizer;
  private tail: Promise<unknown> = Promise.resolve();

  /** Use createModel(). */
  constructor(plan: ModelPlan, native: NativeModel) {
    this.plan = plan;
    this.native = native;
    this.paramCount = plan.paramCount;
    this.trainableParamCount = plan.trainableParamCount;
    this.inputShape = plan.inputShape;
    this.numClasses = plan.numClasses;
    this.inputSize = tensorSize(plan.inputShape);
    this.stateSpec = native.stateSpec();
    this.parameterLayout = parameterLayout(this.stateSpec);
    if (native.stateCount() !== plan.paramCount || native.trainableCount() !== plan.trainableParamCount) {
      throw new EngineError(
        'ENGINE_NATIVE',
        `native parameter count ${native.stateCount()} (${native.trainableCount()} trainable) disagrees with ` +
          `shape inference ${plan.paramCount} (${plan.trainableParamCount} trainable)`,
      );
    }
    this.optimizer = resolveOptimizer(DEFAULT_OPTIMIZER);
  }

  /** Keras-style summary rows (one per layer after the input). */
  summary(): SummaryRow[] {
    return this.plan.rows.map((r) => ({ ...r, outputShape: [...r.outputShape] }));
  }

  /** Replaces the optimizer (and its slots). New models start with Adam, learning rate 0.001. */
  async setOptimizer(config: OptimizerConfig): Promise<void> {
    const resolved = resolveOptimizer(config);
    return this.run((n) => {
      n.setOptimizer(resolved);
      this.optimizer = resolved;
    });
  }

  /** Changes the learning rate from the next optimizer step on, keeping the optimizer's slots. */
  async setLearningRate(lr: number): Promise<void> {
    const rate = checkLearningRate(lr);
    return this.run((n) => {
      n.setLearningRate(rate);
      this.optimizer = { ...this.optimizer, learningRate: rate };
    });
  }

  /** The learning rate of the last applied optimizer setting. */
  getLearningRate(): number {
    return this.optimizer.learningRate;
  }

  /** Reseeds the model's generator (dropout masks from now on). */
  async manualSeed(seed: number): Promise<void> {
    const s = checkSeed(seed);
    return this.run((n) => n.manualSeed(s));
  }

  /** Forward (train mode), sparse categorical cross-entropy, backward and one optimizer step. */
  async trainStep(images: Float32Array, labels: Labels): Promise<StepResult> {
    this.checkBatch(images, labels);
    return this.run((n) => n.trainStep(images, labels));
  }

  /** Forward and backward only; replaces the gradients, which stay for getGradients/applyGradients. */
  async forwardBackward(images: Float32Array, labels: Labels): Promise<StepResult> {
    this.checkBatch(images, labels);
    return this.run((n) => n.forwardBackward(images, labels));
  }

  /** All gradients flattened in parameter order (zeros where none were computed). */
  getGradients(): Promise<Float32Array> {
    return this.run((n) => n.getGradients());
  }

  /** Overwrites the gradients (same layout as getGradients), e.g. after an allreduce. */
  async setGradients(flat: Float32Array): Promise<void> {
    checkFloats(flat, 'gradients', this.trainableParamCount);
    return this.run((n) => n.setGradients(flat));
  }

  /** One optimizer step with the current gradients, then clears them. */
  applyGradients(): Promise<void> {
    return this.run((n) => n.applyGradients());
  }

  /** Mean loss and accuracy in eval mode, without gradients, in batches of `batchSize`. */
  async evaluate(images: Float32Array, labels: Labels, batchSize = 256): Promise<EvalResult> {
    this.checkBatch(images, labels);
    this.checkBatchSize(batchSize);
    const r = await this.run((n) => n.evaluate(images, labels, batchSize));
    return { loss: r.loss / r.count, accuracy: r.correct / r.count, count: r.count };
  }

  /** Class probabilities, N x numClasses row-major (softmax applied when the model ends in softmax). */
  async predict(images: Float32Array, batchSize = 256): Promise<Float32Array> {
    if (!(images instanceof Float32Array))
      throw new EngineError('ENGINE_BAD_INPUT', 'images must be a Float32Array');
    if (images.length === 0 || images.length % this.inputSize !== 0) {
      throw new EngineError(
        'ENGINE_BAD_INPUT',
        `images has ${images.length} values, not a positive multiple of ${this.inputSize} (${this.inputShape.join('x')})`,
      );
    }
    this.checkBatchSize(batchSize);
    return this.run((n) => n.predict(images, this.numClasses, batchSize));
  }

  /** Trainable parameters flattened in the same order as getGradients(). */
  getParameters(): Promise<Float32Array> {
    return this.run((n) => n.getParameters());
  }

  /** Overwrites the trainable parameters (layout of getParameters()). */
  async setParameters(flat: Float32Array): Promise<void> {
    checkFloats(flat, 'parameters', this.trainableParamCount);
    return this.run((n) => n.setParameters(flat));
  }

  /** A copy of all weights and buffers. */
  async getState(): Promise<ModelState> {
    return { tensors: await this.run((n) => n.getState()) };
  }

  /** Loads weights and buffers; names and shapes must match this model exactly. */
  async setState(state: ModelState): Promise<void> {
    const tensors = state?.tensors;
    if (!Array.isArray(tensors)) throw new EngineError('ENGINE_BAD_INPUT', 'state.tensors must be an array');
    const byName = new Map(tensors.map((t) => [t?.name, t]));
    for (const want of this.stateSpec) {
      const got = byName.get(want.name);
      if (!got) throw new EngineError('ENGINE_BAD_INPUT', `state is missing tensor '${want.name}'`);
      if (got.shape?.join(',') !== want.shape.join(',')) {
        throw new EngineError(
          'ENGINE_BAD_INPUT',
          `state tensor '${want.name}' has shape [${String(got.shape)}], expected [${want.shape.join(', ')}]`,
        );
      }
      checkFloats(got.data, `state tensor '${want.name}'`, tensorSize(want.shape));
    }
    const extra = tensors.filter((t) => !this.stateSpec.some((s) => s.name === t?.name));
    if (extra.length > 0 || byName.size !== tensors.length) {
      const names = extra.map((t) => t?.name).join(', ');
      throw new EngineError(
        'ENGINE_BAD_INPUT',
        `state has unknown or repeated tensors: ${names || '(repeated)'}`,
      );
    }
    return this.run((n) => n.setState(tensors));
  }

  /** Optimizer config (with the current learning rate) and slots, for an exact checkpoint resume. */
  async getOptimizerState(): Promise<OptimizerState> {
    const tensors = await this.run((n) => n.getOptimizerState());
    return { config: toConfig(this.optimizer), tensors };
  }

  /** Recreates the optimizer from `state.config` and loads its slots. */
  async setOptimizerState(state: OptimizerState): Promise<void> {
    const resolved = resolveOptimizer(state?.config);
    if (!Array.isArray(state.tensors))
      throw new EngineError('ENGINE_BAD_INPUT', 'state.tensors must be an array');
    for (const t of state.tensors) {
      const size = Array.isArray(t?.shape) ? tensorSize(t.shape) : -1;
      checkFloats(t?.data, `optimizer tensor '${String(t?.name)}'`, size);
    }
    return this.run((n) => {
      n.setOptimizer(resolved);
      this.optimizer = resolved;
      return n.setOptimizerState(state.tensors);
    });
  }

  /** Frees the native model after queued calls finish; later calls reject with ENGINE_DISPOSED. */
  dispose(): Promise<void> {
    const done = this.run((n) => n.dispose());
    this.native = undefined;
    return done;
  }

  private checkBatch(images: Float32Array, labels: Labels): void {
    if (!(images instanceof Float32Array))
      throw new EngineError('ENGINE_BAD_INPUT', 'images must be a Float32Array');
    if (!(labels instanceof Int32Array || labels instanceof Uint8Array)) {
      throw new EngineError('ENGINE_BAD_INPUT', 'labels must be an Int32Array or Uint8Array');
    }
    const n = labels.length;
    if (n === 0) throw new EngineError('ENGINE_BAD_INPUT', 'batch is empty (0 labels)');
    if (images.length !== n * this.inputSize) {
      throw new EngineError(
        'ENGINE_BAD_INPUT',
        `images has ${images.length} values, expected ${n} labels x ${this.inputSize} (${this.inputShape.join('x')})` +
          ` = ${n * this.inputSize}`,
      );
    }
    for (let i = 0; i < n; i++) {
      const y = labels[i] as number;
      if (y < 0 || y >= this.numClasses) {
        throw new EngineError('ENGINE_BAD_INPUT', `labels[${i}] is ${y}, outside [0, ${this.numClasses})`);
      }
    }
  }

  private checkBatchSize(batchSize: number): void {
    if (!Number.isInteger(batchSize) || batchSize <= 0) {
      throw new EngineError('ENGINE_BAD_INPUT', `batchSize must be a positive integer (got ${batchSize})`);
    }
  }

  // Serialises calls on this model in call order; the native side also holds a per-model mutex.
  private run<T>(fn: (n: NativeModel) => T | Promise<T>): Promise<T> {
    const native = this.native;
    const result = this.tail.then(async () => {
      if (!native) throw new EngineError('ENGINE_DISPOSED', 'model was disposed');
      try {
        return await fn(native);
      } catch (error) {
        throw fromNative(error);
      }
    });
    this.tail = result.catch(() => undefined);
    return result;
  }
}

/** Builds a model from a (validated here) spec; weights are Keras-initialised from `seed`. */
export function createModel(spec: unknown, options: CreateModelOptions = {}): Model {
  const plan = planModel(parseModelSpec(spec));
  const seed = checkSeed(options.seed ?? Math.floor(Math.random() * 2 ** 32));
  const addon = loadAddon();
  let native: NativeModel;
  try {
    native = new addon.NativeModel(plan.lowered, seed);
  } catch (error) {
    throw fromNative(error);
  }
  return new Model(plan, native);
}
