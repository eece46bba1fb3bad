// bench/train-distributed: the book CNN (batch 64 per worker, Adam, book schedule) on Fashion-MNIST with
// three strategies on this machine's 2 cores, each through the real `distml train` command:
//   single       1 process × 2 threads
//   allreduce    2 workers × 1 thread, synchronous, Gloo allreduce   (--workers 2)
//   ps           2 workers × 1 thread + 1 parameter server, async   (--workers 2 --strategy parameter-server --ps 1)
// Reports training images/s, the communication share of worker step time, and time to 90% test accuracy
// (cumulative epoch seconds until an epoch ends at ≥ 0.90; null when not reached within BENCH_EPOCHS).
//   node dist/bench/train-distributed/main.js     BENCH_EPOCHS (default 8), BENCH_STEPS (steps per epoch,
//   default one pass), BENCH_STRATEGIES (default single,allreduce,ps)
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { report, ROOT } from '../harness.js';

const EPOCHS = Number(process.env['BENCH_EPOCHS'] ?? 8);
const STEPS = process.env['BENCH_STEPS'];
const STRATEGIES = (process.env['BENCH_STRATEGIES'] ?? 'single,allreduce,ps').split(',');
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const WORKSPACE = join(ROOT, '.distml');

const FLAGS: Record<string, string[]> = {
  single: ['--threads', '2'],
  allreduce: ['--workers', '2'],
  ps: ['--workers', '2', '--strategy', 'parameter-server', '--ps', '1'],
};

interface Run {
  imagesPerSecond: number;
  testAccuracy?: number;
  history: { epoch: number; valAccuracy?: number; seconds: number }[];
  workers?: {
    computeSeconds: number;
    commSeconds: number;
    bytesSent?: number;
    bytesPushed?: number;
    bytesPulled?: number;
  }[];
}

function run(args: string[]): Promise<{ result: Run; wallSeconds: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    child.on('exit', (code) => {
      if (code !== 0)
        return reject(new Error(`distml ${args.join(' ')} exited ${code}: ${out}${err.slice(-800)}`));
      resolve({ result: JSON.parse(out) as Run, wallSeconds: (performance.now() - t0) / 1000 });
    });
  });
}

function timeTo90(history: Run['history']): { seconds: number | null; epochs: number | null } {
  let seconds = 0;
  for (const h of history) {
    seconds += h.seconds;
    if ((h.valAccuracy ?? 0) >= 0.9) return { seconds, epochs: h.epoch + 1 };
  }
  return { seconds: null, epochs: null };
}

async function main(): Promise<void> {
  const rows: Record<string, unknown>[] = [];
  for (const name of STRATEGIES) {
    const out = mkdtempSync(join(tmpdir(), `bench-${name}-`));
    const args = [
      'train',
      '--local',
      '--model',
      'cnn',
      '--epochs',
      String(EPOCHS),
      '--json',
      '--workspace',
      WORKSPACE,
    ];
    args.push(
      '--out',
      join(out, 'model'),
      ...(STEPS ? ['--steps-per-epoch', STEPS] : []),
      ...(FLAGS[name] ?? []),
    );
    try {
      const { result: r, wallSeconds } = await run(args);
      const w = r.workers ?? [];
      const compute = w.reduce((n, x) => n + x.computeSeconds, 0);
      const comm = w.reduce((n, x) => n + x.commSeconds, 0);
      const to90 = timeTo90(r.history);
      rows.push({
        strategy: name,
        command: `distml ${args.map((a) => (a === WORKSPACE ? '<workspace>' : a.startsWith(out) ? '<out>' : a)).join(' ')}`,
        imagesPerSecond: r.imagesPerSecond,
        communicationShare: compute + comm ? comm / (compute + comm) : 0,
        megabytesSentPerWorker: w.length
          ? w.reduce((n, x) => n + (x.bytesSent ?? x.bytesPushed ?? 0), 0) / w.length / 1e6
          : 0,
        secondsTo90: to90.seconds,
        epochsTo90: to90.epochs,
        testAccuracy: r.testAccuracy,
        accuracyByEpoch: r.history.map((h) => h.valAccuracy),
        wallSeconds,
      });
    } catch (err) {
      rows.push({ strategy: name, error: (err as Error).message.slice(0, 600) });
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }
  report('train-distributed', {
    model: 'cnn',
    batchSizePerWorker: 64,
    epochs: EPOCHS,
    stepsPerEpoch: STEPS ?? null,
    rows,
  });
}

await main();
