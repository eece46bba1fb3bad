// What the scheduler is asked to run and what it answers (the contract in SCHED-API.md §1).
import { SchedulerError } from './errors.js';
import { isZero, type Resources, times } from './resources.js';

export interface JobSpec {
  id: string;
  user: string;
  /** A ClusterQueue or a LocalQueue of the queue configuration. */
  queue: string;
  /** A priority class of the configuration; none: its defaultPriorityClass, else value 0. */
  priorityClass?: string;
  /** All-or-nothing: every member starts together or none does. A plain step is count 1. */
  gang: { count: number; perMember: Resources };
  /** Members between min and max (then gang.count is ignored: max is what the job wants). */
  elastic?: { min: number; max: number };
  /** Promised run time: lets a job be backfilled before a held gang's planned start. */
  timeLimitMs?: number;
  /** The job can checkpoint when preempted and resume from it (default false: it restarts). */
  checkpointable?: boolean;
  /** Default true: lower-priority jobs may be evicted for higher ones. */
  preemptible?: boolean;
}

export type Decision =
  | { kind: 'admit'; id: string; members: number }
  | { kind: 'preempt'; id: string; by: string; reason: string; graceMs: number; checkpoint: boolean }
  | { kind: 'resize'; id: string; members: number; reason: string };

export const PENDING_CODES = {
  SCHED_QUOTA: "the queue's quota (nominal plus what it may borrow) is used up",
  SCHED_GANG_TOO_LARGE: 'the whole gang does not fit in the free resources (never a partial start)',
  SCHED_RESOURCES: 'waiting for running jobs to free resources',
  SCHED_FAIR_SHARE: "other users' jobs rank first by fair share",
  SCHED_PRIORITY: 'a higher-priority job goes first or holds the resources',
  SCHED_RESERVED: 'resources are held for a waiting gang; only jobs that end before its start may backfill',
  SCHED_PREEMPTING: 'lower-priority jobs are being preempted to make room',
} as const;

export type PendingCode = keyof typeof PENDING_CODES;

export interface Pending {
  id: string;
  code: PendingCode;
  message: string;
  /** 1 = next to start. */
  position: number;
  /** Estimated start (virtual/epoch ms), when the running jobs' time limits allow an estimate. */
  estimatedStartMs?: number;
}

export type JobPhase = 'pending' | 'running' | 'stopping' | 'finished' | 'cancelled';

/** A job as the scheduler sees it (what `jobs()` lists). */
export interface JobView {
  id: string;
  user: string;
  group: string;
  queue: string;
  priorityClass?: string;
  priority: number;
  phase: JobPhase;
  members: number;
  request: Resources;
  submittedAt: number;
  admittedAt?: number;
  preemptions: number;
  /** Members lost and not yet replaced (the gang has first claim on freed resources). */
  missing: number;
}

/** The scheduler's record of a job. */
export interface Job {
  spec: JobSpec;
  seq: number;
  queue: string;
  priority: number;
  phase: JobPhase;
  members: number;
  min: number;
  max: number;
  submittedAt: number;
  admittedAt?: number;
  preemptions: number;
  missing: number;
  /** For a preemptor: victims still stopping. */
  waitingOn?: Set<string>;
  /** For a victim being stopped: its preemptor. */
  preemptedBy?: string;
  /** Why it waits, as of cycle `cycle` (older answers are recomputed from the order). */
  why?: { code: PendingCode; message: string | (() => string); cycle: number };
}

/** Checks a spec's shape (the edge is the caller's; this guards the scheduler's own invariants). */
export function checkSpec(spec: JobSpec, capacity: Resources): void {
  const bad = (what: string): never => {
    throw new SchedulerError('SCHED_BAD_JOB', `job ${spec.id}: ${what}`);
  };
  if (!spec.id) bad('needs an id');
  if (!spec.user) bad('needs a user (--user or DISTML_USER)');
  const { count, perMember } = spec.gang;
  if (!Number.isInteger(count) || count < 1) bad(`gang.count ${count} must be a whole number ≥ 1`);
  if (!(perMember.cores >= 0) || !(perMember.memory >= 0)) bad('perMember cores and memory must be ≥ 0');
  if (spec.elastic) {
    const { min, max } = spec.elastic;
    if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1 || max < min)
      bad(`elastic min ${min} and max ${max} must be whole numbers with 1 ≤ min ≤ max`);
  }
  const least = times(perMember, spec.elastic?.min ?? count);
  if (!isZero(least) && (least.cores > capacity.cores + 1e-9 || least.memory > capacity.memory))
    throw new SchedulerError(
      'SCHED_REQUEST_EXCEEDS_CAPACITY',
      `${spec.id} asks for ${least.cores} cores and ${least.memory} bytes, more than the pool has (${capacity.cores} cores, ${capacity.memory} bytes)`,
    );
}

/** What a job holds at `members` members. */
export const holding = (job: Job, members = job.members): Resources =>
  times(job.spec.gang.perMember, members);
