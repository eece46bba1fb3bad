// The pure scheduler (SCHED-API.md §1): virtual time in, decisions out. No timers, no processes: the live
// adapter (live.ts), the bench and the tests drive it with their own clocks.
import { estimateStarts } from './backfill.js';
import type { QueueConfig } from './config.js';
import { Core, rank } from './core.js';
import { runCycle } from './cycle.js';
import { SchedulerError } from './errors.js';
import {
  holding,
  type Decision,
  type Job,
  type JobSpec,
  type JobView,
  PENDING_CODES,
  type Pending,
  type PendingCode,
} from './job.js';
import { describe, dominantShare, type Resources } from './resources.js';

/** Estimates cover the first this many pending jobs (the timeline walk is quadratic). */
const ESTIMATED = 200;

export interface QueueView {
  name: string;
  cohort?: string;
  weight: number;
  nominal: Resources;
  usage: Resources;
  borrowing: boolean;
  /** Dominant share of the machine the queue's jobs hold. */
  share: number;
  running: number;
  pending: number;
}

export interface ShareView {
  user: string;
  group: string;
  /** The ideal share: the cohort tree, then a queue's groups, then users of a group, by weight (share-tree.ts). */
  entitlement: number;
  /** Dominant-resource share held now. */
  current: number;
  /** Decayed average share over the recent past (half-life from the queue file). */
  past: number;
}

export class Scheduler {
  private core: Core;

  constructor(config: QueueConfig, capacity: Resources) {
    if (!(capacity.cores > 0) || !(capacity.memory >= 0))
      throw new SchedulerError(
        'SCHED_BAD_JOB',
        `capacity needs cores > 0 and memory ≥ 0, got ${describe(capacity)}`,
      );
    this.core = new Core(config, capacity);
  }

  get capacity(): Resources {
    return this.core.capacity;
  }

  get config(): QueueConfig {
    return this.core.config;
  }

  /** Resources nobody holds. */
  get free(): Resources {
    return this.core.free;
  }

  submit(job: JobSpec, now: number): void {
    this.core.add(job, now);
  }

  /** The job ended (succeeded or failed): its resources come back. */
  finish(id: string, now: number): void {
    this.core.end(this.core.get(id), 'finished', now);
  }

  cancel(id: string, now: number): void {
    this.core.end(this.core.get(id), 'cancelled', now);
  }

  /** A job told to stop (preempted) has stopped: its resources come back and it waits again, in its old place. */
  stopped(id: string, now: number): void {
    const job = this.core.get(id);
    if (job.phase !== 'running' && job.phase !== 'stopping') return;
    this.core.release(job, now);
    this.core.enqueue(job);
  }

  /** A running gang lost a member: that member's resources come back, and the gang has first claim on them. */
  memberLost(id: string, now: number): void {
    const job = this.core.get(id);
    if (job.phase !== 'running' || job.members <= 0) return;
    this.core.grant(job, job.members - 1, now);
    job.missing = job.spec.elastic ? Math.max(0, job.min - job.members) : job.max - job.members;
  }

  /**
   * Makes `config` the configuration of every later decision (a live `distml queue apply`): running jobs keep
   * what they hold, pending ones their place. Refused, changing nothing, when an active job's queue or
   * priority class would be gone.
   */
  reconfigure(config: QueueConfig, now: number): void {
    const stranded = this.core.strandedBy(config);
    if (stranded.length)
      throw new SchedulerError(
        'SCHED_CONFIG_IN_USE',
        `the queue file drops what active jobs use: ${stranded.join('; ')}; keep those queues and priority classes until the jobs end (or stop their runs), then apply it again`,
      );
    this.core = new Core(config, this.core.capacity, { core: this.core, now });
  }

  /** One scheduling cycle. */
  decide(now: number): Decision[] {
    return runCycle(this.core, now);
  }

  /** Every pending job in order, with why it waits, its position and, where known, its estimated start. */
  pending(now: number): Pending[] {
    const order: Job[] = [...this.core.zero];
    for (const j of this.core.queue.ordered((j) => rank(this.core, j, now))) order.push(j);
    const est = estimateStarts(
      now,
      this.core.free,
      this.core.releases(),
      order
        .slice(0, ESTIMATED)
        .filter((j) => j.why?.code !== 'SCHED_QUOTA' || j.why.cycle !== this.core.cycle)
        .map((j) => ({ id: j.spec.id, need: holding(j, j.min), durationMs: j.spec.timeLimitMs })),
    );
    let higher = -Infinity;
    const users = new Set<string>();
    return order.map((j, i) => {
      const why = this.whyOf(j, higher, users);
      higher = Math.max(higher, j.priority);
      users.add(j.spec.user);
      return { id: j.spec.id, ...why, position: i + 1, estimatedStartMs: est.get(j.spec.id) };
    });
  }

  private whyOf(j: Job, higher: number, users: Set<string>): { code: PendingCode; message: string } {
    if (j.why && j.why.cycle === this.core.cycle) {
      const m = j.why.message;
      return { code: j.why.code, message: typeof m === 'string' ? m : m() };
    }
    const code: PendingCode =
      higher > j.priority
        ? 'SCHED_PRIORITY'
        : [...users].some((u) => u !== j.spec.user)
          ? 'SCHED_FAIR_SHARE'
          : 'SCHED_RESOURCES';
    return { code, message: PENDING_CODES[code] };
  }

  /** Quota, usage, share and pending count per ClusterQueue. */
  queues(): QueueView[] {
    const count = new Map<string, { running: number; pending: number }>();
    for (const j of this.core.jobs.values()) {
      const c = count.get(j.queue) ?? { running: 0, pending: 0 };
      if (j.phase === 'pending') c.pending++;
      if (j.phase === 'running' || j.phase === 'stopping') c.running++;
      count.set(j.queue, c);
    }
    return this.core.quota.names().map((name) => {
      const v = this.core.quota.view(name);
      return {
        name,
        cohort: v.cohort,
        weight: v.weight,
        nominal: v.nominal,
        usage: v.usage,
        borrowing: this.core.quota.borrowing(name),
        share: dominantShare(v.usage, this.core.capacity),
        ...(count.get(name) ?? { running: 0, pending: 0 }),
      };
    });
  }

  /** Per active user: entitlement, current and past share (README: "how shares are computed"). */
  shares(now: number): ShareView[] {
    const s = this.core.shares;
    return s.activeUsers().map((user) => ({
      user,
      group: s.groups.group(user),
      entitlement: s.userShare(user),
      current: s.current(user),
      past: s.history.average(user, now),
    }));
  }

  /** The ideal share of one active job (its user's part of its queue divided among the user's jobs there). */
  jobShare(id: string): number {
    const j = this.core.get(id);
    if (j.phase === 'finished' || j.phase === 'cancelled') return 0;
    return this.core.shares.jobShare(j.spec.user, j.queue);
  }

  job(id: string): JobView | undefined {
    const j = this.core.jobs.get(id);
    return j && view(j, this.core.shares.groups.group(j.spec.user));
  }

  jobs(): JobView[] {
    return [...this.core.jobs.values()].map((j) => view(j, this.core.shares.groups.group(j.spec.user)));
  }

  /** Forgets finished and cancelled jobs (a long-lived server calls this after persisting them). */
  prune(): void {
    for (const [id, j] of this.core.jobs)
      if (j.phase === 'finished' || j.phase === 'cancelled') this.core.jobs.delete(id);
  }
}

function view(j: Job, group: string): JobView {
  return {
    id: j.spec.id,
    user: j.spec.user,
    group,
    queue: j.queue,
    priorityClass: j.spec.priorityClass,
    priority: j.priority,
    phase: j.phase,
    members: j.members,
    request: holding(j, j.phase === 'pending' ? j.min : j.members),
    submittedAt: j.submittedAt,
    admittedAt: j.admittedAt,
    preemptions: j.preemptions,
    missing: j.missing,
  };
}
