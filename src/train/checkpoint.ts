import { randomBytes } from 'node:crypto';
import { readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Model, ModelSpec, OptimizerConfig } from '../engine/index.js';
import {
  buildManifest,
  decodeSafetensors,
  encodeSafetensors,
  f32Tensor,
  f32Values,
  MANIFEST,
  readPackage,
  WEIGHTS,
  writeDirAtomically,
} from '../models/index.js';
import type { EpochLog } from './callbacks.js';
import { TrainError } from './errors.js';

/** Where the loop stands: enough to continue exactly where it stopped. */
export interface TrainerState {
  /** Epoch in progress (0-based). */
  epoch: number;
  /** Steps already done in that epoch. */
  stepInEpoch: number;
  globalStep: number;
  seed: number;
  history: EpochLog[];
  /** Running sums of the epoch in progress. */
  epochSums: { loss: number; correct: number; count: number };
  /** Data position of a distributed job (its feed is a cursor over shuffled passes, not a step count). */
  cursor?: { pass: number; offset: number };
}

const POINTER = 'latest';
const OPTIMIZER = 'optimizer.safetensors';
const TRAINER = 'trainer.json';

/**
 * Saves a checkpoint (model package + optimizer moments + trainer state) as `ckpt-<step>` under `dir`,
 * atomically, then moves the `latest` pointer to it (also by rename) and prunes all but the newest `keep`.
 */
export async function saveCheckpoint(
  dir: string,
  input: {
    name: string;
    spec: ModelSpec;
    classNames: readonly string[];
    model: Model;
    state: TrainerState;
    keep?: number;
  },
): Promise<string> {
  const name = `ckpt-${String(input.state.globalStep).padStart(8, '0')}`;
  const path = join(dir, name);
  const [modelState, opt] = await Promise.all([input.model.getState(), input.model.getOptimizerState()]);
  const manifest = buildManifest({
    name: input.name,
    spec: input.spec,
    tensors: modelState.tensors,
    classNames: input.classNames,
    metrics: {},
    lineage: { checkpointOf: input.name, globalStep: input.state.globalStep },
  });
  await writeDirAtomically(path, {
    [MANIFEST]: `${JSON.stringify(manifest, null, 2)}\n`,
    [WEIGHTS]: encodeSafetensors(modelState.tensors.map((t) => f32Tensor(t.name, t.shape, t.data))),
    [OPTIMIZER]: encodeSafetensors(
      opt.tensors.map((t) => f32Tensor(t.name, t.shape, t.data)),
      { config: JSON.stringify(opt.config) },
    ),
    [TRAINER]: `${JSON.stringify(input.state)}\n`,
  });
  const tmp = join(dir, `.${POINTER}.tmp-${randomBytes(4).toString('hex')}`);
  await writeFile(tmp, name);
  await rename(tmp, join(dir, POINTER));
  await prune(dir, name, input.keep ?? 2);
  return path;
}

async function prune(dir: string, current: string, keep: number): Promise<void> {
  const all = (await readdir(dir)).filter((f) => /^ckpt-\d+$/.test(f)).sort();
  const drop = all.filter((f) => f !== current).slice(0, Math.max(0, all.length - keep));
  await Promise.all(drop.map((f) => rm(join(dir, f), { recursive: true, force: true })));
}

/** The newest checkpoint's path, or undefined when `dir` has none. */
export async function latestCheckpoint(dir: string): Promise<string | undefined> {
  try {
    const name = (await readFile(join(dir, POINTER), 'utf8')).trim();
    return /^ckpt-\d+$/.test(name) ? join(dir, name) : undefined;
  } catch {
    return undefined;
  }
}

/** Restores model weights and optimizer state from a checkpoint; returns the trainer state. */
export async function restoreCheckpoint(path: string, model: Model): Promise<TrainerState> {
  try {
    const pkg = await readPackage(path);
    await model.setState({ tensors: pkg.tensors });
    const optFile = join(path, OPTIMIZER);
    const { tensors, metadata } = decodeSafetensors(await readFile(optFile), optFile);
    const config = JSON.parse(metadata['config'] ?? '{}') as OptimizerConfig;
    await model.setOptimizerState({
      config,
      tensors: tensors.map((t) => ({ name: t.name, shape: t.shape, data: f32Values(t) })),
    });
    return JSON.parse(await readFile(join(path, TRAINER), 'utf8')) as TrainerState;
  } catch (err) {
    throw new TrainError(
      'TRAIN_CHECKPOINT',
      `cannot resume from ${path}: ${(err as Error).message}; delete it to start over`,
    );
  }
}
