// Shared pieces for gateway integration tests: a repository with two small models, a `distml serve` gateway
// process on a free port, its status, and a closed-loop load generator aimed at 127.0.0.1 that runs until told.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CLI, owned } from '../../cli/run-cli.js';
import { publishNew, tempDir } from '../fixtures.js';

/** A temp repository with `fmnist` and `fmnist-2` (different weights); `cleanup` removes it. */
export async function twoModelRepo(): Promise<{ repo: string; dir: string; cleanup: () => void }> {
  const tmp = tempDir('distml-gateway-');
  const repo = join(tmp.dir, 'repo');
  await publishNew(repo, 'fmnist', 1, tmp.dir);
  await publishNew(repo, 'fmnist-2', 2, tmp.dir);
  return { repo, dir: tmp.dir, cleanup: tmp.cleanup };
}

export interface RunningGateway {
  child: ChildProcess;
  url: string;
  stderr: () => string;
  /** SIGTERM and wait for exit (SIGKILL after 20 s); resolves with the exit code. */
  stop: () => Promise<number | null>;
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });

/** Starts `distml serve --port 0 --json ARGS` and waits for its listening line (and readiness unless told). */
export async function startGateway(args: string[], waitReady = true): Promise<RunningGateway> {
  const child = owned(
    spawn(process.execPath, [CLI, 'serve', '--local', '--port', '0', '--json', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const code = await exited(child);
    clearTimeout(timer);
    return code;
  };
  // A gateway that never gets up is stopped here: the caller has nothing to stop yet.
  try {
    const first = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listening line after 60 s: ${err}`)), 60_000);
      createInterface({ input: child.stdout! }).once('line', (l) => (clearTimeout(timer), resolve(l)));
      child.once(
        'exit',
        (code) => (clearTimeout(timer), reject(new Error(`gateway exited ${code}: ${err}`))),
      );
    });
    const { url } = JSON.parse(first) as { url: string };
    if (waitReady) await waitFor(async () => (await fetch(`${url}/v2/health/ready`)).status === 200, 60_000);
    return { child, url, stderr: () => err, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

export interface ModelStatus {
  model: string;
  desired: number;
  ready: number;
  queued: number;
  restarts: number;
  replicas: { id: number; state: string; pid: number; served: number; url: string }[];
  autoscaler?: { decisions: { from: number; to: number; reason: string; panic: boolean }[] };
}

/** GET /gateway/status, the first (or named) model. */
export async function status(url: string, model?: string): Promise<ModelStatus> {
  const s = (await (await fetch(`${url}/gateway/status`)).json()) as { models: ModelStatus[] };
  const m = model ? s.models.find((x) => x.model === model) : s.models[0];
  assert.ok(m, `no status for ${model}`);
  return m;
}

/** Polls `pred` every 50 ms until true, or fails after `timeoutMs`. */
export async function waitFor(
  pred: () => Promise<boolean> | boolean,
  timeoutMs: number,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await Promise.resolve(pred()).catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface LoadResult {
  sent: number;
  codes: Record<string, number>;
  errors: string[];
}

export interface RunningLoad {
  /** Counts so far (updated as answers arrive). */
  result: LoadResult;
  /** Ends the load after the requests in flight and resolves with the counts. */
  stop: () => Promise<LoadResult>;
}

/**
 * `concurrency` clients POSTing `body` back to back until `stop()` (bounded by `maxMs` and `maxRequests`,
 * so a forgotten load cannot run on).
 */
export function startLoad(
  url: string,
  body: unknown,
  concurrency: number,
  { maxMs = 120_000, maxRequests = 100_000 } = {},
): RunningLoad {
  const result: LoadResult = { sent: 0, codes: {}, errors: [] };
  const text = JSON.stringify(body);
  const deadline = Date.now() + maxMs;
  let stopped = false;
  const clients = Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (!stopped && Date.now() < deadline && result.sent < maxRequests) {
        result.sent++;
        try {
          const res = await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: text,
          });
          await res.arrayBuffer();
          result.codes[res.status] = (result.codes[res.status] ?? 0) + 1;
        } catch (err) {
          result.errors.push((err as Error).message);
        }
      }
    }),
  );
  return {
    result,
    stop: async () => {
      stopped = true;
      await clients;
      return result;
    },
  };
}

/** `n` distinct examples as [28, 28] pixel rows in [0, 1]. */
export function examples(n: number): number[][][] {
  return Array.from({ length: n }, (_, k) =>
    Array.from({ length: 28 }, (_, y) =>
      Array.from({ length: 28 }, (_, x) => ((x * 7 + y * 3 + k * 11) % 29) / 28),
    ),
  );
}
