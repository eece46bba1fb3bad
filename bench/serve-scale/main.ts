// bench/serve-scale: the book's autoscaling experiment (9.3.2, Listings 9.28-9.31) replayed on the gateway —
// start at 1 replica with `scaleMetric: concurrency, scaleTarget: 1`, send `hey -z 30s -c 5` (the book saw 5
// pods, then 1 again), record the replica count over time, requests/s and errors — then throughput with 1 vs
// 2 fixed replicas (one libtorch thread each) on this machine. All load targets 127.0.0.1 and is bounded.
// Env: BENCH_SCALE_DURATION (hey -z, default 30s), BENCH_SCALE_STABLE (stable window, default 60s, Knative's),
// BENCH_SCALE_FIXED_DURATION (default 10s).
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import jpeg from 'jpeg-js';
import { CLASS_NAMES } from '../../src/data/index.js';
import { createModel } from '../../src/engine/index.js';
import { bookModelSpec, savePackage } from '../../src/models/index.js';
import { publish } from '../../src/registry/index.js';
import { report, ROOT } from '../harness.js';

const HEY = '/usr/bin/hey';
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const DURATION = process.env['BENCH_SCALE_DURATION'] ?? '30s';
const STABLE = process.env['BENCH_SCALE_STABLE'] ?? '60s';
const FIXED_DURATION = process.env['BENCH_SCALE_FIXED_DURATION'] ?? '10s';
const run = promisify(execFile);

interface Gw {
  url: string;
  stop: () => Promise<void>;
}

async function gateway(args: string[]): Promise<Gw> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--json', ...args], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const line = await new Promise<string>((resolve) =>
    createInterface({ input: child.stdout }).once('line', resolve),
  );
  const { url } = JSON.parse(line) as { url: string };
  for (let i = 0; i < 1200; i++) {
    const ok = await fetch(`${url}/v2/health/ready`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    await new Promise((r) => setTimeout(r, 50));
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

function parseHey(text: string): {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  statusCodes: Record<string, number>;
  errors: number;
} {
  const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
  const codes: Record<string, number> = {};
  for (const m of text.matchAll(/\[(\d{3})\]\s+(\d+) responses/g)) codes[m[1] as string] = Number(m[2]);
  const errSection = text.split('Error distribution:')[1] ?? '';
  const errors = [...errSection.matchAll(/\[(\d+)\]/g)].reduce((s, m) => s + Number(m[1]), 0);
  return {
    requestsPerSecond: num(/Requests\/sec:\s+([\d.]+)/),
    p50Ms: num(/50%+ in ([\d.]+) secs/) * 1000,
    p99Ms: num(/99%+ in ([\d.]+) secs/) * 1000,
    statusCodes: codes,
    errors,
  };
}

async function hey(url: string, duration: string, c: number, body: string) {
  const args = ['-z', duration, '-c', String(c), '-m', 'POST', '-T', 'application/json', '-D', body, url];
  const { stdout } = await run(HEY, args, { maxBuffer: 64 * 1024 * 1024 });
  return { command: `hey ${args.slice(0, -1).join(' ')} URL`, ...parseHey(stdout) };
}

interface Status {
  models: { ready: number; desired: number; replicas: unknown[]; autoscaler?: { decisions: unknown[] } }[];
}
const status = async (url: string) =>
  ((await (await fetch(`${url}/gateway/status`)).json()) as Status).models[0]!;

/** The book's experiment: replica count every 500 ms during and after `hey -z DURATION -c 5`. */
async function autoscaleExperiment(repo: string, body: string): Promise<Record<string, unknown>> {
  const gw = await gateway([
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
  const gw = await gateway(['--repo', repo, '--model', 'fmnist', '--replicas', String(replicas)]);
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
    const spec = bookModelSpec('cnn');
    const model = createModel(spec, { seed: 1 });
    const { tensors } = await model.getState();
    await model.dispose();
    const pkg = join(tmp, 'pkg');
    await savePackage(pkg, { name: 'cnn', spec, tensors, classNames: CLASS_NAMES, metrics: {}, lineage: {} });
    const repo = join(tmp, 'repo');
    await publish(repo, 'fmnist', pkg);
    const gray = Uint8Array.from({ length: 784 }, (_, i) => ((i % 28) * 9 + Math.floor(i / 28) * 3) % 256);
    const rgba = Buffer.alloc(784 * 4, 255);
    gray.forEach((v, i) => rgba.fill(v, i * 4, i * 4 + 3));
    const body = join(tmp, 'inference-input.json');
    const image = jpeg.encode({ data: rgba, width: 28, height: 28 }, 95).data;
    writeFileSync(body, JSON.stringify({ instances: [{ image_bytes: { b64: image.toString('base64') } }] }));

    const autoscale = await autoscaleExperiment(repo, body);
    const one = await fixed(repo, body, 1);
    const two = await fixed(repo, body, 2);
    report('serve-scale', {
      request: 'book Listing 9.25: one 28x28 JPEG as instances[0].image_bytes.b64',
      book: { replicasDuringLoad: 5, replicasAfter: 1, requestsPerSecond: 95.7 },
      autoscale,
      fixedReplicas: { duration: FIXED_DURATION, replicas1: one, replicas2: two },
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
