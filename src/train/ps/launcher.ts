import type { ChildProcess } from 'node:child_process';
import { newJobSecret } from '../../engine/index.js';
import { spawnOwned } from '../../process/index.js';
import { TrainError } from '../errors.js';
import { shutdownServer, type ServerAddress } from './client.js';
import { PS_ENV } from './env.js';
import type { Partition } from './partition.js';
import type { ServerStats } from './server.js';
import type { PsResult, PsWorkerMetrics } from './worker.js';
import { forwardLines } from '../distributed/launcher.js';
import type { PsEvent } from '../events.js';

export interface PsLaunchOptions {
  /** Program and arguments of a role process (the same `distml train …` command); the role comes from env. */
  command: string[];
  servers: number;
  workers: number;
  partition: Partition;
  threadsPerWorker: number;
  /** Address servers listen on and workers dial. Default 127.0.0.1. */
  host?: string;
  /** The job's secret every connection to a server presents. Default: a fresh random one. */
  secret?: string;
  /** How long a server may take to start listening. Default 60 s. */
  startTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  onEvent?: (event: PsEvent) => void;
  /** Lines the chief writes on stderr (its progress). */
  onChiefLine?: (line: string) => void;
}

export interface PsLaunchResult extends PsResult {
  /** Examples applied over the job's wall-clock training time (including the chief's evaluations). */
  wallImagesPerSecond: number;
  partition: Partition;
}

interface Child {
  name: string;
  proc: ChildProcess;
  stdout: string[];
  /** Resolves with the exit code, or the signal's name when one killed it. */
  exited: Promise<number | string>;
}

/**
 * `distml train --strategy parameter-server --ps P --workers N`: starts P server processes (each announces
 * its port), then N workers given the servers' addresses, relays the chief's progress, and when every
 * worker is done asks each server for its statistics and to stop. Any process failing stops the job;
 * every child dies with the launcher (signals, errors, and the servers watch their stdin for its death).
 */
export async function launchParameterServer(o: PsLaunchOptions): Promise<PsLaunchResult> {
  const host = o.host ?? '127.0.0.1';
  const secret = o.secret ?? newJobSecret();
  const children: Child[] = [];
  const partitionEnv = JSON.stringify(
    o.partition.shards.map(({ index, start, end }) => ({ index, start, end })),
  );
  const base = {
    ...process.env,
    ...o.env,
    [PS_ENV.partition]: partitionEnv,
    [PS_ENV.workers]: String(o.workers),
    [PS_ENV.secret]: secret,
  };
  const start = (name: string, env: NodeJS.ProcessEnv, onErrLine: (l: string) => void): Child => {
    const proc = spawnOwned(o.command[0] as string, o.command.slice(1), {
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const child: Child = {
      name,
      proc,
      stdout: [],
      exited: new Promise((resolve) =>
        proc.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
      ),
    };
    forwardLines(proc.stdout, (l) => child.stdout.push(l));
    forwardLines(proc.stderr, onErrLine);
    children.push(child);
    return child;
  };
  const stopAll = () => {
    for (const c of children)
      if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
  };
  process.once('SIGINT', stopAll);
  process.once('SIGTERM', stopAll);
  try {
    const addresses: ServerAddress[] = [];
    for (let k = 0; k < o.servers; k++) {
      let announce: (port: number) => void = () => undefined;
      const listening = new Promise<number>((resolve) => (announce = resolve));
      const c = start(
        'parameter server ' + k,
        {
          ...base,
          [PS_ENV.role]: 'server',
          [PS_ENV.index]: String(k),
          [PS_ENV.host]: host,
          [PS_ENV.port]: '0',
          DISTML_THREADS: '1',
        },
        (line) => {
          const e = parseJson(line);
          if (e?.['event'] === 'ps-listening') announce(Number(e['port']));
        },
      );
      const port = await raceExit(c, listening, o.startTimeoutMs ?? 60_000);
      addresses.push({ host, port });
      o.onEvent?.({
        event: 'ps-server',
        index: k,
        host,
        port,
        start: o.partition.shards[k]?.start,
        end: o.partition.shards[k]?.end,
      });
    }
    const servers = addresses.map((a) => `${a.host}:${a.port}`).join(',');
    const workers = Array.from({ length: o.workers }, (_, i) =>
      start(
        `worker ${i}`,
        {
          ...base,
          [PS_ENV.role]: 'worker',
          [PS_ENV.rank]: String(i),
          [PS_ENV.servers]: servers,
          DISTML_THREADS: String(o.threadsPerWorker),
        },
        (line) => {
          if (i === 0) o.onChiefLine?.(line);
        },
      ),
    );
    // Fail fast: the first worker to fail ends the job (the others would wait for nothing under a bound).
    await Promise.all(
      workers.map(async (w) => {
        const code = await w.exited;
        if (code !== 0)
          throw new TrainError(
            'TRAIN_PROCESS_FAILED',
            `${w.name} failed: ${errorOf(w) ?? (typeof code === 'string' ? `killed by ${code}` : `exit code ${code}`)}`,
          );
      }),
    );
    const stats: ServerStats[] = [];
    for (const a of addresses) stats.push(await shutdownServer(a, secret));
    const chief = parseJson(workers[0]?.stdout.at(-1) ?? '') as unknown as PsResult | undefined;
    if (!chief || chief.strategy !== 'parameter-server')
      throw new TrainError('TRAIN_PROCESS_FAILED', 'worker 0 printed no result');
    const metrics = workers.map((w) => {
      const r = parseJson(w.stdout.at(-1) ?? '') as
        { metrics?: PsWorkerMetrics; workers?: PsWorkerMetrics[] } | undefined;
      return r?.workers?.[0] ?? r?.metrics;
    });
    await Promise.all(children.map((c) => raceTimeout(c.exited, 10_000)));
    const all = metrics.filter((m): m is PsWorkerMetrics => m !== undefined);
    // Training throughput: each worker's rate over its own training time (the chief's evaluation pauses
    // are not training), summed; the wall-clock rate is kept beside it.
    const rate = all.reduce((n, m) => n + m.examples / Math.max(1e-9, m.seconds - m.evalSeconds), 0);
    return {
      ...chief,
      imagesPerSecond: rate,
      wallImagesPerSecond: chief.examples / chief.trainSeconds,
      workers: all,
      servers: stats,
      partition: o.partition,
    };
  } finally {
    process.removeListener('SIGINT', stopAll);
    process.removeListener('SIGTERM', stopAll);
    stopAll();
  }
}

function errorOf(c: Child): string | undefined {
  for (const line of [...c.stdout].reverse()) {
    const e = parseJson(line)?.['error'] as { message?: string } | undefined;
    if (e?.message) return e.message;
  }
  return undefined;
}

async function raceExit<T>(c: Child, p: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const exited = c.exited.then((code) => {
    throw new TrainError(
      'TRAIN_PROCESS_FAILED',
      `${c.name} exited (code ${code}) before it was ready: ${errorOf(c) ?? 'no message'}`,
    );
  });
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new TrainError('TRAIN_START_TIMEOUT', `${c.name} did not start within ${timeoutMs / 1000} s`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([p, exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function raceTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function parseJson(line: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(line) as unknown;
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
