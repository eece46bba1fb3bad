import type { ChildProcess } from 'node:child_process';
import { hostname } from 'node:os';
import { newJobSecret, Store, StoreServer } from '../../engine/index.js';
import { spawnOwned } from '../../process/index.js';
import { TrainError } from '../errors.js';
import { DEFAULT_PREEMPT_GRACE_MS, PREEMPTED_EXIT_CODE } from '../preemption.js';
import { ElasticAgent } from './agent.js';
import { type ControlRequest, ControlWatch } from './control.js';
import { JOB_SECRET_ENV } from './env.js';
import type { DistributedResult, WorkerMetrics } from './options.js';
import type { LauncherEvent } from '../events.js';
import { K, type Generation, type MembershipChange, type PreemptionPoint } from './protocol.js';
import { defaultMaxRestarts, ReplacementBudget, type WorkerExit } from './replacement.js';

export interface LaunchOptions {
  /** The program and arguments that make a process a worker (the same `distml train …` command). */
  command: string[];
  workers: number;
  minWorkers: number;
  maxWorkers: number;
  threadsPerWorker: number;
  /** Store port (0 = any free port). Remote workers join with MASTER_ADDR=<this host> MASTER_PORT=<port>. */
  port?: number;
  /**
   * Address the store listens on and local workers dial. Default 127.0.0.1: nothing off this host can reach
   * it. A job spanning hosts names an address of this host that the others can reach.
   */
  listenHost?: string;
  /** The job's secret, which every connection must present. Default: a fresh random one. */
  secret?: string;
  heartbeatTimeoutMs?: number;
  /**
   * Local workers that died and are started again, counted over the whole job (see replacement.ts).
   * Default: `workers` (each worker once).
   */
  maxRestarts?: number;
  /** How long a preempted job may take to checkpoint and stop before its workers are killed. Default 30 s. */
  preemptGraceMs?: number;
  /**
   * Elastic control file (control.ts): `{"workers": N}` written there resizes the running job. Read every
   * `controlPollMs` (default 500 ms) and at once on SIGUSR2. A scheduler's standing request there at the
   * launch (`{"workers": N, "lease": ID}`) sets how many workers start instead of `workers`.
   */
  controlFile?: string;
  controlPollMs?: number;
  env?: NodeJS.ProcessEnv;
  onEvent?: (event: LauncherEvent) => void;
  /** Lines the chief writes on stderr (its progress), passed through. */
  onWorkerLine?: (line: string, workerId: string) => void;
}

export interface LaunchResult extends DistributedResult {
  masterPort: number;
  /** Replacement workers started. */
  restarts: number;
}

/** What launchWorkers returns when the job was preempted (SIGTERM): where it stopped. */
export interface LaunchPreempted {
  preempted: PreemptionPoint & { checkpointed: boolean; reason: string };
  membershipChanges: MembershipChange[];
  masterPort: number;
  restarts: number;
}

/**
 * `distml train --workers N`: hosts the rendezvous store, runs the elastic agent, starts N local workers with
 * torch's environment contract (MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK, LOCAL_RANK) plus DISTML_ELASTIC=1,
 * kills a worker the agent declares dead (so its sockets close and peers fail fast), and starts a replacement
 * for a local worker that died, up to `maxRestarts`; the survivors go on. SIGTERM preempts the job (the
 * workers checkpoint at the next step boundary and stop, within the grace period); SIGINT kills the workers.
 * The control file grows or shrinks the group between --min-workers and --max-workers.
 */
export async function launchWorkers(o: LaunchOptions): Promise<LaunchResult | LaunchPreempted> {
  const listenHost = o.listenHost ?? '127.0.0.1';
  const secret = o.secret ?? newJobSecret();
  const storeServer = await StoreServer.start({ host: listenHost, port: o.port ?? 0, secret });
  try {
    // Local workers dial the listen address too: it is also the address their Gloo peers reach them at.
    const connect = () => Store.connect({ host: listenHost, port: storeServer.port, secret });
    const control = o.controlFile ? new ControlWatch(o.controlFile, o.controlPollMs ?? 500) : undefined;
    const start = { ...o, workers: startingWorkers(o, control?.standing) };
    const stores = [await connect(), await connect()] as const;
    const launcher = new Launcher(start, secret, storeServer.port, listenHost, ...stores, control);
    return await launcher.run();
  } finally {
    await storeServer.close();
  }
}

class Launcher {
  private readonly children = new Map<string, ChildProcess>();
  private readonly budget: ReplacementBudget;
  private readonly agent: ElasticAgent;
  private finished = false;
  private cleanExit = false;
  private nextSlot: number;
  private preemption: { reason: string; timer: NodeJS.Timeout; expired: boolean } | undefined;

  constructor(
    private readonly o: LaunchOptions,
    private readonly secret: string,
    private readonly masterPort: number,
    private readonly addr: string,
    private readonly server: Store,
    agentStore: Store,
    private readonly control: ControlWatch | undefined,
  ) {
    this.budget = new ReplacementBudget(o.maxRestarts ?? defaultMaxRestarts(o.workers));
    this.nextSlot = o.workers;
    this.agent = new ElasticAgent({
      store: agentStore,
      initialWorkers: o.workers,
      minWorkers: o.minWorkers,
      maxWorkers: o.maxWorkers,
      heartbeatTimeoutMs: o.heartbeatTimeoutMs,
      onChange: (change: MembershipChange, gen: Generation) =>
        o.onEvent?.({ event: 'membership', ...change, members: gen.members }),
      onDead: (id, reason) => {
        const child = this.children.get(id);
        if (child && child.exitCode === null && child.signalCode === null) {
          o.onEvent?.({ event: 'worker-killed', worker: id, reason });
          child.kill('SIGKILL');
        }
      },
    });
  }

  async run(): Promise<LaunchResult | LaunchPreempted> {
    const { o } = this;
    o.onEvent?.({ event: 'rendezvous', masterAddr: this.addr, masterPort: this.masterPort });
    const onInterrupt = () => this.stop();
    const onTerm = () => void this.preempt('SIGTERM');
    const onResize = () => this.control?.check();
    process.once('SIGINT', onInterrupt);
    process.on('SIGTERM', onTerm);
    process.on('SIGUSR2', onResize);
    try {
      this.spawn(false, [...Array(o.workers).keys()]);
      this.control?.start((n) => this.resize(n));
      const text = await this.agent.run().catch((err: unknown) => this.failed(err));
      this.finished = true;
      // A job that finished before its workers saw the preemption request has finished: its result stands.
      const stopped = this.agent.preempted || this.preemption?.expired === true;
      return stopped ? await this.preempted(text) : await this.result(text);
    } finally {
      this.finished = true;
      this.control?.stop();
      clearTimeout(this.preemption?.timer);
      process.removeListener('SIGINT', onInterrupt);
      process.removeListener('SIGTERM', onTerm);
      process.removeListener('SIGUSR2', onResize);
      this.killAll();
    }
  }

  /** The agent stopped or aborted: a preemption whose grace ran out, or a failed job. */
  private failed(err: unknown): string {
    if (this.preemption?.expired) return 'null';
    throw err instanceof TrainError
      ? err
      : new TrainError('TRAIN_JOB_FAILED', `elastic job failed: ${(err as Error).message}`);
  }

  private async result(done: string): Promise<LaunchResult> {
    const result = JSON.parse(done) as DistributedResult;
    await waitForExit([...this.children.values()], 60_000);
    const workers: WorkerMetrics[] = [];
    for (const id of this.agent.currentMembers) {
      const r = await this.server.tryGet(K.report(id));
      if (r) workers.push(JSON.parse(r) as WorkerMetrics);
    }
    return {
      ...result,
      membershipChanges: this.agent.changes,
      workers,
      masterPort: this.masterPort,
      restarts: this.budget.restarts,
    };
  }

  private async preempted(text: string): Promise<LaunchPreempted> {
    const point = this.agent.preempted ? (JSON.parse(text) as PreemptionPoint) : null;
    // Workers stop right after the chief's checkpoint; what is left of the grace period bounds the wait.
    if (point)
      await waitForExit([...this.children.values()], this.o.preemptGraceMs ?? DEFAULT_PREEMPT_GRACE_MS);
    const none = { checkpoint: null, epoch: -1, stepInEpoch: -1, globalStep: -1 };
    return {
      preempted: {
        ...(point ?? none),
        checkpointed: point !== null,
        reason: this.preemption?.reason ?? 'preempted',
      },
      membershipChanges: this.agent.changes,
      masterPort: this.masterPort,
      restarts: this.budget.restarts,
    };
  }

  /** SIGTERM: the workers checkpoint at the next step boundary and stop; past the grace period, they are killed. */
  private async preempt(reason: string): Promise<void> {
    if (this.preemption || this.finished) return;
    const grace = this.o.preemptGraceMs ?? DEFAULT_PREEMPT_GRACE_MS;
    const timer = setTimeout(() => {
      if (this.preemption) this.preemption.expired = true;
      this.o.onEvent?.({ event: 'preempt-grace-expired', graceMs: grace });
      this.stop();
    }, grace);
    this.preemption = { reason, timer, expired: false };
    this.o.onEvent?.({ event: 'preempt-requested', reason, graceMs: grace });
    // From now on no worker is replaced: the job is ending.
    this.finished = true;
    await this.server.set(K.preempt, reason);
  }

  /** Elastic resize to `n` workers: start the missing local workers, or let the agent dismiss the newest. */
  private resize(n: number): void {
    const { o } = this;
    if (this.finished) return;
    if (n < o.minWorkers || n > o.maxWorkers) {
      o.onEvent?.({
        event: 'resize-refused',
        workers: n,
        reason: `needs --min-workers ${o.minWorkers} <= workers <= --max-workers ${o.maxWorkers}`,
      });
      return;
    }
    this.agent.resize(n);
    const live = [...this.children].filter(
      ([id, c]) => c.exitCode === null && c.signalCode === null && !this.agent.isDismissed(id),
    ).length;
    const slots = Array.from({ length: Math.max(0, n - live) }, () => this.nextSlot++);
    const started = this.spawn(true, slots);
    o.onEvent?.({ event: 'resize', workers: n, from: live, started });
  }

  private stop(): void {
    this.finished = true;
    this.agent.stop();
    this.killAll();
  }

  private killAll(): void {
    for (const c of this.children.values())
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }

  /** Starts the workers of the given slots (RANK/LOCAL_RANK); a slot is reused by the worker that replaces it. */
  private spawn(resume: boolean, slots: number[]): string[] {
    const { o } = this;
    const args = resume && !o.command.includes('--resume') ? [...o.command, '--resume'] : o.command;
    return slots.map((i) => {
      const child = spawnOwned(args[0] as string, args.slice(1), {
        env: {
          ...process.env,
          ...o.env,
          MASTER_ADDR: this.addr,
          MASTER_PORT: String(this.masterPort),
          [JOB_SECRET_ENV]: this.secret,
          // Informational in an elastic job (ranks come from the generation); above every slot's RANK.
          WORLD_SIZE: String(Math.max(o.workers, i + 1)),
          RANK: String(i),
          LOCAL_RANK: String(i),
          DISTML_ELASTIC: '1',
          DISTML_THREADS: String(o.threadsPerWorker),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const id = `${hostname()}-${child.pid}`;
      this.children.set(id, child);
      forwardLines(child.stderr, (line) => o.onWorkerLine?.(line, id));
      // A worker's stdout carries its result or, when it fails, its {"error": …} document.
      forwardLines(child.stdout, (line) => {
        if (line.startsWith('{"error"'))
          o.onEvent?.({ event: 'worker-error', worker: id, ...(JSON.parse(line) as object) });
      });
      child.on('exit', (code, signal) => this.exited(i, id, { code, signal }));
      return id;
    });
  }

  private exited(slot: number, id: string, exit: WorkerExit): void {
    // A dismissed worker left as asked (shrink); a preempted one stopped as asked: neither is a death.
    if (this.agent.isDismissed(id)) {
      this.o.onEvent?.({ event: 'worker-left', worker: id, code: exit.code });
      return;
    }
    if (exit.code === PREEMPTED_EXIT_CODE && this.preemption) return;
    // A clean exit means training finished (the agent sees the result on its next poll).
    if (exit.code === 0) this.cleanExit = true;
    else if (!this.finished)
      this.agent.markDead(id, exit.signal ? `killed by ${exit.signal}` : `exited with code ${exit.code}`);
    this.replace(slot, id, exit);
  }

  // A local worker that died is replaced in its slot (same command and environment, a new id): it registers,
  // the agent admits it at the next step boundary, and it receives the state by broadcast. Survivors go on.
  private replace(slot: number, id: string, exit: WorkerExit): void {
    const d = this.budget.onExit(exit, this.finished || this.cleanExit);
    if (!d.replace) {
      if (d.reason) this.o.onEvent?.({ event: 'worker-not-replaced', worker: id, reason: d.reason });
      return;
    }
    const [by] = this.spawn(true, [slot]);
    this.o.onEvent?.({ event: 'worker-replaced', worker: id, by, reason: d.reason, restarts: d.restarts });
  }
}

/**
 * How many workers to start: --workers, or the size a scheduler's standing request grants (control.ts) when
 * one is there at the launch and within --min-workers..--max-workers (else refused, as a resize would be).
 */
function startingWorkers(o: LaunchOptions, standing: ControlRequest | undefined): number {
  if (!standing) return o.workers;
  if (standing.workers >= o.minWorkers && standing.workers <= o.maxWorkers) return standing.workers;
  o.onEvent?.({
    event: 'resize-refused',
    workers: standing.workers,
    reason: `needs --min-workers ${o.minWorkers} <= workers <= --max-workers ${o.maxWorkers}`,
  });
  return o.workers;
}

/** Calls `onLine` with each complete line the stream sends. */
export function forwardLines(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  let buf = '';
  stream?.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      onLine(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
  });
}

async function waitForExit(children: ChildProcess[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const c of children) {
    while (c.exitCode === null && c.signalCode === null && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
  }
}
