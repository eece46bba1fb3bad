import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

import { EngineError } from './errors.js';
import type { LoweredModel } from './shapes.js';

/** Labels as class indices. */
export type Labels = Int32Array | Uint8Array;

export interface NativeStepResult {
  loss: number;
  correct: number;
  count: number;
}

export interface NativeTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface NativeOptimizer {
  type: 'adam' | 'sgd';
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  momentum: number;
}

/** The addon's model object (native/src/addon.cc ModelWrap). Async methods run on the libuv pool. */
export interface NativeModel {
  trainableCount(): number;
  stateCount(): number;
  stateSpec(): Array<{ name: string; shape: number[]; trainable: boolean }>;
  setOptimizer(config: NativeOptimizer): void;
  setLearningRate(lr: number): void;
  manualSeed(seed: number): void;
  trainStep(images: Float32Array, labels: Labels): Promise<NativeStepResult>;
  forwardBackward(images: Float32Array, labels: Labels): Promise<NativeStepResult>;
  getGradients(): Promise<Float32Array>;
  setGradients(flat: Float32Array): Promise<void>;
  applyGradients(): Promise<void>;
  /** `loss` is the sum over examples. */
  evaluate(images: Float32Array, labels: Labels, batchSize: number): Promise<NativeStepResult>;
  predict(images: Float32Array, numClasses: number, batchSize: number): Promise<Float32Array>;
  getParameters(): Promise<Float32Array>;
  setParameters(flat: Float32Array): Promise<void>;
  getState(): Promise<NativeTensor[]>;
  setState(tensors: Array<{ name: string; data: Float32Array }>): Promise<void>;
  getOptimizerState(): Promise<NativeTensor[]>;
  setOptimizerState(tensors: Array<{ name: string; data: Float32Array }>): Promise<void>;
  dispose(): void;
}

/** Rendezvous store client (native/src/store.cc). Every call may block on the network, so all are async. */
export interface NativeStore {
  port(): number;
  set(key: string, value: string): Promise<void>;
  get(key: string, timeoutMs?: number): Promise<string>;
  add(key: string, delta: number): Promise<number>;
  check(keys: string[]): Promise<boolean>;
  compareSet(key: string, expected: string, desired: string): Promise<string>;
  deleteKey(key: string): Promise<boolean>;
}

/** c10d ProcessGroupGloo. */
export interface NativeProcessGroup {
  allreduce(data: Float32Array, op: 'sum' | 'avg' | 'min' | 'max', bucketElements: number): Promise<void>;
  broadcast(data: Float32Array, root: number): Promise<void>;
  barrier(): Promise<void>;
  close(): Promise<void>;
}

export interface NativeAddon {
  NativeModel: new (def: LoweredModel, seed: number) => NativeModel;
  NativeStore: {
    connect(o: { host: string; port: number; secret: string; timeoutMs: number }): Promise<NativeStore>;
  };
  NativeProcessGroup: {
    create(
      store: NativeStore,
      o: { prefix: string; rank: number; size: number; timeoutMs: number; iface?: string; hostname?: string },
    ): Promise<NativeProcessGroup>;
  };
  setNumThreads(n: number): void;
  getNumThreads(): number;
  /** libjpeg-turbo decode to one channel (native/src/image.cc). */
  decodeJpegGray(
    bytes: Uint8Array,
    maxSide: number,
    maxPixels: number,
  ): { width?: number; height?: number; pixels?: Uint8Array; error?: string };
  /** The same decode as async work on the libuv pool. */
  decodeJpegGrayAsync(
    bytes: Uint8Array,
    maxSide: number,
    maxPixels: number,
  ): Promise<{ width?: number; height?: number; pixels?: Uint8Array; error?: string }>;
  torchVersion: string;
}

// dist/src/engine/native.js -> <repo>/native/...; src/engine/native.ts (run from source) -> same place.
const CANDIDATES = [
  '../../../native/build/Release/distml_native.node',
  '../../native/build/Release/distml_native.node',
];

let cached: NativeAddon | undefined;

/** Loads the compiled addon once; throws ENGINE_NOT_BUILT with build instructions when it is missing. */
export function loadAddon(): NativeAddon {
  if (!cached) cached = loadAddonFrom(CANDIDATES.map((rel) => fileURLToPath(new URL(rel, import.meta.url))));
  return cached;
}

/** Loads the first existing addon among `paths` (absolute). */
export function loadAddonFrom(paths: string[]): NativeAddon {
  const found = paths.find((p) => existsSync(p));
  if (!found) {
    throw new EngineError(
      'ENGINE_NOT_BUILT',
      `native engine not built (looked for ${paths[0]}). Run \`make build\`, which needs libtorch: ` +
        '`apt-get install libtorch-dev` (or set LIBTORCH=/path/to/libtorch).',
    );
  }
  try {
    return createRequire(import.meta.url)(found) as NativeAddon;
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new EngineError(
      'ENGINE_NOT_BUILT',
      `native engine at ${found} failed to load (${detail}). Rebuild with \`make build\`; it needs libtorch: ` +
        '`apt-get install libtorch-dev` (or set LIBTORCH=/path/to/libtorch).',
      { cause: error },
    );
  }
}

/** The libtorch version the native addon was built against (e.g. `1.13.1`); loads the addon. */
export function torchVersion(): string {
  return loadAddon().torchVersion;
}
