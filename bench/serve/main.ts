// bench/serve: the model server under load from Debian's `hey`, as in the book's Listing 9.29
// (`hey -z 30s -c 5`, where KServe answered 95.7 requests/s), plus 64 concurrent clients, next to the
// model's raw batched forward throughput in-process as the limit. The request is the book's: one
// Fashion-MNIST JPEG as {"instances":[{"image_bytes":{"b64":...}}]}.
//
// The server runs libtorch on one thread (its default on 2 cores: the event loop keeps the other, which hey
// also needs). Two ratios are reported: to the raw forward at the server's thread count (what the serving
// path costs on top of the same compute) and to the best raw forward at any thread count (what the whole
// machine computes with no HTTP and no load generator). These machines are noisy, so the c64 load runs in
// rounds, each right after its own raw measurement, and the median round is reported.
// Env: BENCH_SERVE_DURATION (c5, default 30s), BENCH_SERVE_ROUNDS (default 3), BENCH_SERVE_ROUND (c64 per
// round, default 10s).
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setNumThreads, type Model } from '../../src/engine/index.js';
import { loadModel } from '../../src/models/index.js';
import { report } from '../harness.js';
import { BOOK_REQUEST, hey, servingFixture, startServe, type HeyResult } from '../serving.js';

const DURATION = process.env['BENCH_SERVE_DURATION'] ?? '30s';
const ROUNDS = Number(process.env['BENCH_SERVE_ROUNDS'] ?? 3);
const ROUND = process.env['BENCH_SERVE_ROUND'] ?? '10s';
const RAW_BATCHES = [32, 64, 256];
const CORES = availableParallelism();
/** `distml serve`'s default: one core left to the event loop. */
const SERVER_THREADS = Math.max(1, CORES - 1);

/** images/s of model.predict at one batch size and thread count, in-process (no HTTP, no decoding). */
async function rawAt(model: Model, threads: number, batch: number, seconds: number): Promise<number> {
  setNumThreads(threads);
  const x = new Float32Array(batch * 784).fill(0.5);
  await model.predict(x, batch);
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    await model.predict(x, batch);
    n += batch;
  }
  return Math.round(n / ((performance.now() - t0) / 1000));
}

/** The best images/s over batch sizes at each thread count 1..cores. */
async function rawTable(model: Model, batches: number[], seconds: number) {
  const table: Record<string, Record<string, number>> = {};
  for (let t = 1; t <= CORES; t++) {
    const row: Record<string, number> = {};
    for (const b of batches) row[`batch${b}`] = await rawAt(model, t, b, seconds);
    table[`threads${t}`] = { ...row, best: Math.max(...Object.values(row)) };
  }
  const same = table[`threads${SERVER_THREADS}`]!['best']!;
  const best = Math.max(...Object.values(table).map((r) => r['best']!));
  return { table, same, best };
}

/** CPU seconds (user + system) a process has used so far, from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

/** hey against the server, with the server's CPU use over the same time (cores busy). */
async function load(url: string, pid: number, duration: string, c: number, body: string) {
  const cpu0 = cpuSeconds(pid);
  const t0 = performance.now();
  const r: HeyResult = await hey(`${url}/v1/models/fmnist:predict`, duration, c, body);
  const cores = (cpuSeconds(pid) - cpu0) / ((performance.now() - t0) / 1000);
  return { ...r, serverCoresBusy: Math.round(cores * 100) / 100 };
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'distml-bench-serve-'));
  try {
    const { pkg, repo, body } = await servingFixture(tmp);
    const { model } = await loadModel(pkg);
    const server = await startServe(['--repo', repo, '--model', 'fmnist']);
    try {
      const raw = await rawTable(model, RAW_BATCHES, 3);
      const c5 = await load(server.url, server.pid, DURATION, 5, body);
      console.error(`bench/serve: c5: ${Math.round(c5.requestsPerSecond)} requests/s`);
      const rounds = [];
      for (let i = 0; i < ROUNDS; i++) {
        const r = await rawTable(model, [32, 64], 2);
        const c64 = await load(server.url, server.pid, ROUND, 64, body);
        const rps = c64.requestsPerSecond;
        rounds.push({
          rawSameThreads: r.same,
          rawBest: r.best,
          ...c64,
          ratioToRawSameThreads: round3(rps / r.same),
          ratioToBestRaw: round3(rps / r.best),
        });
        console.error(
          `bench/serve: c64 round ${i + 1}: ${Math.round(rps)} requests/s; ÷ raw at ${SERVER_THREADS} thread(s) ${(rps / r.same).toFixed(2)}, ÷ best raw ${(rps / r.best).toFixed(2)}`,
        );
      }
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      const count = Number(/distml_batch_size_count\{[^}]*\} (\d+)/.exec(metrics)?.[1]);
      const sum = Number(/distml_batch_size_sum\{[^}]*\} ([\d.]+)/.exec(metrics)?.[1]);
      report('serve', {
        request: BOOK_REQUEST,
        bookKServeRequestsPerSecond: 95.7,
        serverThreads: SERVER_THREADS,
        rawImagesPerSecond: raw.table,
        c5: { ...c5, timesBook: round3(c5.requestsPerSecond / 95.7) },
        c64: {
          roundDuration: ROUND,
          medianRequestsPerSecond: median(rounds.map((r) => r.requestsPerSecond)),
          medianRatioToRawSameThreads: median(rounds.map((r) => r.ratioToRawSameThreads)),
          medianRatioToBestRaw: median(rounds.map((r) => r.ratioToBestRaw)),
          rounds,
        },
        meanBatchSize: Math.round((sum / count) * 100) / 100,
      });
    } finally {
      await server.stop();
      await model.dispose();
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
