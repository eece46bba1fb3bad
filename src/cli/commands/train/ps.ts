import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createModel, setNumThreads, threadBudget } from '../../../engine/index.js';
import { bookModelSpec } from '../../../models/index.js';
import { SCHEDULES } from '../../../train/index.js';
import {
  launchParameterServer,
  partitionParameters,
  readPsRole,
  runPsWorker,
  startShardServer,
  type Partition,
  type PsEvent,
  type PsResult,
  type PsRole,
  type TensorSlot,
} from '../../../train/index.js';
import type { CommandContext } from '../../command.js';
import { fmt } from '../../output.js';
import { childArgv, relayProgress } from '../../relaunch.js';
import { jobFromFlags, lineageOf, progressCallback } from './job.js';
import type { TrainFlags } from './flags.js';
import { envValue, processEnv } from '../../env.js';

/** Flags of the launcher that its role processes must not see (they get roles and threads by env). */
const LAUNCHER_ONLY = [
  'workers',
  'threads',
  'min-workers',
  'max-workers',
  'master-port',
  'master-addr',
  'max-restarts',
];

/**
 * `distml train --strategy parameter-server --ps P --workers N`: the launcher, or — when DISTML_PS_ROLE is
 * set (by the launcher, or by hand on other hosts) — one parameter server or one worker.
 */
export async function runParameterServer(ctx: CommandContext, f: TrainFlags): Promise<void> {
  const role = readPsRole(processEnv());
  if (role?.role === 'server') return runServerRole(ctx, f, role);
  if (role?.role === 'worker') return runWorkerRole(ctx, f, role);
  return runPsLauncher(ctx, f);
}

/** The model's trainable tensors in flat order (batch-norm moving statistics are not trainable). */
async function trainableTensors(f: TrainFlags): Promise<TensorSlot[]> {
  // The engine states which tensors are trainable, in getParameters() order: the flat vector's layout.
  const model = createModel(bookModelSpec(f.model), { seed: f.seed });
  try {
    return [...model.parameterLayout];
  } finally {
    await model.dispose();
  }
}

async function runPsLauncher(ctx: CommandContext, f: TrainFlags): Promise<void> {
  const { out, argv, global } = ctx;
  const servers = f.ps;
  const workers = f.workers ?? 1;
  const threads = f.threads ?? Math.max(1, Math.floor(threadBudget(processEnv()) / workers));
  const partition = partitionParameters(await trainableTensors(f), servers);
  out.info(describePartition(partition));
  const cli = fileURLToPath(new URL('../../main.js', import.meta.url));
  const bar = { current: out.progress('train') };
  const result = await launchParameterServer({
    command: [process.execPath, cli, '--workspace', global.workspace, ...childArgv(argv, LAUNCHER_ONLY)],
    servers,
    workers,
    partition,
    threadsPerWorker: threads,
    host: f['master-addr'],
    // A job spanning hosts shares one secret, set in every host's environment; otherwise a fresh one.
    secret: envValue('DISTML_JOB_SECRET') || undefined,
    env: { DISTML_PS_LAUNCHED: '1' },
    onEvent: (e) => (out.interactive ? undefined : out.event(e)),
    onChiefLine: (line) => relayProgress(out, line, bar, f.epochs),
  });
  out.result({ model: f.model, staleness: f.staleness ?? null, threadsPerWorker: threads, ...result }, () =>
    summary(f.model, result),
  );
}

async function runServerRole(
  ctx: CommandContext,
  f: TrainFlags,
  role: Extract<PsRole, { role: 'server' }>,
): Promise<void> {
  const { out } = ctx;
  setNumThreads(1);
  const running = await startShardServer({
    spec: bookModelSpec(f.model),
    seed: f.seed,
    partition: { shards: role.shards },
    index: role.index,
    workers: role.workers,
    host: role.host,
    port: role.port,
    baseLr: f.lr,
    schedule: SCHEDULES[f['lr-schedule']],
    staleness: f.staleness,
    secret: role.secret,
  });
  // Started by a launcher: its death closes our stdin, and we must not outlive it.
  const watchParent = envValue('DISTML_PS_LAUNCHED') === '1';
  const onParentGone = () => void running.stop();
  if (watchParent) {
    process.stdin.on('end', onParentGone);
    process.stdin.on('error', onParentGone);
    process.stdin.resume();
  }
  const onSignal = () => void running.stop();
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  out.event({ event: 'ps-listening', index: role.index, port: running.port } satisfies PsEvent);
  const stats = await running.stopped;
  process.removeListener('SIGTERM', onSignal);
  process.removeListener('SIGINT', onSignal);
  if (watchParent) process.stdin.destroy();
  out.result(
    { role: 'server', ...stats },
    () => `parameter server ${role.index} stopped after ${stats.version} updates`,
  );
}

async function runWorkerRole(
  ctx: CommandContext,
  f: TrainFlags,
  role: Extract<PsRole, { role: 'worker' }>,
): Promise<void> {
  const { out, global } = ctx;
  const threads = f.threads ?? threadBudget(processEnv());
  const { job, source } = await jobFromFlags(f, global.workspace, threads);
  const bar = progressCallback(out, f.epochs);
  const chief = role.rank === 0;
  const { metrics, result } = await runPsWorker({
    ...job,
    rank: role.rank,
    workers: role.workers,
    servers: role.servers,
    secret: role.secret,
    requestTimeoutMs: f['comm-timeout'] * 1000,
    partition: { shards: role.shards },
    test: chief ? job.test : undefined,
    outDir: resolve(f.out),
    lineage: {
      ...lineageOf(job, source, f),
      batchSizePerWorker: f['batch-size'],
      parameterServers: role.shards.length,
      staleness: f.staleness ?? null,
    },
    onStep: chief ? (l) => bar.onStepEnd?.(l) : undefined,
    onEpoch: chief ? (l) => void bar.onEpochEnd?.(l) : undefined,
  });
  if (result) out.result(result, () => summary(f.model, result));
  else out.result({ role: 'worker', metrics }, () => `worker ${role.rank} done: ${metrics.steps} steps`);
}

function describePartition(p: Partition): string {
  const lines = p.shards.map(
    (s) =>
      `  server ${s.index}: [${s.start}, ${s.end}) ${s.end - s.start} params: ` +
      s.pieces
        .map((x) => `${x.name}${x.from > 0 || x.to < tensorEnd(p, x.name) ? `[${x.from}:${x.to}]` : ''}`)
        .join(', '),
  );
  return [`parameter partition (imbalance ${p.imbalance.toFixed(3)}):`, ...lines].join('\n');
}

function tensorEnd(p: Partition, name: string): number {
  return Math.max(...p.shards.flatMap((s) => s.pieces.filter((x) => x.name === name).map((x) => x.to)));
}

export function summary(model: string, r: PsResult): string {
  const mib = (b: number) => (b / 2 ** 20).toFixed(1);
  return [
    `trained ${model} with ${r.workers.length} workers and ${r.servers.length} parameter servers: ${r.epochs} epochs, ${r.steps} updates`,
    `test accuracy ${fmt(r.testAccuracy)}; ${Math.round(r.imagesPerSecond)} images/s`,
    ...r.workers.map(
      (w) =>
        `  worker ${w.rank}: ${w.steps} steps, compute ${w.computeSeconds.toFixed(1)} s, communication ${w.commSeconds.toFixed(1)} s, pushed ${mib(w.bytesPushed)} MiB, pulled ${mib(w.bytesPulled)} MiB`,
    ),
    ...r.servers.map(
      (s) =>
        `  server ${s.index}: ${s.end - s.start} params, ${s.version} updates, mean staleness ${s.meanStaleness.toFixed(2)} (max ${s.maxStaleness}), ${s.blockedPulls} blocked pulls`,
    ),
    `model package: ${r.path}`,
  ].join('\n');
}
