// The scheduler's state and the few mutations every policy goes through, so usage, quota, fair-share usage
// and the pending order never disagree.
import type { QueueConfig } from './config-types.js';
import { SchedulerError } from './errors.js';
import { Groups, ShareBook } from './fairshare.js';
import { checkSpec, holding, type Job, type JobSpec } from './job.js';
import { PendingQueue } from './order.js';
import { PreemptionLedger } from './preemption.js';
import { QuotaBook } from './quota.js';
import type { Release } from './backfill.js';
import { isZero, sub, type Resources, ZERO } from './resources.js';

export class Core {
  readonly quota: QuotaBook;
  readonly shares: ShareBook;
  readonly queue = new PendingQueue();
  readonly ledger = new PreemptionLedger();
  readonly jobs = new Map<string, Job>();
  /** Running and stopping jobs. */
  readonly running = new Map<string, Job>();
  /** Running and stopping jobs per priority, and how many are elastic: whether making room can work at all. */
  readonly runningPriorities = new Map<number, number>();
  runningElastic = 0;
  /** Pending jobs that ask for nothing: they start at once, ahead of everything (as the old pool did). */
  readonly zero = new Set<Job>();
  /** The number of the current cycle, to tell a fresh why-pending from a stale one. */
  cycle = 0;
  private used: Resources = ZERO;
  private seq = 0;
  private readonly priorities: Map<string, number>;
  private readonly reclaim: Map<string, QueueConfig['clusterQueues'][number]['reclaimWithinCohort']>;

  constructor(
    readonly config: QueueConfig,
    readonly capacity: Resources,
    /** A live reload (`distml queue apply`): the state this one replaces; its jobs carry over (see adopt). */
    from?: { core: Core; now: number },
  ) {
    this.quota = new QuotaBook(config, capacity);
    this.shares = new ShareBook(config, new Groups(config), capacity, from?.core.shares.history);
    this.priorities = new Map(config.priorityClasses.map((p) => [p.name, p.value]));
    this.reclaim = new Map(config.clusterQueues.map((q) => [q.name, q.reclaimWithinCohort]));
    if (from) {
      this.ledger = from.core.ledger;
      this.adopt(from.core, from.now);
    }
  }

  /**
   * Takes over every job of `old` under this configuration: running ones keep what they hold (even past a
   * quota that shrank), pending ones keep their place (submission order), each user's past usage is carried
   * as it reads now. Callers check first that every active job's queue and priority class still exist.
   */
  private adopt(old: Core, now: number): void {
    this.seq = old.seq;
    this.cycle = old.cycle;
    // The usage history carries over whole when the half-life is the same (the constructor took it), so the
    // running jobs' pledges stand as they are; with another half-life the history starts again from them.
    const carried = this.shares.history === old.shares.history;
    for (const job of old.jobs.values()) {
      this.jobs.set(job.spec.id, job);
      if (job.phase === 'finished' || job.phase === 'cancelled') continue;
      job.queue = this.quota.resolveName(job.spec.queue)!;
      job.priority = this.priorityOf(job.spec);
      this.shares.activate(job.spec.user, job.queue, 1);
      if (job.phase === 'pending') {
        this.enqueue(job);
        continue;
      }
      const members = job.members;
      job.members = 0;
      this.running.set(job.spec.id, job);
      this.countRunning(job, 1);
      this.grant(job, members, now, !carried);
    }
  }

  /** Active jobs whose queue or priority class `config` does not define (a reload must not strand them). */
  strandedBy(config: QueueConfig): string[] {
    const quota = new QuotaBook(config, this.capacity);
    const classes = new Set(config.priorityClasses.map((p) => p.name));
    const out: string[] = [];
    for (const j of this.jobs.values()) {
      if (j.phase === 'finished' || j.phase === 'cancelled') continue;
      const missing = [
        ...(quota.resolveName(j.spec.queue) ? [] : [`queue ${j.spec.queue}`]),
        ...(j.spec.priorityClass && !classes.has(j.spec.priorityClass)
          ? [`priority class ${j.spec.priorityClass}`]
          : []),
      ];
      if (missing.length) out.push(`${j.spec.id} (${j.phase}, ${missing.join(', ')})`);
    }
    return out;
  }

  get free(): Resources {
    return sub(this.capacity, this.used);
  }

  reclaimPolicy(queue: string): 'Never' | 'LowerPriority' | 'Any' {
    return this.reclaim.get(queue) ?? 'Never';
  }

  /** A new job, validated against the configuration, pending. */
  add(spec: JobSpec, now: number): Job {
    checkSpec(spec, this.capacity);
    const prev = this.jobs.get(spec.id);
    if (prev && (prev.phase === 'pending' || prev.phase === 'running' || prev.phase === 'stopping'))
      throw new SchedulerError(
        'SCHED_DUPLICATE_JOB',
        `job ${spec.id} is already ${prev.phase}: pick another id`,
      );
    const queue = this.quota.resolveName(spec.queue);
    if (!queue)
      throw new SchedulerError(
        'SCHED_UNKNOWN_QUEUE',
        `job ${spec.id}: no queue "${spec.queue}" (queues: ${this.quota.names().join(', ')}): pick one or apply a queue file that has it`,
      );
    const job: Job = {
      spec,
      seq: this.seq++,
      queue,
      priority: this.priorityOf(spec),
      phase: 'pending',
      members: 0,
      min: spec.elastic?.min ?? spec.gang.count,
      max: spec.elastic?.max ?? spec.gang.count,
      submittedAt: now,
      preemptions: 0,
      missing: 0,
    };
    this.jobs.set(spec.id, job);
    this.shares.activate(spec.user, queue, 1);
    this.enqueue(job);
    return job;
  }

  private priorityOf(spec: JobSpec): number {
    const name = spec.priorityClass ?? this.config.defaultPriorityClass;
    if (name === undefined) return 0;
    const v = this.priorities.get(name);
    if (v === undefined)
      throw new SchedulerError(
        'SCHED_UNKNOWN_PRIORITY_CLASS',
        `job ${spec.id}: no priority class "${name}" (classes: ${[...this.priorities.keys()].join(', ') || 'none'}): pick one or add it to the queue file`,
      );
    return v;
  }

  enqueue(job: Job): void {
    job.phase = 'pending';
    if (isZero(holding(job, 1))) this.zero.add(job);
    else this.queue.add(job);
  }

  get(id: string): Job {
    const job = this.jobs.get(id);
    if (!job) throw new SchedulerError('SCHED_UNKNOWN_JOB', `no job ${id}`);
    return job;
  }

  /** Sets what a running job holds to `members` members (`pledge`: and charges the fair share for it). */
  grant(job: Job, members: number, now: number, pledge = true): void {
    const delta = sub(holding(job, members), holding(job));
    this.used = { cores: this.used.cores + delta.cores, memory: this.used.memory + delta.memory };
    this.quota.use(job.queue, delta);
    this.shares.use(job.spec.user, delta, now);
    job.members = members;
    if (!pledge) return;
    const limit = job.spec.timeLimitMs;
    const left = limit === undefined ? undefined : (job.admittedAt ?? now) + limit - now;
    this.shares.hold(job.spec.user, job.spec.id, holding(job), left, now);
  }

  admit(job: Job, members: number, now: number): void {
    this.queue.remove(job);
    this.zero.delete(job);
    job.phase = 'running';
    job.admittedAt = now;
    job.why = undefined;
    job.waitingOn = undefined;
    this.running.set(job.spec.id, job);
    this.countRunning(job, 1);
    this.grant(job, members, now);
  }

  /** Gives back everything a running or stopping job holds. */
  release(job: Job, now: number): void {
    if (!this.running.delete(job.spec.id)) return;
    this.countRunning(job, -1);
    this.grant(job, 0, now);
    job.missing = 0;
    if (job.preemptedBy) this.jobs.get(job.preemptedBy)?.waitingOn?.delete(job.spec.id);
    job.preemptedBy = undefined;
  }

  /** A job leaves for good (finished or cancelled). */
  end(job: Job, phase: 'finished' | 'cancelled', now: number): void {
    if (job.phase === 'pending') {
      this.queue.remove(job);
      this.zero.delete(job);
    } else this.release(job, now);
    if (job.phase !== 'finished' && job.phase !== 'cancelled')
      this.shares.activate(job.spec.user, job.queue, -1);
    job.phase = phase;
    job.why = undefined;
    this.ledger.forget(job.spec.id);
  }

  private countRunning(job: Job, sign: 1 | -1): void {
    const n = (this.runningPriorities.get(job.priority) ?? 0) + sign;
    if (n > 0) this.runningPriorities.set(job.priority, n);
    else this.runningPriorities.delete(job.priority);
    if (job.spec.elastic) this.runningElastic += sign;
  }

  /** Whether any running job could be evicted or shrunk for a job of `priority` in `queue` (a cheap bound). */
  mightMakeRoom(priority: number, queue: string): boolean {
    if (this.runningElastic > 0 || this.reclaimPolicy(queue) === 'Any') return true;
    for (const p of this.runningPriorities.keys()) if (p < priority) return true;
    return false;
  }

  /** When each running job's resources come back, from its time limit. */
  releases(): Release[] {
    return [...this.running.values()].map((j) => ({
      at:
        j.spec.timeLimitMs !== undefined && j.admittedAt !== undefined
          ? j.admittedAt + j.spec.timeLimitMs
          : undefined,
      frees: holding(j),
    }));
  }
}

/** The fair-share rank of `job`'s user with `job` next in line (lower goes first; see ShareBook.score). */
export function rank(core: Core, job: Job, now: number): number {
  return core.shares.score(job.spec.user, holding(job, job.min), job.spec.timeLimitMs, now);
}
