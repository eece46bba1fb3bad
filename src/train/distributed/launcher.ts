import type { ChildProcess } from 'node:child_process';
import { hostname } from 'node:os';
import { newJobSecret, Store, StoreServer } from '../../engine/index.js';
import { spawnOwned } from '../../process/index.js';
import { TrainError } from '../errors.js';
import { ElasticAgent } from './agent.js';
import { JOB_SECRET_ENV } from './env.js';
import { K, type Generation, type MembershipChange } from './protocol.js';
import { defaultMaxRestarts, ReplacementBudget, type WorkerExit } from './replacement.js';
import type { DistributedResult, WorkerMetrics } from './options.js';

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
  env?: NodeJS.ProcessEnv;
  onEvent?: (event: Record<string, unknown>) => void;
  /** Lines the chief writes on stderr (its progress), passed through. */
  onWorkerLine?: (line: string, workerId: string) => void;
}

export interface LaunchResult extends DistributedResult {
  masterPort: number;
  /** Replacement workers started. */
  restarts: number;
}

/**
 * `distml train --workers N`: hosts the rendezvous store, runs the elastic agent, starts N local workers with
 * torch's environment contract (MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK, LOCAL_RANK) plus DISTML_ELASTIC=1,
 * kills a worker the agent declares dead (so its sockets close and peers fail fast), and starts a replacement
 * for a local worker that died, up to `maxRestarts`; the survivors go on. Children die with it on
 * SIGINT/SIGTERM.
 */
export async function launchWorkers(o: LaunchOptions): Promise<LaunchResult> {
  const listenHost = o.listenHost ?? '127.0.0.1';
  const secret = o.secret ?? newJobSecret();
  const storeServer = await StoreServer.start({ host: listenHost, port: o.port ?? 0, secret });
  const masterPort = storeServer.port;
  // Local workers dial the listen address too: it is also the address their Gloo peers reach them at.
  const localAddr = listenHost;
  const server = await Store.connect({ host: localAddr, port: masterPort, secret }).catch(
    async (err: unknown) => {
      await storeServer.close();
      throw err;
    },
  );
  o.onEvent?.({ event: 'rendezvous', masterAddr: listenHost, masterPort });
  const children = new Map<string, ChildProcess>();
  const budget = new ReplacementBudget(o.maxRestarts ?? defaultMaxRestarts(o.workers));
  let finished = false;
  let cleanExit = false;
  const agent: ElasticAgent = new ElasticAgent({
    store: await Store.connect({ host: localAddr, port: masterPort, secret }),
    initialWorkers: o.workers,
    minWorkers: o.minWorkers,
    maxWorkers: o.maxWorkers,
    heartbeatTimeoutMs: o.heartbeatTimeoutMs,
    onChange: (change: MembershipChange, gen: Generation) =>
      o.onEvent?.({ event: 'membership', ...change, members: gen.members }),
    onDead: (id, reason) => {
      const child = children.get(id);
      if (child && child.exitCode === null && child.signalCode === null) {
        o.onEvent?.({ event: 'worker-killed', worker: id, reason });
        child.kill('SIGKILL');
      }
    },
  });

  // Starts the workers of the given slots (RANK/LOCAL_RANK); a slot is reused by the worker that replaces it.
  const spawnGroup = (resume: boolean, slots = [...Array(o.workers).keys()]): string[] => {
    const ids: string[] = [];
    for (const i of slots) {
      const args = resume && !o.command.includes('--resume') ? [...o.command, '--resume'] : o.command;
      const child = spawnOwned(args[0] as string, args.slice(1), {
        env: {
          ...process.env,
          ...o.env,
          MASTER_ADDR: localAddr,
          MASTER_PORT: String(masterPort),
          [JOB_SECRET_ENV]: secret,
          WORLD_SIZE: String(o.workers),
          RANK: String(i),
          LOCAL_RANK: String(i),
          DISTML_ELASTIC: '1',
          DISTML_THREADS: String(o.threadsPerWorker),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const id = `${hostname()}-${child.pid}`;
      children.set(id, child);
      ids.push(id);
      forwardLines(child.stderr, (line) => o.onWorkerLine?.(line, id));
      // A worker's stdout carries its result or, when it fails, its {"error": …} document.
      forwardLines(child.stdout, (line) => {
        if (line.startsWith('{"error"'))
          o.onEvent?.({ event: 'worker-error', worker: id, ...(JSON.parse(line) as object) });
      });
      child.on('exit', (code, signal) => {
        // A clean exit means training finished (the agent sees the result on its next poll).
        if (code === 0) cleanExit = true;
        else if (!finished) agent.markDead(id, signal ? `killed by ${signal}` : `exited with code ${code}`);
        replace(i, id, { code, signal });
      });
    }
    return ids;
  };

  // A local worker that died is replaced in its slot (same command and environment, a new id): it registers,
  // the agent admits it at the next step boundary, and it receives the state by broadcast. Survivors go on.
  const replace = (slot: number, id: string, exit: WorkerExit) => {
    const d = budget.onExit(exit, finished || cleanExit);
    if (!d.replace) {
      if (d.reason) o.onEvent?.({ event: 'worker-not-replaced', worker: id, reason: d.reason });
      return;
    }
    const [by] = spawnGroup(true, [slot]);
    o.onEvent?.({ event: 'worker-replaced', worker: id, by, reason: d.reason, restarts: d.restarts });
  };

  const stopAll = () => {
    for (const c of children.values()) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  };
  const onSignal = () => {
    finished = true;
    agent.stop();
    stopAll();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    spawnGroup(false);
    const done = await agent.run().catch((err: unknown) => {
      throw err instanceof TrainError
        ? err
        : new TrainError('TRAIN_BAD_OPTION', `elastic job failed: ${(err as Error).message}`);
    });
    finished = true;
    const result = JSON.parse(done) as DistributedResult;
    await waitForExit([...children.values()], 60_000);
    const workers: WorkerMetrics[] = [];
    for (const id of agent.currentMembers) {
      const r = await server.tryGet(K.report(id));
      if (r) workers.push(JSON.parse(r) as WorkerMetrics);
    }
    return {
      ...result,
      membershipChanges: agent.changes,
      workers,
      masterPort,
      restarts: budget.restarts,
    };
  } finally {
    finished = true;
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    stopAll();
    await storeServer.close();
  }
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
