// bench/serve: the model server under load from Debian's `hey`, as in the book's Listing 9.29
// (`hey -z 30s -c 5`, where KServe answered 95.7 requests/s), plus 64 concurrent clients, next to the
// model's raw batched forward throughput in-process. The request is the book's: one Fashion-MNIST JPEG as
// {"instances":[{"image_bytes":{"b64":...}}]}. Duration: BENCH_SERVE_DURATION (default 30s).
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import jpeg from 'jpeg-js';
import { CLASS_NAMES, DEBIAN_DIR, resolveFashionMnist, scaledSplit } from '../../src/data/index.js';
import { createModel } from '../../src/engine/index.js';
import { bookModelSpec, loadModel, savePackage } from '../../src/models/index.js';
import { publish } from '../../src/registry/index.js';
import { report, ROOT } from '../harness.js';

const HEY = '/usr/bin/hey';
const DURATION = process.env['BENCH_SERVE_DURATION'] ?? '30s';
const CONCURRENCY = [5, 64];
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');

async function testImage(workspace: string): Promise<Uint8Array> {
  if (existsSync(join(DEBIAN_DIR, 't10k-images-idx3-ubyte.gz'))) {
    const src = await resolveFashionMnist({ source: 'debian', workspace });
    for await (const chunk of scaledSplit('test', src.test, { cache: 'none', workspace }).chunks()) {
      if (chunk[0]) return Uint8Array.from(chunk[0].image, (v) => Math.round(v * 255));
    }
  }
  return Uint8Array.from({ length: 784 }, (_, i) => (i * 7) % 256);
}

function jpegOf(gray: Uint8Array): Buffer {
  const rgba = Buffer.alloc(784 * 4, 255);
  gray.forEach((v, i) => rgba.fill(v, i * 4, i * 4 + 3));
  return jpeg.encode({ data: rgba, width: 28, height: 28 }, 95).data;
}

/** images/s of model.predict at a batch size, in-process (no HTTP, no decoding). */
async function rawThroughput(dir: string, batch: number, seconds = 3): Promise<number> {
  const { model } = await loadModel(dir);
  try {
    const x = new Float32Array(batch * 784).fill(0.5);
    await model.predict(x, batch);
    let n = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < seconds * 1000) {
      await model.predict(x, batch);
      n += batch;
    }
    return n / ((performance.now() - t0) / 1000);
  } finally {
    await model.dispose();
  }
}

/** Parses hey's summary: requests/s, p50/p99 latency (ms) and status codes. */
function parseHey(text: string): Record<string, unknown> {
  const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
  const codes: Record<string, number> = {};
  for (const m of text.matchAll(/\[(\d{3})\]\s+(\d+) responses/g)) codes[m[1] as string] = Number(m[2]);
  return {
    requestsPerSecond: num(/Requests\/sec:\s+([\d.]+)/),
    p50Ms: num(/50%+ in ([\d.]+) secs/) * 1000,
    p99Ms: num(/99%+ in ([\d.]+) secs/) * 1000,
    statusCodes: codes,
  };
}

async function startServer(repo: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(
    process.execPath,
    [CLI, 'serve', '--repo', repo, '--model', 'fmnist', '--port', '0', '--json'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const line = await new Promise<string>((resolve) =>
    createInterface({ input: child.stdout }).once('line', resolve),
  );
  const { url } = JSON.parse(line) as { url: string };
  for (let i = 0; i < 600; i++) {
    const r = await fetch(`${url}/v2/health/ready`).catch(() => undefined);
    if (r?.status === 200) break;
    await new Promise((res) => setTimeout(res, 50));
  }
  return {
    url,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

async function main(): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'distml-bench-serve-'));
  try {
    const spec = bookModelSpec('cnn');
    const model = createModel(spec, { seed: 1 });
    const { tensors } = await model.getState();
    await model.dispose();
    const pkg = join(tmp, 'pkg');
    await savePackage(pkg, { name: 'cnn', spec, tensors, classNames: CLASS_NAMES, metrics: {}, lineage: {} });
    const repo = join(tmp, 'repo');
    await publish(repo, 'fmnist', pkg);
    const body = join(tmp, 'inference-input.json');
    const image = jpegOf(await testImage(join(tmp, 'ws')));
    writeFileSync(body, JSON.stringify({ instances: [{ image_bytes: { b64: image.toString('base64') } }] }));

    const raw = { batch64: await rawThroughput(pkg, 64), batch256: await rawThroughput(pkg, 256) };
    const server = await startServer(repo);
    const served: Record<string, Record<string, unknown>> = {};
    try {
      for (const c of CONCURRENCY) {
        const target = `${server.url}/v1/models/fmnist:predict`;
        const args = [
          '-z',
          DURATION,
          '-c',
          String(c),
          '-m',
          'POST',
          '-T',
          'application/json',
          '-D',
          body,
          target,
        ];
        const out = execFileSync(HEY, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
        const r = parseHey(out);
        const rps = r.requestsPerSecond as number;
        served[`c${c}`] = {
          command: `hey ${args.slice(0, -1).join(' ')} URL`,
          ...r,
          ratioToRawBatch64: Math.round((rps / raw.batch64) * 1000) / 1000,
        };
      }
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      const count = Number(/distml_batch_size_count\{[^}]*\} (\d+)/.exec(metrics)?.[1]);
      const sum = Number(/distml_batch_size_sum\{[^}]*\} ([\d.]+)/.exec(metrics)?.[1]);
      served.meanBatchSize = { value: Math.round((sum / count) * 100) / 100 } as Record<string, unknown>;
    } finally {
      await server.stop();
    }
    report('serve', {
      request: 'book Listing 9.25: one 28x28 Fashion-MNIST JPEG as instances[0].image_bytes.b64',
      duration: DURATION,
      bookKServeRequestsPerSecond: 95.7,
      rawImagesPerSecond: { batch64: Math.round(raw.batch64), batch256: Math.round(raw.batch256) },
      served,
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
