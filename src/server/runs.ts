// Every run's engine, inside the server: started on submit, retry, resume or reconciliation, stopped by the
// API, by the loss of the CLI that follows it (unless detached), or by the server's shutdown.
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MetadataStore, RunRecord } from '../metadata/index.js';
import type { QueueConfig, ResourcePool } from '../scheduler/index.js';
import {
  executeRun,
  markStopped,
  StepPreemptions,
  type RunJob,
  prepareRestart,
  reapLeftovers,
  runDirs,
  WorkflowError,
  type EngineEvent,
  type WorkflowSpec,
} from '../workflow/index.js';
import { ServerError } from './errors.js';
import { EventHub } from './hub.js';
import { CappedPool } from './pool.js';
import { stopUnownedRun } from './stop-direct.js';

/** How long a run that is not detached waits for its follower (the CLI that started it) to connect. */
const OWNER_WAIT_MS = 30_000;
/** Longest an engine gets to stop its steps and run its exit handler before the run is marked stopped. */
const ENGINE_STOP_MS = 60_000;
/** How long a finished run's events stay in memory for a late follower. */
const LINGER_MS = 120_000;

export interface StartOptions {
  /** Keeps running when its follower disconnects. */
  detached: boolean;
  /** The run's own cap on cores (else only the shared pool limits it). */
  cores?: number;
  /** Reuse succeeded steps (resume, retry). */
  reuse: boolean;
  /** Where the run was started (built-in steps' relative paths); default: where it was first started. */
  cwd?: string;
  /** Who its steps are scheduled as; default: what it was first started with, else user default. */
  job?: Partial<RunJob>;
}

interface ActiveRun {
  name: string;
  detached: boolean;
  hub: EventHub;
  ac: AbortController;
  done: Promise<void>;
  followers: number;
  /** Who its steps are scheduled as (its later steps are admitted in this queue, at this priority). */
  job: RunJob;
  ownerTimer?: NodeJS.Timeout;
}

export interface RunsOptions {
  store: MetadataStore;
  workspace: string;
  pool: ResourcePool;
  distmlCommand: string[];
  log: (line: string) => void;
}

export class Runs {
  private readonly runs = new Map<string, ActiveRun>();
  /** When a run last ended (or the server started): the idle timeout counts from it. */
  idleSince = Date.now();
  /** The running steps of every run, for the scheduler's preemptions (its leases call preempt). */
  readonly preemptions = new StepPreemptions();

  constructor(private readonly o: RunsOptions) {}

  /** Runs whose engine is still going. */
  active(): string[] {
    return [...this.runs.values()].filter((r) => !r.hub.ended).map((r) => r.name);
  }

  /** The queue and priority class of every active run: what a new queue file must keep. */
  jobs(): { run: string; job: RunJob }[] {
    return [...this.runs.values()].filter((r) => !r.hub.ended).map((r) => ({ run: r.name, job: r.job }));
  }

  describe(name: string): { detached: boolean; followers: number } | undefined {
    const r = this.runs.get(name);
    return r && !r.hub.ended ? { detached: r.detached, followers: r.followers } : undefined;
  }

  /** Refuses a user, queue or priority class the queue file does not define (before a run is created). */
  checkJob(job: Partial<RunJob> | undefined): void {
    jobOf(this.o.pool, job ?? {});
  }

  /** Starts the engine of a recorded run in this process. */
  start(name: string, opts: StartOptions): void {
    if (this.describe(name))
      throw new WorkflowError('WORKFLOW_RUN_ACTIVE', `run ${name} is already running here`);
    const before = readRunFile(this.o.workspace, name);
    const cwd = opts.cwd ?? before?.cwd ?? process.cwd();
    // Argo's numeric spec.priority picks the class when neither --priority nor an earlier start named one.
    const spec = this.o.store.getRun(name).spec as WorkflowSpec;
    const job = jobOf(this.o.pool, { ...before?.job, ...opts.job }, spec.spec?.priority);
    writeRunFile(this.o.workspace, name, { detached: opts.detached, cwd, job });
    const logPath = join(runDirs(this.o.workspace, name).logs, 'engine.log');
    const r: ActiveRun = {
      name,
      detached: opts.detached,
      hub: new EventHub(),
      ac: new AbortController(),
      done: Promise.resolve(),
      followers: 0,
      job,
    };
    const onEvent = (e: EngineEvent) => {
      r.hub.emit(e);
      appendFileSync(logPath, `${JSON.stringify({ time: new Date().toISOString(), ...e })}\n`);
    };
    this.runs.set(name, r);
    if (!opts.detached) r.ownerTimer = setTimeout(() => this.ownerLost(r, 'never connected'), OWNER_WAIT_MS);
    const pool = opts.cores ? new CappedPool(opts.cores, this.o.pool) : this.o.pool;
    const exec = {
      cwd,
      store: this.o.store,
      workspace: this.o.workspace,
      pool,
      distmlCommand: this.o.distmlCommand,
      preemptions: this.preemptions,
      job,
    };
    this.o.log(`run ${name}: engine started (${opts.reuse ? 'reusing succeeded steps' : 'new'})`);
    r.done = executeRun(name, { ...exec, signal: r.ac.signal, reuse: opts.reuse, onEvent })
      .then((run) => this.o.log(`run ${name}: ${run.phase}${run.message ? ` (${run.message})` : ''}`))
      .catch((err: unknown) => this.engineFailed(name, err, onEvent))
      .finally(() => {
        if (pool !== this.o.pool) pool.close(); // the run's own cap: its ticker goes with it
        this.ended(r);
      });
  }

  private engineFailed(name: string, err: unknown, emit: (e: EngineEvent) => void): void {
    const message = `engine error: ${(err as Error).message}`;
    this.o.log(`run ${name}: ${message}`);
    const patch = {
      phase: 'Error' as const,
      message,
      finishedAt: Date.now(),
      enginePid: null,
      engineStart: null,
    };
    this.o.store.updateRun(name, patch);
    emit({ event: 'run', run: name, phase: 'Error', message });
  }

  private ended(r: ActiveRun): void {
    clearTimeout(r.ownerTimer);
    r.hub.end();
    this.idleSince = Date.now();
    setTimeout(() => {
      if (this.runs.get(r.name) === r) this.runs.delete(r.name);
    }, LINGER_MS).unref();
  }

  /** Follows a run's events (see EventHub.subscribe); an owner's disconnect stops a run that is not detached. */
  follow(name: string, owner: boolean, l: (e: EngineEvent | null) => void): (() => void) | undefined {
    const r = this.runs.get(name);
    if (!r) return undefined;
    if (owner && !r.hub.ended) {
      r.followers++;
      clearTimeout(r.ownerTimer);
    }
    const off = r.hub.subscribe(l);
    return () => {
      off();
      if (!owner || r.hub.ended) return;
      if (--r.followers === 0) this.ownerLost(r, 'disconnected');
    };
  }

  private ownerLost(r: ActiveRun, how: string): void {
    if (r.detached || r.hub.ended || r.followers > 0) return;
    this.o.log(`run ${r.name}: its follower (the CLI that started it) ${how}; stopping it`);
    r.ac.abort();
  }

  /** Submitted or restarted with --detach later: keep it running without a follower. */
  detach(name: string): void {
    const r = this.runs.get(name);
    if (r) r.detached = true;
  }

  /** Stops a run: its engine here is aborted (steps killed, exit handler run); otherwise see stopUnownedRun. */
  async stop(name: string): Promise<RunRecord> {
    const { store } = this.o;
    const r = this.runs.get(name);
    if (r && !r.hub.ended) {
      this.o.log(`run ${name}: stop requested`);
      store.updateRun(name, { stopRequested: true });
      r.ac.abort();
      const limit = new AbortController();
      await Promise.race([
        r.done,
        sleep(ENGINE_STOP_MS, undefined, { signal: limit.signal }).catch(() => {}),
      ]);
      limit.abort();
      if (!r.hub.ended) await markStopped(store, name);
      else await reapLeftovers(store, name);
      return store.getRun(name);
    }
    const run = store.getRun(name);
    if (run.phase !== 'Running' && run.phase !== 'Pending')
      throw new WorkflowError('WORKFLOW_RUN_FINISHED', `run ${name} is already ${run.phase}`);
    await stopUnownedRun(store, name);
    return store.getRun(name);
  }

  /** Readies a run for retry or resume here: its earlier engine must be gone; its leftovers are ended. */
  async prepare(name: string, mode: 'resume' | 'retry'): Promise<void> {
    if (this.describe(name))
      throw new WorkflowError(
        'WORKFLOW_RUN_ACTIVE',
        `run ${name} is still running; \`distml stop ${name}\` first`,
      );
    await prepareRestart(this.o.store, name, mode);
  }

  /** Retry or resume a run here. */
  async restart(name: string, mode: 'resume' | 'retry', opts: Omit<StartOptions, 'reuse'>): Promise<void> {
    await this.prepare(name, mode);
    this.start(name, { ...opts, reuse: true });
  }

  /** Stops every run (the server is shutting down). */
  async stopAll(): Promise<void> {
    await Promise.all(this.active().map((n) => this.stop(n).catch(() => undefined)));
  }
}

/** What the server keeps about a run beside the database: whether it was detached (for reconciliation). */
export function readRunFile(workspace: string, run: string): RunFile | null {
  try {
    return JSON.parse(readFileSync(join(workspace, 'runs', run, 'server.json'), 'utf8')) as RunFile;
  } catch {
    return null;
  }
}

interface RunFile {
  detached: boolean;
  cwd?: string;
  job?: RunJob;
}

/**
 * A run's user, queue and priority class, checked against the pool's queue file: a queue or class it does
 * not define is refused here, at submission, rather than at the run's first step. Default queue: `default`
 * when the file has one, else its first queue. Without a class, the workflow's `spec.priority` picks one.
 */
export function jobOf(pool: ResourcePool, j: Partial<RunJob>, specPriority?: number): RunJob {
  const c = pool.scheduler.config;
  const priorityClass =
    j.priorityClass ?? (specPriority === undefined ? undefined : classForPriority(c, specPriority));
  const queues = [...c.clusterQueues.map((q) => q.name), ...c.localQueues.map((q) => q.name)];
  const queue = j.queue ?? (queues.includes('default') ? 'default' : queues[0]!);
  if (!queues.includes(queue))
    throw new ServerError(
      'SERVER_BAD_REQUEST',
      `queue "${queue}" is not in the workspace's queue file (queues: ${queues.join(', ')}); pass one of them with --queue, or add it and \`distml queue apply\` the file`,
    );
  const classes = c.priorityClasses.map((p) => p.name);
  if (priorityClass !== undefined && !classes.includes(priorityClass))
    throw new ServerError(
      'SERVER_BAD_REQUEST',
      `priority class "${priorityClass}" is not in the workspace's queue file (classes: ${classes.join(', ') || 'none'}); pass one of them with --priority, or add it and \`distml queue apply\` the file`,
    );
  return { user: j.user ?? 'default', queue, ...(priorityClass ? { priorityClass } : {}) };
}

/**
 * The priority class a workflow's numeric `spec.priority` (Argo's) means: the class with the largest value
 * at most that number, else the lowest class. Undefined when the queue file has no classes.
 */
export function classForPriority(config: QueueConfig, priority: number): string | undefined {
  const byValue = [...config.priorityClasses].sort((a, b) => a.value - b.value);
  return (byValue.filter((p) => p.value <= priority).pop() ?? byValue[0])?.name;
}

function writeRunFile(workspace: string, run: string, v: RunFile): void {
  mkdirSync(runDirs(workspace, run).logs, { recursive: true });
  writeFileSync(join(workspace, 'runs', run, 'server.json'), `${JSON.stringify(v)}\n`);
}
