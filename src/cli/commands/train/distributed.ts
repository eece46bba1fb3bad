import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { threadBudget } from '../../../engine/index.js';
import {
  controlFileFor,
  latestCheckpoint,
  launchWorkers,
  PREEMPTED_EXIT_CODE,
  runWorker,
  type ClusterEnv,
  type DistributedResult,
  type TrainEvent,
} from '../../../train/index.js';
import { UsageError, type CommandContext } from '../../command.js';
import { fmt } from '../../output.js';
import { childArgv, relayProgress } from '../../relaunch.js';
import { noticeWait } from '../../wait-notice.js';
import { checkpointDirOf, jobFromFlags, lineageOf, progressCallback } from './job.js';
import type { TrainFlags } from './flags.js';
import { envValue, processEnv } from '../../env.js';
import {
  finishedAfterPreemption,
  reportPreempted,
  resumesAfterPreemption,
  watchPreemption,
} from './preempt.js';

/** Flags that configure the launcher itself and are not passed on to the workers it starts. */
const LAUNCHER_ONLY = [
  'workers',
  'min-workers',
  'max-workers',
  'master-port',
  'master-addr',
  'max-restarts',
  'preempt-grace',
  'control-file',
];

/** `distml train --workers N`: start the group and report what it did. */
export async function runLauncher(ctx: CommandContext, f: TrainFlags): Promise<number | void> {
  const { out, argv, global } = ctx;
  refuseSingleNodeOnly(f);
  const workers = f.workers ?? f['min-workers'] ?? 1;
  const min = f['min-workers'] ?? workers;
  const max = f['max-workers'] ?? Math.max(workers, min);
  if (min > workers || workers > max) {
    throw new UsageError(
      `need --min-workers <= --workers <= --max-workers (got ${min} <= ${workers} <= ${max})`,
    );
  }
  const threads = f.threads ?? Math.max(1, Math.floor(threadBudget(processEnv()) / workers));
  const cli = fileURLToPath(new URL('../../main.js', import.meta.url));
  const bar = { current: out.progress('train') };
  const outDir = resolve(f.out);
  const checkpointDir = checkpointDirOf(f, global.workspace, outDir);
  // A job preempted before starts its workers with --resume: rank 0 restores the preemption's checkpoint.
  const resume = resumesAfterPreemption(out, checkpointDir) && !f.resume ? ['--resume'] : [];
  const result = await launchWorkers({
    command: [
      process.execPath,
      cli,
      '--workspace',
      global.workspace,
      ...childArgv(argv, LAUNCHER_ONLY),
      ...resume,
      '--threads',
      String(threads),
    ],
    preemptGraceMs: f['preempt-grace'] * 1000,
    controlFile: resolve(f['control-file'] ?? controlFileFor(outDir)),
    workers,
    minWorkers: min,
    maxWorkers: max,
    threadsPerWorker: threads,
    port: f['master-port'],
    listenHost: f['master-addr'],
    // A job spanning hosts shares one secret, set in every host's environment; otherwise a fresh one.
    secret: envValue('DISTML_JOB_SECRET') || undefined,
    heartbeatTimeoutMs: f['heartbeat-timeout'] * 1000,
    maxRestarts: f['max-restarts'],
    onEvent: (e) => (out.interactive ? out.info(describeEvent(e)) : out.event(e)),
    onWorkerLine: (line) =>
      relayProgress(out, line, bar, f.epochs, (e) => {
        if (e['event'] === 'generation' || e['event'] === 'step-abandoned')
          out.info(describeEvent(e as unknown as TrainEvent));
      }),
  });
  if ('preempted' in result) {
    const p = result.preempted;
    const checkpoint = p.checkpoint ?? (await latestCheckpoint(checkpointDir)) ?? null;
    const record = { ...p, at: new Date().toISOString(), checkpoint };
    return reportPreempted(out, checkpointDir, record);
  }
  finishedAfterPreemption(checkpointDir);
  out.result({ model: f.model, workersRequested: workers, ...result }, () => summary(f.model, result));
}

/** One line for people per training event; exhaustive, so a new event cannot go undescribed. */
function describeEvent(e: TrainEvent): string {
  switch (e.event) {
    case 'rendezvous':
      return `rendezvous store at ${e.masterAddr}:${e.masterPort}`;
    case 'membership':
      return `group generation ${e.generation}: ${e.from} -> ${e.to} workers (${e.reason})`;
    case 'worker-killed':
      return `killed worker ${e.worker}: ${e.reason}`;
    case 'worker-replaced':
      return `replacing worker ${e.worker} with ${String(e.by)}: ${e.reason}`;
    case 'worker-not-replaced':
      return `worker ${e.worker}: ${e.reason}`;
    case 'generation':
      return `formed group generation ${e.generation} as rank ${e.rank} of ${e.worldSize}`;
    case 'preempt-requested':
      return `preemption (${e.reason}): checkpointing at the next step boundary, within ${e.graceMs / 1000} s`;
    case 'preempt-grace-expired':
      return `no step boundary within ${e.graceMs / 1000} s of the preemption: stopping the workers`;
    case 'resize':
      return `resizing ${e.from} -> ${e.workers} workers`;
    case 'resize-refused':
      return `resize to ${e.workers} workers refused: ${e.reason}`;
    case 'worker-left':
      return `worker ${e.worker} left (asked to by a shrink)`;
    case 'worker-dismissed':
    case 'worker-error':
    case 'generation-failed':
    case 'checkpoint-skipped':
    case 'epoch-begin':
    case 'step-abandoned':
    case 'replica-mismatch':
      return JSON.stringify(e);
    default:
      return unknownEvent(e);
  }
}

/** The `never` check of an exhaustive describer. */
function unknownEvent(e: never): string {
  return `event ${JSON.stringify(e)}`;
}

export function summary(model: string, r: DistributedResult & { restarts?: number }): string {
  const changes = r.membershipChanges.map((c) => `  ${c.at} ${c.from} -> ${c.to}: ${c.reason}`);
  return [
    `trained ${model} on ${r.worldSizeAtEnd} workers at the end: ${r.epochs} epochs, ${r.steps} steps`,
    `test accuracy ${fmt(r.testAccuracy)}; ${Math.round(r.imagesPerSecond)} images/s`,
    ...(changes.length ? ['membership changes:', ...changes] : []),
    ...r.workers.map(
      (w) =>
        `  ${w.id}: ${w.steps} steps, compute ${w.computeSeconds.toFixed(1)} s, communication ${w.commSeconds.toFixed(1)} s, ${(w.bytesSent / 2 ** 20).toFixed(1)} MiB sent`,
    ),
    `model package: ${r.path}`,
  ].join('\n');
}

/** A worker process (started by the launcher, by hand, or by Kubeflow with MASTER_ADDR/… or TF_CONFIG). */
export async function runAsWorker(
  ctx: CommandContext,
  f: TrainFlags,
  cluster: ClusterEnv,
): Promise<number | void> {
  const { out, global } = ctx;
  refuseSingleNodeOnly(f);
  if (f.workers !== undefined && f.workers > 1)
    throw new UsageError(
      '--workers starts a group; a worker started with MASTER_ADDR/TF_CONFIG must not pass it',
    );
  const threads = f.threads ?? threadBudget(processEnv());
  const outDir = resolve(f.out);
  const { job, source } = await jobFromFlags(f, global.workspace, threads);
  const bar = progressCallback(out, f.epochs);
  const checkpointDir = checkpointDirOf(f, global.workspace, outDir);
  // No grace timer here: the launcher (or Kubernetes, for a static job) enforces the grace period.
  const preemption = watchPreemption(out, checkpointDir);
  const size = cluster.worldSize !== undefined ? ` (${cluster.worldSize} workers)` : '';
  const rendezvous = noticeWait(out, {
    what: () => `the rendezvous at ${cluster.masterAddr}:${cluster.masterPort}${size}`,
  });
  const result = await runWorker({
    ...job,
    cluster,
    checkpointDir,
    checkpointEvery: f['checkpoint-every'],
    // A static job (Kubeflow) restarted after preemption resumes on its own; the launcher passes --resume.
    resume: f.resume || (!cluster.elastic && resumesAfterPreemption(out, checkpointDir)),
    preempt: preemption.signal,
    outDir,
    commTimeoutMs: f['comm-timeout'] * 1000,
    heartbeatTimeoutMs: f['heartbeat-timeout'] * 1000,
    // Gloo's own variable (torch's contract): the interface a job spanning hosts talks over.
    iface: envValue('GLOO_SOCKET_IFNAME'),
    lineage: { ...lineageOf(job, source, f), batchSizePerWorker: f['batch-size'] },
    onStep: (l) => bar.onStepEnd?.(l),
    onEpoch: (l) => void bar.onEpochEnd?.(l),
    onEvent: (e) => {
      // The group has formed once a generation is joined (or training began): the wait is over.
      if (e.event === 'generation' || e.event === 'epoch-begin') rendezvous();
      out.event(e);
    },
  }).finally(() => {
    rendezvous();
    preemption.dispose();
  });
  if (result && 'preempted' in result) {
    const record = {
      ...result.preempted,
      at: new Date().toISOString(),
      reason: 'SIGTERM',
      checkpointed: true,
    };
    // A static job's chief records where the job stopped; in an elastic job the launcher does, and every
    // worker only says it stopped.
    if (record.checkpoint !== null && !cluster.elastic) return reportPreempted(out, checkpointDir, record);
    out.event({ event: 'worker-preempted', ...record });
    return PREEMPTED_EXIT_CODE;
  }
  if (result) out.result(result, () => summary(f.model, result));
  else if (!cluster.elastic)
    out.result({ role: 'worker', rank: cluster.rank }, () => `worker rank ${cluster.rank} done`);
}

function refuseSingleNodeOnly(f: TrainFlags): void {
  if (f['early-stopping']) {
    throw new UsageError(
      '--early-stopping works with one worker only (not with --workers or a cluster environment)',
    );
  }
}
