// bench/serve: the model server under load from Debian's `hey`, as in the book's Listing 9.29
// (`hey -z 30s -c 5`, where KServe answered 95.7 requests/s), plus 64 concurrent clients, next to the
// model's raw batched forward throughput in-process (the best of batch 32, 64 and 256) as the limit. The
// request is the book's: one Fashion-MNIST JPEG as {"instances":[{"image_bytes":{"b64":...}}]}.
// Duration: BENCH_SERVE_DURATION (default 30s).
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../../src/models/index.js';
import { report } from '../harness.js';
import { BOOK_REQUEST, hey, servingFixture, startServe } from '../serving.js';

const DURATION = process.env['BENCH_SERVE_DURATION'] ?? '30s';
const CONCURRENCY = [5, 64];
const RAW_BATCHES = [32, 64, 256];

/** images/s of model.predict at each batch size, in-process (no HTTP, no decoding). */
async function rawThroughput(dir: string, seconds = 3): Promise<Record<string, number>> {
  const { model } = await loadModel(dir);
  const out: Record<string, number> = {};
  try {
    for (const batch of RAW_BATCHES) {
      const x = new Float32Array(batch * 784).fill(0.5);
      await model.predict(x, batch);
      let n = 0;
      const t0 = performance.now();
      while (performance.now() - t0 < seconds * 1000) {
        await model.predict(x, batch);
        n += batch;
      }
      out[`batch${batch}`] = Math.round(n / ((performance.now() - t0) / 1000));
    }
  } finally {
    await model.dispose();
  }
  return out;
}

/** CPU seconds (user + system) a process has used so far, from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

async function main(): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'distml-bench-serve-'));
  try {
    const { pkg, repo, body } = await servingFixture(tmp);
    const raw = await rawThroughput(pkg);
    const limit = Math.max(...Object.values(raw));
    const server = await startServe(['--repo', repo, '--model', 'fmnist']);
    const served: Record<string, unknown> = {};
    try {
      for (const c of CONCURRENCY) {
        const cpu0 = cpuSeconds(server.pid);
        const t0 = performance.now();
        const r = await hey(`${server.url}/v1/models/fmnist:predict`, DURATION, c, body);
        const cores = (cpuSeconds(server.pid) - cpu0) / ((performance.now() - t0) / 1000);
        served[`c${c}`] = {
          ...r,
          serverCoresBusy: Math.round(cores * 100) / 100,
          ratioToRaw: Math.round((r.requestsPerSecond / limit) * 1000) / 1000,
        };
        console.error(
          `bench/serve: c${c}: ${Math.round(r.requestsPerSecond)} requests/s, ratio ${(r.requestsPerSecond / limit).toFixed(2)}`,
        );
      }
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      const count = Number(/distml_batch_size_count\{[^}]*\} (\d+)/.exec(metrics)?.[1]);
      const sum = Number(/distml_batch_size_sum\{[^}]*\} ([\d.]+)/.exec(metrics)?.[1]);
      served['meanBatchSize'] = Math.round((sum / count) * 100) / 100;
    } finally {
      await server.stop();
    }
    report('serve', {
      request: BOOK_REQUEST,
      duration: DURATION,
      bookKServeRequestsPerSecond: 95.7,
      rawImagesPerSecond: { ...raw, limit },
      served,
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
