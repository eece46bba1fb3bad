// bench/serve-hostile: how long a model server takes to answer its readiness probe and an ordinary request
// (the book's one-JPEG predict) while one client sends hostile image payloads back to back (issue 10):
//   allowed — the largest request the default decode budget accepts: two PNGs declaring 4096x4096 (~16 KB each);
//   user    — the request of the report: 40 such PNGs in a 0.9 MB body (refused with 413 by the budget).
// Health is probed sequentially for BENCH_HOSTILE_SECONDS (default 20) per scenario; p50/p99/max in ms.
// BENCH_HOSTILE_BEFORE_CLI=<dist/src/cli/main.js of an older build> measures that build too, side by side.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { blankPng } from '../../test/serve/fixtures.js';
import { report } from '../harness.js';
import { servingFixture, startServe } from '../serving.js';

const SECONDS = Number(process.env['BENCH_HOSTILE_SECONDS'] ?? 20);
const BEFORE_CLI = process.env['BENCH_HOSTILE_BEFORE_CLI'];

interface Latency {
  n: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

function summary(ms: number[]): Latency {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) =>
    Math.round((s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN) * 10) / 10;
  return { n: s.length, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: at(1) };
}

/** One client POSTing `body` back to back until stopped; counts answers by status. */
function hostileClient(url: string, body: string) {
  const codes: Record<string, number> = {};
  const abort = new AbortController();
  let running = true;
  const done = (async () => {
    while (running) {
      try {
        const res = await fetch(url, { method: 'POST', body, signal: abort.signal });
        await res.arrayBuffer();
        codes[res.status] = (codes[res.status] ?? 0) + 1;
      } catch {
        if (running) codes['error'] = (codes['error'] ?? 0) + 1;
      }
    }
  })();
  return {
    codes,
    stop: async () => {
      running = false;
      abort.abort();
      await done;
    },
  };
}

/** Sequential probes for SECONDS: the readiness probe, then the ordinary predict, each timed. */
async function probe(url: string, ordinary: string): Promise<{ health: Latency; predict: Latency }> {
  const health: number[] = [];
  const predict: number[] = [];
  const deadline = performance.now() + SECONDS * 1000;
  while (performance.now() < deadline) {
    let t0 = performance.now();
    await (await fetch(`${url}/v2/health/ready`)).arrayBuffer();
    health.push(performance.now() - t0);
    t0 = performance.now();
    const r = await fetch(`${url}/v1/models/fmnist:predict`, { method: 'POST', body: ordinary });
    await r.arrayBuffer();
    if (r.status === 200) predict.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 20));
  }
  return { health: summary(health), predict: summary(predict) };
}

async function measure(repo: string, ordinary: string, cli?: string) {
  const server = await startServe(['--repo', repo, '--model', 'fmnist'], cli);
  const png = { image_bytes: { b64: blankPng(4096, 4096).toString('base64') } };
  const loads = {
    quiet: undefined,
    allowed: JSON.stringify({ instances: [png, png] }),
    user: JSON.stringify({ instances: Array(40).fill(png) }),
  };
  const out: Record<string, unknown> = {};
  try {
    for (const [name, body] of Object.entries(loads)) {
      const client = body ? hostileClient(`${server.url}/v1/models/fmnist:predict`, body) : undefined;
      const r = await probe(server.url, ordinary);
      await client?.stop();
      out[name] = { ...r, hostileAnswers: client?.codes, hostileBodyBytes: body?.length };
    }
  } finally {
    await server.stop();
  }
  return out;
}

const dir = mkdtempSync(join(tmpdir(), 'distml-bench-hostile-'));
try {
  const fx = await servingFixture(dir);
  const ordinary = readFileSync(fx.body, 'utf8');
  const after = await measure(fx.repo, ordinary);
  const before = BEFORE_CLI ? await measure(fx.repo, ordinary, BEFORE_CLI) : undefined;
  report('serve-hostile', {
    command: `${BEFORE_CLI ? `BENCH_HOSTILE_BEFORE_CLI=${BEFORE_CLI} ` : ''}node dist/bench/serve-hostile/main.js`,
    secondsPerScenario: SECONDS,
    limits: 'defaults: --max-decode-pixels 33554432, --max-decode-bytes 268435456, --decode-threads 1',
    after,
    ...(before ? { before } : {}),
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
