import type { Dataset, ScaledExample } from '../../data/index.js';
import type { EpochLog, StepLog } from '../callbacks.js';
import type { TrainingJob } from '../job.js';
import type { WorkerEvent } from '../events.js';
import type { ClusterEnv } from './env.js';
import type { MembershipChange, PreemptionPoint } from './protocol.js';

export interface WorkerOptions extends TrainingJob {
  cluster: ClusterEnv;
  test: Dataset<ScaledExample>;
  /** Chief writes checkpoints here, atomically, at epoch ends and every `checkpointEvery` steps. */
  checkpointDir: string;
  checkpointEvery?: number;
  /** Start from the newest checkpoint when this worker is the first of a fresh group. */
  resume: boolean;
  /** Where the chief writes the final model package. */
  outDir: string;
  /** Bounds rendezvous and every collective. Default 30 s. */
  commTimeoutMs?: number;
  heartbeatTimeoutMs?: number;
  /**
   * Generations in a row that may fail (a peer lost while forming, syncing or stepping) before this worker
   * gives up. Default 5: enough for a few losses and joins in quick succession, few enough that a worker which
   * keeps failing alone ends instead of looping.
   */
  maxFailedGenerations?: number;
  /**
   * Gloo's network interface for a job spanning hosts (the CLI passes GLOO_SOCKET_IFNAME); a loopback master
   * always uses `lo`.
   */
  iface?: string;
  /**
   * Preemption request (the CLI aborts it on SIGTERM; the launcher's store key does the same for every
   * worker): the group agrees on the next step boundary, the chief checkpoints, every worker returns.
   */
  preempt?: AbortSignal;
  lineage: Record<string, unknown>;
  onStep?: (log: StepLog) => void;
  onEpoch?: (log: EpochLog) => void;
  onEvent?: (event: WorkerEvent) => void;
}

/** WorkerOptions with every default filled in, once. */
export type ResolvedWorkerOptions = WorkerOptions &
  Required<Pick<WorkerOptions, 'commTimeoutMs' | 'maxFailedGenerations'>> & {
    /** How long a non-chief worker waits for the chief's result after its last step. */
    doneWaitMs: number;
  };

export const isLoopback = (h: string): boolean => h === 'localhost' || h.startsWith('127.') || h === '::1';

/** Fills in the defaults documented on WorkerOptions. */
export function resolveWorkerOptions(o: WorkerOptions): ResolvedWorkerOptions {
  return {
    ...o,
    commTimeoutMs: o.commTimeoutMs ?? 30_000,
    maxFailedGenerations: o.maxFailedGenerations ?? 5,
    iface: isLoopback(o.cluster.masterAddr) ? 'lo' : o.iface,
    doneWaitMs: 10 * 60_000,
  };
}

/** What each worker measured (reported to the chief through the store). */
export interface WorkerMetrics {
  id: string;
  steps: number;
  computeSeconds: number;
  commSeconds: number;
  bytesSent: number;
  abandonedSteps: number;
  generations: number;
}

/** The chief's final report (also what `distml train --workers N --json` prints). */
export interface DistributedResult {
  epochs: number;
  steps: number;
  history: EpochLog[];
  trainSeconds: number;
  imagesPerSecond: number;
  testAccuracy?: number;
  testLoss?: number;
  worldSizeAtEnd: number;
  replicaChecks: { epoch: number; identical: boolean }[];
  membershipChanges: MembershipChange[];
  workers: WorkerMetrics[];
  resumedFrom?: string;
  path: string;
}

/** What runWorker returns when the job was preempted (every worker; the chief's names its checkpoint). */
export interface WorkerPreempted {
  preempted: PreemptionPoint;
}
