import { resolve } from 'node:path';
import { CLASS_NAMES } from '../../../data/index.js';
import { createModel, threadBudget } from '../../../engine/index.js';
import { savePackage } from '../../../models/index.js';
import {
  earlyStopping,
  fit,
  packageMetrics,
  printLr,
  readClusterEnv,
  type Callback,
} from '../../../train/index.js';
import { parseFlags, type Command } from '../../command.js';
import { fmt } from '../../output.js';
import { runAsWorker, runLauncher, summary as distributedSummary } from './distributed.js';
import { trainFlags } from './flags.js';
import { checkpointDirOf, jobFromFlags, lineageOf, progressCallback, warnSkipped } from './job.js';
import {
  finishedAfterPreemption,
  reportPreempted,
  resumesAfterPreemption,
  watchPreemption,
} from './preempt.js';
import { runParameterServer, summary as psSummary } from './ps.js';
import { processEnv } from '../../env.js';
import { runsHere, submitCommand, trainCores } from '../submit.js';

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
    "Submitted to the workspace's server (started on demand) as a one-step run: a scheduler job of --user in",
    '--queue at --priority (`distml jobs`); its progress and result are shown here, Ctrl-C stops it.',
    '--local trains in this process instead, unscheduled.',
  ].join('\n'),
  options: trainFlags.options,
  async run(ctx) {
    const { values, global, out } = ctx;
    const f = parseFlags(trainFlags, values);
    if (!runsHere(f)) {
      const workers = f['max-workers'] ?? f.workers ?? f['min-workers'] ?? 1;
      return submitCommand(ctx, {
        kind: 'train',
        flags: f,
        cores: trainCores(f.threads, workers),
        describe: describeTraining,
      });
    }
    if (f.strategy === 'parameter-server') return runParameterServer(ctx, f);
    const cluster = readClusterEnv(processEnv());
    if (cluster) return runAsWorker(ctx, f, cluster);
    if ((f.workers ?? 1) > 1 || f['min-workers'] !== undefined || f['max-workers'] !== undefined)
      return runLauncher(ctx, f);
    const threads = f.threads ?? threadBudget(processEnv());
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
      out.result(report, () => describeTraining(report));
    } finally {
      preemption.dispose();
      await model.dispose();
    }
  },
};

/** What `train` prints for people once a training ended (also when the workspace's server ran it). */
export function describeTraining(r: Record<string, unknown>): string {
  const model = String(r['model']);
  if (Array.isArray(r['servers'])) return psSummary(model, r as unknown as Parameters<typeof psSummary>[1]);
  if (Array.isArray(r['workers']))
    return distributedSummary(model, r as unknown as Parameters<typeof distributedSummary>[1]);
  const n = (k: string) => (typeof r[k] === 'number' ? (r[k] as number) : undefined);
  const params = n('params');
  return [
    `trained ${String(r['model'])}${params !== undefined ? ` (${params.toLocaleString('en-US')} params)` : ''}: ${n('epochs') ?? '?'} epochs, ${n('steps') ?? '?'} steps`,
    `test accuracy ${fmt(n('testAccuracy'))}, loss ${fmt(n('testLoss'))}; ${Math.round(n('imagesPerSecond') ?? 0)} images/s over ${(n('trainSeconds') ?? 0).toFixed(1)} s`,
    `model package: ${String(r['path'])}`,
  ].join('\n');
}
