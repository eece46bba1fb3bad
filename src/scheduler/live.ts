// The live scheduler (SCHED-API.md §2): the pure Scheduler driven by real events and a real clock. Every
// event (a request, a release, a stop, an abort) runs a cycle at once; a ticker, only while jobs wait, runs
// cycles for what time alone changes (minimum run times ending, past usage fading). Timers are unref'd and
// `close()` clears them, so a live scheduler never keeps a process alive.
import { defaultQueueConfig } from './config.js';
import type { QueueConfig } from './config-types.js';
import { SchedulerError } from './errors.js';
import type { Decision, JobSpec, JobView, Pending } from './job.js';
import type { Resources } from './resources.js';
import { type QueueView, Scheduler } from './scheduler.js';

/** Gives resources back; calling it twice is harmless. */
export type Release = () => void;

/** What an admitted job holds, and how the scheduler talks to it while it runs. */
export interface Lease {
  readonly id: string;
  /** Members granted now (changes on resize). */
  readonly members: number;
  /** The job ended: its resources come back. */
  release(): void;
  /** Called when the job must checkpoint and stop within `graceMs` (0: not checkpointable, stop now). */
  onPreempt(cb: (graceMs: number) => void): void;
  /** Called when an elastic job should run with `members` members from now on. */
  onResize(cb: (members: number) => void): void;
  /** After a preemption: the job has stopped. It waits again in its old place; resolves when readmitted. */
  stopped(): Promise<number>;
}

export interface Snapshot {
  now: number;
  jobs: JobView[];
  pending: Pending[];
  queues: QueueView[];
  decisions: Decision[];
}

export interface LiveOptions {
  capacity: Resources;
  /** Default: one queue with the whole machine (defaultQueueConfig). */
  config?: QueueConfig;
  /** User and queue of `acquire` requests (the workflow engine's steps). Default "default" / the first queue. */
  user?: string;
  queue?: string;
  /** How often waiting jobs are reconsidered without an event, ms. Default 1000. */
  tickMs?: number;
  /** Called after every cycle that changed something (e.g. to persist jobs and why-pending). */
  onCycle?: (s: Snapshot) => void;
  clock?: () => number;
}

interface Entry {
  lease: LeaseImpl;
  admitted?: (members: number) => void;
  failed?: (err: Error) => void;
}

class LeaseImpl implements Lease {
  members = 0;
  readonly preemptCbs: ((graceMs: number) => void)[] = [];
  readonly resizeCbs: ((members: number) => void)[] = [];
  constructor(
    readonly id: string,
    private readonly live: LiveScheduler,
  ) {}
  release(): void {
    this.live.end(this.id);
  }
  onPreempt(cb: (graceMs: number) => void): void {
    this.preemptCbs.push(cb);
  }
  onResize(cb: (members: number) => void): void {
    this.resizeCbs.push(cb);
  }
  stopped(): Promise<number> {
    return this.live.requeue(this.id);
  }
}

export class LiveScheduler {
  readonly scheduler: Scheduler;
  private readonly entries = new Map<string, Entry>();
  private ticker: NodeJS.Timeout | undefined;
  private nextId = 1;
  private closed = false;
  private readonly clock: () => number;

  constructor(private readonly options: LiveOptions) {
    this.scheduler = new Scheduler(options.config ?? defaultQueueConfig(), options.capacity);
    this.clock = options.clock ?? Date.now;
  }

  /** Resources nobody holds right now. */
  get available(): Resources {
    return this.scheduler.free;
  }

  /** Jobs still waiting. */
  get waiting(): number {
    return this.scheduler.jobs().filter((j) => j.phase === 'pending').length;
  }

  /** Waits until the job is admitted; rejects if `signal` aborts first or the job can never fit. */
  admit(job: JobSpec, signal?: AbortSignal): Promise<Lease> {
    if (this.closed)
      return Promise.reject(new SchedulerError('SCHED_REQUEST_ABORTED', 'the scheduler is closed'));
    try {
      this.scheduler.submit(job, this.clock());
    } catch (err) {
      return Promise.reject(err as Error);
    }
    const lease = new LeaseImpl(job.id, this);
    const entry: Entry = { lease };
    this.entries.set(job.id, entry);
    const admitted = new Promise<Lease>((resolve, reject) => {
      entry.admitted = () => resolve(lease);
      entry.failed = reject;
    });
    signal?.addEventListener('abort', () => this.abort(job.id), { once: true });
    this.cycle();
    return admitted;
  }

  /**
   * Today's pool call, for the workflow engine: a one-member, non-preemptible job of the configured user and
   * queue. A request for nothing starts at once and holds nothing.
   */
  async acquire(owner: string, request: Resources, signal?: AbortSignal): Promise<Release> {
    if (request.cores <= 0 && request.memory <= 0) return () => undefined;
    const queue = this.options.queue ?? this.scheduler.config.clusterQueues[0]!.name;
    const lease = await this.admit(
      {
        id: `${owner}#${this.nextId++}`,
        user: this.options.user ?? 'default',
        queue,
        gang: { count: 1, perMember: request },
        preemptible: false,
      },
      signal,
    );
    return () => lease.release();
  }

  /**
   * Swaps in a new queue configuration (a live `distml queue apply`) and runs a cycle at once, so a pending job
   * whose queue gained room is admitted now. Leases granted stay valid. Throws (changing nothing) when an
   * active job's queue or priority class would be gone.
   */
  reconfigure(config: QueueConfig): void {
    this.scheduler.reconfigure(config, this.clock());
    this.cycle();
  }

  /** @internal the lease's release. */
  end(id: string): void {
    const e = this.entries.get(id);
    if (!e) return;
    this.entries.delete(id);
    this.scheduler.finish(id, this.clock());
    this.cycle();
  }

  /** @internal the lease's stopped(). */
  requeue(id: string): Promise<number> {
    const e = this.entries.get(id);
    if (!e) return Promise.reject(new SchedulerError('SCHED_UNKNOWN_JOB', `no running job ${id} to requeue`));
    const back = new Promise<number>((resolve, reject) => {
      e.admitted = resolve;
      e.failed = reject;
    });
    this.scheduler.stopped(id, this.clock());
    this.cycle();
    return back;
  }

  private abort(id: string): void {
    const e = this.entries.get(id);
    if (!e || this.scheduler.job(id)?.phase !== 'pending') return;
    this.entries.delete(id);
    this.scheduler.cancel(id, this.clock());
    e.failed?.(
      new SchedulerError('SCHED_REQUEST_ABORTED', `${id.replace(/#\d+$/, '')} stopped waiting for resources`),
    );
    this.cycle();
  }

  /** Runs one cycle now and acts on its decisions; reports it unless a tick changed nothing. */
  cycle(tick = false): void {
    if (this.closed) return;
    const now = this.clock();
    const decisions = this.scheduler.decide(now);
    for (const d of decisions) this.apply(d);
    this.arm();
    if (this.options.onCycle && (!tick || decisions.length > 0))
      this.options.onCycle(this.snapshot(now, decisions));
  }

  snapshot(now = this.clock(), decisions: Decision[] = []): Snapshot {
    const s = this.scheduler;
    return { now, jobs: s.jobs(), pending: s.pending(now), queues: s.queues(), decisions };
  }

  private apply(d: Decision): void {
    const e = this.entries.get(d.id);
    if (!e) return;
    if (d.kind === 'admit') {
      e.lease.members = d.members;
      const done = e.admitted;
      e.admitted = undefined;
      done?.(d.members);
    } else if (d.kind === 'resize') {
      e.lease.members = d.members;
      for (const cb of e.lease.resizeCbs) cb(d.members);
    } else {
      for (const cb of e.lease.preemptCbs) cb(d.graceMs);
    }
  }

  /** The ticker runs only while jobs wait. */
  private arm(): void {
    const waiting = this.scheduler.pending(this.clock()).length > 0;
    if (waiting && !this.ticker) {
      this.ticker = setInterval(() => this.cycle(true), this.options.tickMs ?? 1000);
      this.ticker.unref();
    } else if (!waiting && this.ticker) {
      clearInterval(this.ticker);
      this.ticker = undefined;
    }
  }

  /** Stops the ticker and fails every waiting request. Leases already granted stay valid until released. */
  close(): void {
    this.closed = true;
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
    for (const [id, e] of this.entries) {
      if (this.scheduler.job(id)?.phase !== 'pending') continue;
      e.failed?.(new SchedulerError('SCHED_REQUEST_ABORTED', `${id} stopped waiting: the scheduler closed`));
      this.entries.delete(id);
    }
  }
}
