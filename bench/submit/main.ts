// bench/submit: what going through the workspace's server costs a `distml train` typed at a shell (issue 13).
// The same training (the book CNN, STEPS steps, 2 threads) three ways, interleaved REPEAT times:
//   - `--local`: in this process, as before the server (the anchor);
//   - submitted to a running server (warm): a one-step run, the step a child of the server, progress relayed;
//   - submitted with no server running (cold): the CLI starts one first.
// The three ways take turns, in a rotating order.
// Reported: wall seconds of the whole command (median) and the training's own images/s (median) each way, and
// their ratios to --local. Wall time includes process start, data load and the test-split evaluation.
//   node dist/bench/submit/main.js            BENCH_SUBMIT_STEPS=600 (default) BENCH_SUBMIT_REPEAT=3
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ratio, report, ROOT } from '../harness.js';

const STEPS = Number(process.env['BENCH_SUBMIT_STEPS'] ?? 600);
const REPEAT = Number(process.env['BENCH_SUBMIT_REPEAT'] ?? 3);
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');

interface Sample {
  wall: number;
  imagesPerSecond: number;
}

function distml(args: string[]): Promise<{ code: number; stdout: string; stderr: string; wall: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ code: code ?? -1, stdout, stderr, wall: (performance.now() - t0) / 1000 }),
    );
  });
}

async function train(ws: string, out: string, extra: string[]): Promise<Sample> {
  const args = ['train', '--json', `--workspace=${ws}`, '--model', 'cnn', '--epochs', '1'];
  const r = await distml([
    ...args,
    '--steps-per-epoch',
    String(STEPS),
    '--threads',
    '2',
    '--out',
    out,
    ...extra,
  ]);
  if (r.code !== 0) throw new Error(`distml train ${extra.join(' ')} failed: ${r.stderr.slice(-2000)}`);
  const result = JSON.parse(r.stdout.trim().split('\n').pop()!) as { imagesPerSecond: number };
  return { wall: r.wall, imagesPerSecond: result.imagesPerSecond };
}

/** Starts the workspace's server (when none runs) or stops it (when one runs). */
async function server(ws: string, what: 'start' | 'stop'): Promise<void> {
  const status = await distml(['server', 'status', '--json', `--workspace=${ws}`]);
  const running = (JSON.parse(status.stdout) as { running: boolean }).running;
  if (running === (what === 'start')) return;
  const r = await distml(['server', what, `--workspace=${ws}`]);
  if (r.code !== 0) throw new Error(`server ${what} failed: ${r.stderr}`);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'distml-bench-submit-'));
  const ws = join(dir, 'ws');
  const samples: Record<'local' | 'warm' | 'cold', Sample[]> = { local: [], warm: [], cold: [] };
  try {
    // A first local training fills the dataset cache, so no way pays for it.
    await train(ws, join(dir, 'warmup'), ['--local']);
    // The order rotates every round, so a change in the machine's load does not favour one way.
    const ways = ['local', 'cold', 'warm'] as const;
    for (let i = 0; i < REPEAT; i++) {
      for (let k = 0; k < ways.length; k++) {
        const w = ways[(i + k) % ways.length]!;
        if (w === 'cold') await server(ws, 'stop');
        if (w === 'warm') await server(ws, 'start');
        samples[w].push(await train(ws, join(dir, `${w}-${i}`), w === 'local' ? ['--local'] : []));
      }
    }
  } finally {
    await distml(['server', 'stop', `--workspace=${ws}`]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
  const way = (s: Sample[]) => ({
    wallSeconds: +median(s.map((x) => x.wall)).toFixed(2),
    imagesPerSecond: Math.round(median(s.map((x) => x.imagesPerSecond))),
    runs: s.map((x) => ({ wall: +x.wall.toFixed(2), imagesPerSecond: Math.round(x.imagesPerSecond) })),
  });
  const local = way(samples.local);
  const warm = way(samples.warm);
  const cold = way(samples.cold);
  report('submit', {
    steps: STEPS,
    repeat: REPEAT,
    local,
    warm,
    cold,
    wallRatioWarm: ratio(warm.wallSeconds, local.wallSeconds),
    wallRatioCold: ratio(cold.wallSeconds, local.wallSeconds),
    overheadSecondsWarm: +(warm.wallSeconds - local.wallSeconds).toFixed(2),
    overheadSecondsCold: +(cold.wallSeconds - local.wallSeconds).toFixed(2),
    imagesPerSecondRatioWarm: ratio(warm.imagesPerSecond, local.imagesPerSecond),
  });
}

await main();
