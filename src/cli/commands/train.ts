import { createHash } from 'node:crypto';
import { basename, resolve } from 'node:path';
import { z } from 'zod';
import {
  CLASS_NAMES,
  resolveFashionMnist,
  scaledSplit,
  type Dataset,
  type ResolvedSource,
  type ScaledExample,
} from '../../data/index.js';
import { createModel, setNumThreads, threadBudget } from '../../engine/index.js';
import { bookModelSpec, MODEL_NAMES, savePackage, workspaceScoreKey } from '../../models/index.js';
import {
  earlyStopping,
  fit,
  packageMetrics,
  printLr,
  readClusterEnv,
  SCHEDULES,
  type Callback,
  type SkippedCheckpoint,
  type TrainingJob,
} from '../../train/index.js';
import { parseFlags, UsageError, type Command } from '../command.js';
import { cacheFlag, cacheOption, dataSourceFlags, dataSourceOptions } from '../data-source-flags.js';
import { fmt, type Output } from '../output.js';
import { runAsWorker, runLauncher } from './train-distributed.js';
import { runParameterServer } from './train-ps.js';

const positiveInt = (what = 'a positive integer') =>
  z.coerce
    .number({ message: `must be ${what}` })
    .int(`must be ${what}`)
    .positive(`must be ${what}`);

const trainFlags = z.object({
  ...dataSourceFlags,
  model: z.enum(MODEL_NAMES, { message: `must be one of ${MODEL_NAMES.join(', ')}` }),
  epochs: positiveInt(),
  'steps-per-epoch': positiveInt().optional(),
  'batch-size': positiveInt().default(64),
  threads: positiveInt().max(256, 'must be at most 256').optional(),
  seed: z.coerce
    .number({ message: 'must be an integer' })
    .int('must be an integer')
    .min(0, 'must be 0 or more')
    .default(1),
  lr: z.coerce
    .number({ message: 'must be a number' })
    .positive('must be positive')
    .max(10, 'must be at most 10')
    .default(0.001),
  'lr-schedule': z.enum(['book', 'constant'], { message: 'must be book or constant' }).default('book'),
  out: z
    .string({ message: 'is required: the directory for the trained model package' })
    .min(1, 'must name a directory'),
  'checkpoint-dir': z.string().min(1, 'must name a directory').optional(),
  'checkpoint-every': positiveInt().optional(),
  resume: z.boolean().default(false),
  'early-stopping': positiveInt('a positive integer (epochs of patience)').optional(),
  cache: cacheFlag,
  workers: positiveInt().max(64, 'must be at most 64').optional(),
  'min-workers': positiveInt().optional(),
  'max-workers': positiveInt().max(64, 'must be at most 64').optional(),
  'master-port': z.coerce
    .number({ message: 'must be a port number' })
    .int('must be a port number')
    .min(0, 'must be a port number')
    .max(65535, 'must be a port number')
    .default(0),
  'master-addr': z
    .string()
    .min(1, 'must name an address of this host')
    .refine(
      (a) => !['0.0.0.0', '::', '[::]'].includes(a),
      'must be an address of this host that the other hosts reach, not a wildcard: workers hand it to their peers',
    )
    .default('127.0.0.1'),
  'heartbeat-timeout': z.coerce
    .number({ message: 'must be a number of seconds' })
    .positive('must be positive')
    .default(10),
  'comm-timeout': z.coerce
    .number({ message: 'must be a number of seconds' })
    .positive('must be positive')
    .default(30),
  'max-restarts': z.coerce
    .number({ message: 'must be an integer' })
    .int('must be an integer')
    .min(0, 'must be 0 or more')
    .optional(),
  strategy: z
    .enum(['allreduce', 'parameter-server'], { message: 'must be allreduce or parameter-server' })
    .default('allreduce'),
  ps: positiveInt().max(64, 'must be at most 64').optional(),
  staleness: z.coerce
    .number({ message: 'must be an integer' })
    .int('must be an integer')
    .min(0, 'must be 0 or more')
    .optional(),
});

export type TrainFlags = z.infer<typeof trainFlags>;

export const train: Command = {
  path: ['train'],
  summary:
    "train one of the book's models (cnn, dropout, batch_norm) on Fashion-MNIST and save a model package",
  usage: '--model NAME --epochs E --out DIR',
  details: [
    'Adam, sparse categorical cross-entropy, accuracy; validation on the test split after every epoch.',
    'The book schedule decays the learning rate: 1e-3 for epochs 1-3, 1e-4 for 4-7, 1e-5 after.',
    'Checkpoints are written atomically at each epoch end (and every --checkpoint-every steps);',
    '--resume continues from the newest one exactly where it stopped.',
  ].join('\n'),
  options: {
    model: { type: 'string', valueName: MODEL_NAMES.join('|'), description: "which of the book's models" },
    epochs: { type: 'string', valueName: 'E', description: 'number of epochs' },
    'steps-per-epoch': {
      type: 'string',
      valueName: 'S',
      defaultText: 'one pass over the data',
      description: 'steps per epoch (the book uses 70)',
    },
    'batch-size': { type: 'string', valueName: 'N', defaultText: '64', description: 'examples per step' },
    threads: {
      type: 'string',
      valueName: 'T',
      defaultText: '$DISTML_THREADS, else all cores',
      description: 'libtorch intra-op threads',
    },
    seed: {
      type: 'string',
      valueName: 'N',
      defaultText: '1',
      description: 'seeds initialisation, dropout and shuffling',
    },
    lr: {
      type: 'string',
      valueName: 'RATE',
      defaultText: '0.001',
      description: 'base learning rate (used by --lr-schedule constant)',
    },
    'lr-schedule': {
      type: 'string',
      valueName: 'book|constant',
      defaultText: 'book',
      description: 'learning-rate schedule',
    },
    out: {
      type: 'string',
      valueName: 'DIR',
      description: 'where to write the model package (model.json + weights.safetensors)',
    },
    'checkpoint-dir': {
      type: 'string',
      valueName: 'DIR',
      defaultText: '<workspace>/checkpoints/<out name>-<model>-seed<seed>-<hash of the out path>',
      description: 'where checkpoints go',
    },
    'checkpoint-every': { type: 'string', valueName: 'N', description: 'also checkpoint every N steps' },
    resume: {
      type: 'boolean',
      description:
        'continue from the newest checkpoint that validates (damaged ones are skipped, with a note)',
    },
    'early-stopping': {
      type: 'string',
      valueName: 'P',
      description: 'stop after P epochs without validation-accuracy gain',
    },
    cache: cacheOption,
    workers: {
      type: 'string',
      valueName: 'N',
      description: 'data-parallel worker processes (allreduce over Gloo); global batch = N x --batch-size',
    },
    'min-workers': {
      type: 'string',
      valueName: 'M',
      defaultText: '--workers',
      description: 'elastic: keep training while at least M workers live',
    },
    'max-workers': {
      type: 'string',
      valueName: 'X',
      defaultText: '--workers',
      description: 'elastic: admit workers that join later, up to X',
    },
    'master-port': {
      type: 'string',
      valueName: 'PORT',
      defaultText: '0 (any free port)',
      description:
        "rendezvous store port (remote workers join with MASTER_ADDR/MASTER_PORT, DISTML_ELASTIC=1 and the job's DISTML_JOB_SECRET)",
    },
    'master-addr': {
      type: 'string',
      valueName: 'ADDR',
      defaultText: '127.0.0.1 (this host only)',
      description:
        'address the rendezvous store and parameter servers listen on; a job spanning hosts names one the ' +
        'other hosts reach (they also need the same DISTML_JOB_SECRET in their environment)',
    },
    'heartbeat-timeout': {
      type: 'string',
      valueName: 'SECONDS',
      defaultText: '10',
      description: 'a worker silent this long is dropped',
    },
    'comm-timeout': {
      type: 'string',
      valueName: 'SECONDS',
      defaultText: '30',
      description: 'bounds rendezvous and each allreduce (a stalled network is retried, then a failure)',
    },
    'max-restarts': {
      type: 'string',
      valueName: 'N',
      defaultText: '--workers',
      description:
        'replace a local worker that dies, N times per job; survivors go on, the newcomer gets their state',
    },
    strategy: {
      type: 'string',
      valueName: 'allreduce|parameter-server',
      defaultText: 'allreduce',
      description:
        'with --workers: synchronous allreduce over Gloo, or asynchronous workers around parameter servers',
    },
    ps: {
      type: 'string',
      valueName: 'P',
      defaultText: '1',
      description: 'parameter-server processes; each holds 1/P of the parameters and their Adam state',
    },
    staleness: {
      type: 'string',
      valueName: 'S',
      defaultText: 'unbounded',
      description: 'parameter server: a worker may run at most S steps ahead of the slowest',
    },
    ...dataSourceOptions,
  },
  async run(ctx) {
    const { values, global, out } = ctx;
    const f = parseFlags(trainFlags, values);
    if (f.strategy === 'parameter-server') return runParameterServer(ctx, f);
    if (f.ps !== undefined || f.staleness !== undefined) {
      throw new UsageError('--ps and --staleness configure --strategy parameter-server; add it or drop them');
    }
    const cluster = readClusterEnv(process.env);
    if (cluster) return runAsWorker(ctx, f, cluster);
    if ((f.workers ?? 1) > 1 || f['min-workers'] !== undefined || f['max-workers'] !== undefined)
      return runLauncher(ctx, f);
    const threads = f.threads ?? threadBudget();
    const outDir = resolve(f.out);
    const { job, source } = await jobFromFlags(f, global.workspace, threads);
    const spec = job.spec;
    const model = createModel(spec, { seed: f.seed });
    try {
      await model.setOptimizer({ type: 'adam', learningRate: f.lr });
      const stopper = f['early-stopping'] ? earlyStopping({ patience: f['early-stopping'] }) : undefined;
      const callbacks: Callback[] = [progressCallback(out, f.epochs), printLr((l) => out.info(l))];
      if (stopper) callbacks.push(stopper);
      const result = await fit({
        ...job,
        model,
        callbacks,
        checkpoint: { dir: checkpointDirOf(f, global.workspace, outDir), everySteps: f['checkpoint-every'] },
        resume: f.resume,
        onCheckpointSkipped: (s) => warnSkipped(out, s),
      });
      const state = await model.getState();
      const metrics = packageMetrics(result);
      await savePackage(outDir, {
        name: f.model,
        spec,
        tensors: state.tensors,
        classNames: CLASS_NAMES,
        metrics,
        scoreKey: job.scoreKey,
        lineage: {
          ...lineageOf(job, source, f),
          epochs: result.epochs,
          steps: result.steps,
          batchSize: f['batch-size'],
          threads,
          resumedFrom: result.resumedFrom ?? null,
        },
      });
      const report = {
        model: f.model,
        params: model.paramCount,
        epochs: result.epochs,
        steps: result.steps,
        batchSize: f['batch-size'],
        threads,
        trainSeconds: result.trainSeconds,
        imagesPerSecond: result.imagesPerSecond,
        testAccuracy: result.testAccuracy,
        testLoss: result.testLoss,
        stoppedEarly: result.stoppedEarly,
        resumedFrom: result.resumedFrom ?? null,
        skippedCheckpoints: result.skippedCheckpoints ?? [],
        checkpoint: result.lastCheckpoint ?? null,
        path: outDir,
        history: result.history,
      };
      out.result(report, () =>
        [
          `trained ${f.model} (${model.paramCount.toLocaleString('en-US')} params): ${result.epochs} epochs, ${result.steps} steps`,
          `test accuracy ${fmt(result.testAccuracy)}, loss ${fmt(result.testLoss)}; ${Math.round(result.imagesPerSecond)} images/s over ${result.trainSeconds.toFixed(1)} s`,
          `model package: ${outDir}`,
        ].join('\n'),
      );
    } finally {
      await model.dispose();
    }
  },
};

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
