import { readdir, readFile, realpath, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  createDirAtomic,
  removeDirAtomic,
  replaceDirAtomic,
  writeFileAtomic,
  type DirFiles,
} from '../durable/index.js';
import { parseModelSpec, type Model, type ModelSpec, type OptimizerConfig } from '../engine/index.js';
import {
  buildManifest,
  decodeSafetensors,
  encodeSafetensors,
  f32Tensor,
  f32Values,
  MANIFEST,
  readPackage,
  sha256,
  WEIGHTS,
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
const CKPT = /^ckpt-\d+$/;

/**
 * Saves a checkpoint (model package + optimizer moments + trainer state) as `ckpt-<step>` under `dir`,
 * atomically and durably, then moves the `latest` pointer to it (also atomically) and prunes all but the
 * newest `keep`. Its model.json carries the weights' SHA-256, so a damaged checkpoint is never resumed from.
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
  const weights = encodeSafetensors(modelState.tensors.map((t) => f32Tensor(t.name, t.shape, t.data)));
  const manifest = buildManifest({
    name: input.name,
    spec: input.spec,
    tensors: modelState.tensors,
    classNames: input.classNames,
    metrics: {},
    lineage: { checkpointOf: input.name, globalStep: input.state.globalStep },
  });
  await writeCheckpointDir(path, {
    [MANIFEST]: `${JSON.stringify({ ...manifest, weightsSha256: sha256(weights) }, null, 2)}\n`,
    [WEIGHTS]: weights,
    [OPTIMIZER]: encodeSafetensors(
      opt.tensors.map((t) => f32Tensor(t.name, t.shape, t.data)),
      { config: JSON.stringify(opt.config) },
    ),
    [TRAINER]: `${JSON.stringify(input.state)}\n`,
  });
  await writeFileAtomic(join(dir, POINTER), name);
  await prune(dir, name, input.keep ?? 2);
  return path;
}

/** A new step's folder is created; the same step saved again (after a resume) replaces it with no gap. */
async function writeCheckpointDir(path: string, files: DirFiles): Promise<void> {
  try {
    await createDirAtomic(path, files);
  } catch (err) {
    // ENOTDIR: the step was replaced before, so its name is a symlink.
    if (!['EEXIST', 'ENOTEMPTY', 'ENOTDIR'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
    await replaceDirAtomic(path, files);
  }
}

async function prune(dir: string, current: string, keep: number): Promise<void> {
  const all = (await readdir(dir)).filter((f) => CKPT.test(f)).sort();
  const drop = all.filter((f) => f !== current).slice(0, Math.max(0, all.length - keep));
  for (const f of drop) {
    const p = join(dir, f);
    const real = await realpath(p).catch(() => p); // a replaced step is a symlink: remove its content too
    await removeDirAtomic(p);
    if (real !== p) await rm(real, { recursive: true, force: true });
  }
}

/** The checkpoint `latest` names, or undefined when `dir` has none (or the pointer is unreadable). */
export async function latestCheckpoint(dir: string): Promise<string | undefined> {
  try {
    const name = (await readFile(join(dir, POINTER), 'utf8')).trim();
    return CKPT.test(name) ? join(dir, name) : undefined;
  } catch {
    return undefined;
  }
}

/** Checkpoints to try when resuming: the one `latest` names first, then every other, newest first. */
async function resumeCandidates(dir: string): Promise<string[]> {
  const pointed = await latestCheckpoint(dir);
  const names = await readdir(dir).catch(() => [] as string[]);
  const others = names
    .filter((f) => CKPT.test(f))
    .sort()
    .reverse()
    .map((f) => join(dir, f))
    .filter((p) => p !== pointed);
  return pointed ? [pointed, ...others] : others;
}

/** A checkpoint passed over while resuming, and why. */
export interface SkippedCheckpoint {
  path: string;
  reason: string;
}

export interface ResumePoint {
  path: string;
  state: TrainerState;
  /** Newer checkpoints that did not validate (damaged, half-written by a crash), newest first. */
  skipped: SkippedCheckpoint[];
}

/**
 * Restores the newest checkpoint in `dir` that validates (weights digest, optimizer, trainer state) into
 * `model`, passing over damaged ones (each reported to `onSkip`). Undefined when `dir` holds no checkpoint.
 * Throws when a checkpoint was written for another model spec (another experiment's folder), or when none
 * validates.
 */
export async function resumeLatest(
  dir: string,
  model: Model,
  opts: { spec: ModelSpec; onSkip?: (s: SkippedCheckpoint) => void },
): Promise<ResumePoint | undefined> {
  const candidates = await resumeCandidates(dir);
  if (candidates.length === 0) return undefined;
  const skipped: SkippedCheckpoint[] = [];
  for (const path of candidates) {
    try {
      return { path, state: await restoreCheckpoint(path, model, opts.spec), skipped };
    } catch (err) {
      if (err instanceof TrainError && err.code === 'TRAIN_CHECKPOINT_MISMATCH') throw err;
      const s = { path, reason: (err as Error).message };
      skipped.push(s);
      opts.onSkip?.(s);
    }
  }
  throw new TrainError(
    'TRAIN_CHECKPOINT',
    `no checkpoint in ${dir} can be resumed from (${skipped.map((s) => s.reason).join('; ')}); delete the folder to start over`,
  );
}

/** A spec in one canonical text (keys sorted), so two equal specs compare equal however they were written. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    return `{${entries
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/**
 * Restores model weights and optimizer state from a checkpoint; returns the trainer state. With `spec`, a
 * checkpoint of another model is refused (TRAIN_CHECKPOINT_MISMATCH) before anything is restored.
 */
export async function restoreCheckpoint(path: string, model: Model, spec?: ModelSpec): Promise<TrainerState> {
  let pkg;
  try {
    pkg = await readPackage(path); // checks the weights against their recorded SHA-256
  } catch (err) {
    throw new TrainError('TRAIN_CHECKPOINT', `cannot resume from ${path}: ${(err as Error).message}`);
  }
  if (spec && canonical(pkg.manifest.spec) !== canonical(parseModelSpec(spec))) {
    throw new TrainError(
      'TRAIN_CHECKPOINT_MISMATCH',
      `${path} holds a checkpoint of another model spec than the one being trained; resume with the same --model and options, or pass another --checkpoint-dir (or delete ${path})`,
    );
  }
  try {
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
