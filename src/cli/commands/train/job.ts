import { createHash } from 'node:crypto';
import { basename, resolve } from 'node:path';
import {
  CLASS_NAMES,
  resolveFashionMnist,
  scaledSplit,
  type Dataset,
  type ResolvedSource,
  type ScaledExample,
} from '../../../data/index.js';
import { setNumThreads } from '../../../engine/index.js';
import { bookModelSpec, workspaceScoreKey } from '../../../models/index.js';
import { SCHEDULES, type Callback, type SkippedCheckpoint, type TrainingJob } from '../../../train/index.js';
import { fmt, type Output } from '../../output.js';
import type { TrainFlags } from './flags.js';

/** Sets libtorch's thread count and describes the job the training flags ask for (data loads lazily). */
export async function jobFromFlags(
  f: TrainFlags,
  workspace: string,
  threads: number,
): Promise<{ job: TrainingJob & { test: Dataset<ScaledExample> }; source: ResolvedSource }> {
  setNumThreads(threads);
  const source = await resolveFashionMnist({ source: f.source, urlBase: f['url-base'], workspace });
  const dataOpts = { cache: f.cache, workspace };
  return {
    source,
    job: {
      name: f.model,
      spec: bookModelSpec(f.model),
      classNames: CLASS_NAMES,
      train: scaledSplit('train', source.train, dataOpts),
      test: scaledSplit('test', source.test, dataOpts),
      epochs: f.epochs,
      stepsPerEpoch: f['steps-per-epoch'],
      batchSize: f['batch-size'],
      seed: f.seed,
      baseLr: f.lr,
      schedule: SCHEDULES[f['lr-schedule']],
      scoreKey: workspaceScoreKey(workspace),
    },
  };
}

/** Where a model package's data came from and how it was trained (recorded in its model.json). */
export function lineageOf(
  job: TrainingJob & { test: Dataset<ScaledExample> },
  source: ResolvedSource,
  f: TrainFlags,
): Record<string, unknown> {
  return {
    dataFingerprint: job.train.fingerprint,
    testFingerprint: job.test.fingerprint,
    source: source.kind,
    trainedAt: new Date().toISOString(),
    seed: f.seed,
    lrSchedule: f['lr-schedule'],
  };
}

/**
 * --checkpoint-dir, or a folder in the workspace keyed by the resolved output path, the model and the seed:
 * two experiments (say `a/cnn` and `b/cnn`) never share checkpoints. The readable part comes first.
 */
export function checkpointDirOf(f: TrainFlags, workspace: string, outDir: string): string {
  if (f['checkpoint-dir'] !== undefined) return resolve(f['checkpoint-dir']);
  const out = resolve(outDir);
  const key = createHash('sha256').update(`${out}\n${f.model}\n${f.seed}`).digest('hex').slice(0, 12);
  return resolve(workspace, 'checkpoints', `${basename(out) || f.model}-${f.model}-seed${f.seed}-${key}`);
}

/** Says, on stderr, that resuming passed over a checkpoint that does not validate (an event with --json). */
export function warnSkipped(out: Output, s: SkippedCheckpoint): void {
  if (out.json) out.event({ event: 'checkpoint-skipped', path: s.path, reason: s.reason });
  else out.info(`resume: skipping ${s.path}: ${s.reason}`);
}

/** Keras-like progress: a bar per epoch on a terminal, JSON lines otherwise. */
export function progressCallback(out: Output, epochs: number): Callback {
  let bar = out.progress('epoch');
  return {
    onEpochBegin(epoch) {
      bar = out.progress(`epoch ${epoch + 1}/${epochs}`);
    },
    onStepEnd(l) {
      const detail = `loss ${l.loss.toFixed(4)} acc ${l.accuracy.toFixed(4)} ${Math.round(l.imagesPerSecond)} img/s`;
      bar.update(l.step, l.stepsPerEpoch, detail, {
        epoch: l.epoch + 1,
        loss: l.loss,
        accuracy: l.accuracy,
        imagesPerSecond: l.imagesPerSecond,
      });
    },
    onEpochEnd(l) {
      if (out.interactive) {
        out.info(
          `epoch ${l.epoch + 1}/${epochs}: loss ${l.loss.toFixed(4)} acc ${l.accuracy.toFixed(4)} val_loss ${fmt(l.valLoss)} val_acc ${fmt(l.valAccuracy)} (${l.seconds.toFixed(1)} s)`,
        );
      } else out.event({ event: 'epoch', ...l, epoch: l.epoch + 1 });
    },
  };
}
