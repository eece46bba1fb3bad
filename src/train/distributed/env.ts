import { z } from 'zod';
import { TrainError } from '../errors.js';

/**
 * The per-job secret every store and parameter-server connection presents. Passed through the environment
 * only (never argv, never logs); a job's launcher makes a random one unless this is set in its environment.
 */
export const JOB_SECRET_ENV = 'DISTML_JOB_SECRET';

/** How a worker finds its group: torch's contract (MASTER_ADDR…) or the book's TFJob TF_CONFIG. */
export interface ClusterEnv {
  masterAddr: string;
  masterPort: number;
  /** Static jobs (Kubeflow PyTorchJob/TFJob): fixed size and rank. Elastic jobs: assigned per generation. */
  worldSize?: number;
  rank?: number;
  localRank: number;
  /** Started by (or joining) a distml elastic agent: DISTML_ELASTIC=1. */
  elastic: boolean;
  source: 'torch' | 'tf_config';
  /** The job's secret (JOB_SECRET_ENV). */
  secret: string;
}

const int = (name: string, min: number) =>
  z.coerce
    .number({ message: `${name} must be an integer` })
    .int(`${name} must be an integer`)
    .min(min, `${name} must be at least ${min}`);

const torchEnv = z.object({
  MASTER_ADDR: z.string().min(1, 'MASTER_ADDR must name the master host'),
  MASTER_PORT: int('MASTER_PORT', 1).max(65535, 'MASTER_PORT must be at most 65535'),
  WORLD_SIZE: int('WORLD_SIZE', 1).optional(),
  RANK: int('RANK', 0).optional(),
  LOCAL_RANK: int('LOCAL_RANK', 0).optional(),
});

const tfConfig = z.object({
  cluster: z.record(
    z.string(),
    z.array(z.string().regex(/^[^:]+:\d+$/, 'cluster addresses must be host:port')),
  ),
  task: z.object({ type: z.string(), index: z.number().int().min(0) }),
});

function fail(what: string): never {
  throw new TrainError(
    'TRAIN_BAD_ENV',
    `${what}; see README "Distributed training" for the environment contract`,
  );
}

/**
 * Reads the cluster contract from the environment, or undefined when none is set (a single-process run).
 * TF_CONFIG's chief (or first worker) is the master; ranks follow chief, then workers, in list order.
 */
export function readClusterEnv(env: NodeJS.ProcessEnv): ClusterEnv | undefined {
  const found = readCluster(env);
  if (!found) return undefined;
  const secret = env[JOB_SECRET_ENV];
  if (!secret)
    fail(
      `${JOB_SECRET_ENV} must be set to the job's secret (the launcher's, or one value shared by every ` +
        'worker of a job you start by hand, e.g. from `openssl rand -hex 32`): the store refuses workers without it',
    );
  return { ...found, secret };
}

function readCluster(env: NodeJS.ProcessEnv): Omit<ClusterEnv, 'secret'> | undefined {
  const elastic = env['DISTML_ELASTIC'] === '1';
  if (env['MASTER_ADDR'] !== undefined || env['MASTER_PORT'] !== undefined) {
    const r = torchEnv.safeParse(env);
    if (!r.success) fail(r.error.issues[0]?.message ?? 'bad torch environment');
    const e = r.data;
    if (!elastic && (e.WORLD_SIZE === undefined || e.RANK === undefined))
      fail('WORLD_SIZE and RANK must be set with MASTER_ADDR');
    if (e.RANK !== undefined && e.WORLD_SIZE !== undefined && e.RANK >= e.WORLD_SIZE) {
      fail(`RANK ${e.RANK} must be below WORLD_SIZE ${e.WORLD_SIZE}`);
    }
    return {
      masterAddr: e.MASTER_ADDR,
      masterPort: e.MASTER_PORT,
      worldSize: elastic ? undefined : e.WORLD_SIZE,
      rank: elastic ? undefined : e.RANK,
      localRank: e.LOCAL_RANK ?? 0,
      elastic,
      source: 'torch',
    };
  }
  const raw = env['TF_CONFIG'];
  if (raw === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    fail('TF_CONFIG is not JSON');
  }
  const r = tfConfig.safeParse(parsed);
  if (!r.success) fail(`TF_CONFIG: ${r.error.issues[0]?.path.join('.')}: ${r.error.issues[0]?.message}`);
  const { cluster, task } = r.data;
  const ordered = [
    ...(cluster['chief'] ?? []).map((a) => ['chief', a]),
    ...(cluster['worker'] ?? []).map((a) => ['worker', a]),
  ];
  if (!ordered.length) fail('TF_CONFIG.cluster needs a chief or worker list');
  const rank = (task.type === 'chief' ? 0 : (cluster['chief']?.length ?? 0)) + task.index;
  if (rank >= ordered.length || !['chief', 'worker'].includes(task.type)) {
    fail(`TF_CONFIG.task ${task.type}[${task.index}] is not in the cluster`);
  }
  const [host, port] = (ordered[0]?.[1] ?? '').split(':');
  return {
    masterAddr: host ?? '',
    masterPort: Number(port),
    worldSize: ordered.length,
    rank,
    localRank: 0,
    elastic,
    source: 'tf_config',
  };
}
