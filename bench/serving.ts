// What the serving benchmarks share: a repository holding the book's CNN, the book's request body (one
// Fashion-MNIST JPEG as instances[0].image_bytes.b64, Listing 9.25), `distml serve` as a child process, and
// Debian's `hey` with its summary parsed.
import { execFile, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import jpeg from 'jpeg-js';
import { CLASS_NAMES, DEBIAN_DIR, resolveFashionMnist, scaledSplit } from '../src/data/index.js';
import { createModel } from '../src/engine/index.js';
import { bookModelSpec, savePackage } from '../src/models/index.js';
import { publish } from '../src/registry/index.js';
import { ROOT } from './harness.js';

const HEY = '/usr/bin/hey';
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const execFileAsync = promisify(execFile);

export const BOOK_REQUEST = 'book Listing 9.25: one 28x28 Fashion-MNIST JPEG as instances[0].image_bytes.b64';

/** The first Fashion-MNIST test image (Debian's copy), or a fixed pattern when the package is absent. */
async function testImage(workspace: string): Promise<Uint8Array> {
  if (existsSync(join(DEBIAN_DIR, 't10k-images-idx3-ubyte.gz'))) {
    const src = await resolveFashionMnist({ source: 'debian', workspace });
    for await (const chunk of scaledSplit('test', src.test, { cache: 'none', workspace }).chunks()) {
      if (chunk[0]) return Uint8Array.from(chunk[0].image, (v) => Math.round(v * 255));
    }
  }
  return Uint8Array.from({ length: 784 }, (_, i) => ((i % 28) * 9 + Math.floor(i / 28) * 3) % 256);
}

/**
 * In `dir`: a package of the book's CNN (untrained: the forward pass costs the same), published as version 1
 * of `fmnist` in a repository, and the book's request body as a file for `hey -D`.
 */
export async function servingFixture(dir: string): Promise<{ pkg: string; repo: string; body: string }> {
  const spec = bookModelSpec('cnn');
  const model = createModel(spec, { seed: 1 });
  const { tensors } = await model.getState();
  await model.dispose();
  const pkg = join(dir, 'pkg');
  await savePackage(pkg, { name: 'cnn', spec, tensors, classNames: CLASS_NAMES, metrics: {}, lineage: {} });
  const repo = join(dir, 'repo');
  await publish(repo, 'fmnist', pkg);
  const gray = await testImage(join(dir, 'ws'));
  const rgba = Buffer.alloc(784 * 4, 255);
  gray.forEach((v, i) => rgba.fill(v, i * 4, i * 4 + 3));
  const image = jpeg.encode({ data: rgba, width: 28, height: 28 }, 95).data;
  const body = join(dir, 'inference-input.json');
  writeFileSync(body, JSON.stringify({ instances: [{ image_bytes: { b64: image.toString('base64') } }] }));
  return { pkg, repo, body };
}

export interface Served {
  url: string;
  pid: number;
  stop: () => Promise<void>;
}

/** Starts `distml serve --port 0 --json ARGS` (from another build with `cli`) and waits until it is ready. */
export async function startServe(args: string[], cli = CLI): Promise<Served> {
  const child = spawn(
    process.execPath,
    [cli, 'serve', ...(cli === CLI ? ['--local'] : []), '--port', '0', '--json', ...args],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
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
    pid: child.pid!,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

export interface HeyResult {
  command: string;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  statusCodes: Record<string, number>;
  /** Requests that got no HTTP answer (connection errors, timeouts). */
  errors: number;
}

/** Parses hey's summary. */
export function parseHey(text: string): Omit<HeyResult, 'command'> {
  const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
  const codes: Record<string, number> = {};
  for (const m of text.matchAll(/\[(\d{3})\]\s+(\d+) responses/g)) codes[m[1] as string] = Number(m[2]);
  const errSection = text.split('Error distribution:')[1] ?? '';
  const errors = [...errSection.matchAll(/\[(\d+)\]/g)].reduce((s, m) => s + Number(m[1]), 0);
  return {
    requestsPerSecond: num(/Requests\/sec:\s+([\d.]+)/),
    p50Ms: Math.round(num(/50%+ in ([\d.]+) secs/) * 1e4) / 10,
    p99Ms: Math.round(num(/99%+ in ([\d.]+) secs/) * 1e4) / 10,
    statusCodes: codes,
    errors,
  };
}

/** `hey -z DURATION -c C` POSTing the body file to `url`. */
export async function hey(url: string, duration: string, c: number, body: string): Promise<HeyResult> {
  const args = ['-z', duration, '-c', String(c), '-m', 'POST', '-T', 'application/json', '-D', body, url];
  const { stdout } = await execFileAsync(HEY, args, { maxBuffer: 64 * 1024 * 1024 });
  return { command: `hey ${args.slice(0, -1).join(' ')} URL`, ...parseHey(stdout) };
}
