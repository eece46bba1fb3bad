import { resolve } from 'node:path';
import { CLASS_NAMES } from '../../../data/index.js';
import { createModel, threadBudget } from '../../../engine/index.js';
import { MODEL_NAMES, savePackage } from '../../../models/index.js';
import {
  DEFAULT_PREEMPT_GRACE_MS,
  earlyStopping,
  fit,
  packageMetrics,
  printLr,
  readClusterEnv,
  type Callback,
} from '../../../train/index.js';
import { parseFlags, UsageError, type Command } from '../../command.js';
import { cacheOption, dataSourceOptions } from '../../data-source-flags.js';
import { fmt } from '../../output.js';
import { runAsWorker, runLauncher } from './distributed.js';
import { trainFlags } from './flags.js';
import { checkpointDirOf, jobFromFlags, lineageOf, progressCallback, warnSkipped } from './job.js';
import {
  finishedAfterPreemption,
  reportPreempted,
  resumesAfterPreemption,
  watchPreemption,
} from './preempt.js';
import { runParameterServer } from './ps.js';

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
    'SIGTERM preempts: a checkpoint at the next step boundary, exit 75, and the same command resumes there.',
    'Elastic jobs resize while running: {"workers": N} in --control-file; each worker keeps --batch-size',
    "(the global batch follows the group) and the learning rate stays the schedule's.",
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
      description: 'elastic: admit workers that join later or are asked for (--control-file), up to X',
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
    'preempt-grace': {
      type: 'string',
      valueName: 'SECONDS',
      defaultText: String(DEFAULT_PREEMPT_GRACE_MS / 1000),
      description:
        'SIGTERM preempts: checkpoint at the next step boundary within this, exit 75; the same command resumes',
    },
    'control-file': {
      type: 'string',
      valueName: 'FILE',
      defaultText: '<out>.control.json',
      description:
        'elastic: write {"workers": N} here (then SIGUSR2, or wait 0.5 s) to grow or shrink the running job',
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
    const checkpointDir = checkpointDirOf(f, global.workspace, outDir);
    const resume = resumesAfterPreemption(out, checkpointDir) || f.resume;
    const preemption = watchPreemption(out, checkpointDir, f['preempt-grace'] * 1000);
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
        checkpoint: { dir: checkpointDir, everySteps: f['checkpoint-every'] },
        resume,
        preempt: preemption.signal,
        onCheckpointSkipped: (s) => warnSkipped(out, s),
      });
      if (result.preempted) {
        const record = {
          at: new Date().toISOString(),
          reason: 'SIGTERM',
          checkpoint: result.lastCheckpoint ?? null,
          checkpointed: true,
          ...result.preempted,
        };
        return await reportPreempted(out, checkpointDir, record);
      }
      finishedAfterPreemption(checkpointDir);
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
      preemption.dispose();
      await model.dispose();
    }
  },
};
