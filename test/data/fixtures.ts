import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { encodeIdx } from '../../src/data/index.js';

/** A temp dir removed by `cleanup()` (call it in `after`). */
export function tempDir(prefix = 'distml-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface FixtureOptions {
  count: number;
  gzip?: boolean;
  /** Labels to use; default i % 10. */
  labels?: number[];
  /** Label file count when it should differ from the image count. */
  labelCount?: number;
}

/** Writes a small synthetic Fashion-MNIST split: image i has every pixel equal to i % 256. */
export function writeSplit(dir: string, split: 'train' | 'test', opts: FixtureOptions): void {
  const base = split === 'train' ? 'train' : 't10k';
  const n = opts.count;
  const pixels = new Uint8Array(n * 784);
  for (let i = 0; i < n; i++) pixels.fill(i % 256, i * 784, (i + 1) * 784);
  const nl = opts.labelCount ?? n;
  const labels = Uint8Array.from({ length: nl }, (_, i) => opts.labels?.[i] ?? i % 10);
  const images = encodeIdx(0x08, [n, 28, 28], pixels);
  const lab = encodeIdx(0x08, [nl], labels);
  const ext = opts.gzip ? '.gz' : '';
  writeFileSync(join(dir, `${base}-images-idx3-ubyte${ext}`), opts.gzip ? gzipSync(images) : images);
  writeFileSync(join(dir, `${base}-labels-idx1-ubyte${ext}`), opts.gzip ? gzipSync(lab) : lab);
}

/** Writes both splits. */
export function writeDataset(dir: string, train = 50, test = 20, gzip = true): void {
  writeSplit(dir, 'train', { count: train, gzip });
  writeSplit(dir, 'test', { count: test, gzip });
}

/** Collects an async iterable. */
export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
