// bench/serve-scale: the book's autoscaling experiment (9.3.2, Listings 9.28-9.31) replayed on the gateway —
// start at 1 replica with `scaleMetric: concurrency, scaleTarget: 1`, send `hey -z 30s -c 5` (the book saw 5
// pods, then 1 again), record the replica count over time, requests/s and errors — then throughput with 1 vs
// 2 fixed replicas (one libtorch thread each) on this machine. All load targets 127.0.0.1 and is bounded.
// Env: BENCH_SCALE_DURATION (hey -z, default 30s), BENCH_SCALE_STABLE (stable window, default 60s, Knative's),
// BENCH_SCALE_FIXED_DURATION (default 10s).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { report } from '../harness.js';
import { BOOK_REQUEST, hey, servingFixture, startServe } from '../serving.js';

const DURATION = process.env['BENCH_SCALE_DURATION'] ?? '30s';
const STABLE = process.env['BENCH_SCALE_STABLE'] ?? '60s';
const FIXED_DURATION = process.env['BENCH_SCALE_FIXED_DURATION'] ?? '10s';

interface Status {
  models: { ready: number; desired: number; replicas: unknown[]; autoscaler?: { decisions: unknown[] } }[];
}
const status = async (url: string) =>
  ((await (await fetch(`${url}/gateway/status`)).json()) as Status).models[0]!;

/** The book's experiment: replica count every 500 ms during and after `hey -z DURATION -c 5`. */
async function autoscaleExperiment(repo: string, body: string): Promise<Record<string, unknown>> {
  const gw = await startServe([
    ...['--repo', repo, '--model', 'fmnist', '--autoscale', '--min', '1', '--max', '5'],
    ...['--target-concurrency', '1', '--stable-window', STABLE],
  ]);
  const t0 = Date.now();
  const timeline: { s: number; ready: number; desired: number }[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const s = await status(gw.url);
      const point = { s: Math.round((Date.now() - t0) / 100) / 10, ready: s.ready, desired: s.desired };
      const last = timeline[timeline.length - 1];
      if (!last || last.ready !== point.ready || last.desired !== point.desired) timeline.push(point);
      await new Promise((r) => setTimeout(r, 500));
    }
  })();
  try {
    const load = await hey(`${gw.url}/v1/models/fmnist:predict`, DURATION, 5, body);
    const loadEnded = (Date.now() - t0) / 1000;
    const peak = Math.max(...timeline.map((p) => p.ready));
    const deadline = Date.now() + parseSeconds(STABLE) * 1000 + 30_000;
    while (Date.now() < deadline && (await status(gw.url)).replicas.length > 1)
      await new Promise((r) => setTimeout(r, 500));
    const backToOneAfterLoadS = Math.round(((Date.now() - t0) / 1000 - loadEnded) * 10) / 10;
    sampling = false;
    await sampler;
    const s = await status(gw.url);
    return {
      command: `distml serve --repo R --model fmnist --autoscale --min 1 --max 5 --target-concurrency 1 --stable-window ${STABLE}`,
      load,
      peakReadyReplicas: peak,
      finalReplicas: s.replicas.length,
      loadEndedAtS: Math.round(loadEnded * 10) / 10,
      backToOneAfterLoadS,
      timeline,
      decisions: s.autoscaler?.decisions,
    };
  } finally {
    sampling = false;
    await gw.stop();
  }
}

const parseSeconds = (d: string) =>
  Number(/^(\d+(?:\.\d+)?)/.exec(d)?.[1] ?? 60) * (d.endsWith('ms') ? 0.001 : d.endsWith('m') ? 60 : 1);

/** Requests/s through the gateway with a fixed number of replicas. */
async function fixed(repo: string, body: string, replicas: number): Promise<Record<string, unknown>> {
  const gw = await startServe(['--repo', repo, '--model', 'fmnist', '--replicas', String(replicas)]);
  try {
    const out: Record<string, unknown> = {};
    for (const c of [5, 16])
      out[`c${c}`] = await hey(`${gw.url}/v1/models/fmnist:predict`, FIXED_DURATION, c, body);
    return out;
  } finally {
    await gw.stop();
  }
}

async function main(): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'distml-bench-serve-scale-'));
  try {
    const { repo, body } = await servingFixture(tmp);
    const autoscale = await autoscaleExperiment(repo, body);
    const one = await fixed(repo, body, 1);
    const two = await fixed(repo, body, 2);
    report('serve-scale', {
      request: BOOK_REQUEST,
      book: { replicasDuringLoad: 5, replicasAfter: 1, requestsPerSecond: 95.7 },
      autoscale,
      fixedReplicas: { duration: FIXED_DURATION, replicas1: one, replicas2: two },
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
