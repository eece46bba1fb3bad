import { join } from 'node:path';
import { DiskCache, MemoryCache, type ElementCache } from './cache.js';
import type { Dataset } from './dataset.js';
import { sha256 } from './fingerprint.js';
import {
  CLASS_NAMES,
  scale,
  scaledExampleCodec,
  splitDataset,
  type CorruptPolicy,
  type ScaledExample,
  type Split,
  type SplitFiles,
} from './fashion-mnist.js';
import { resolveFashionMnist, type ResolveOptions, type ResolvedSource } from './sources.js';

export type CacheKind = 'memory' | 'disk' | 'none';

export interface ScaledSplitOptions {
  cache: CacheKind;
  /** Workspace root; the disk cache lives in `<workspace>/cache/data`. */
  workspace: string;
  onCorrupt?: CorruptPolicy;
  onCorruptRecord?: (r: { split: Split; index: number; reason: string }) => void;
}

/** Directory of the on-disk dataset cache inside a workspace. */
export function dataCacheDir(workspace: string): string {
  return join(workspace, 'cache', 'data');
}

/** Builds the cache a kind names (undefined for none). */
export function makeCache(kind: CacheKind, workspace: string): ElementCache<ScaledExample> | undefined {
  if (kind === 'memory') return new MemoryCache<ScaledExample>();
  if (kind === 'disk') return new DiskCache(dataCacheDir(workspace), scaledExampleCodec);
  return undefined;
}

/** A split as the book's pipeline reads it: decoded, scaled to [0, 1], and cached. */
export function scaledSplit(
  split: Split,
  files: SplitFiles,
  opts: ScaledSplitOptions,
  cache = makeCache(opts.cache, opts.workspace),
): Dataset<ScaledExample> {
  const ds = splitDataset(split, files, {
    onCorrupt: opts.onCorrupt,
    onCorruptRecord: opts.onCorruptRecord,
  }).map('scale:float32/255', scale);
  return cache ? ds.cache(cache) : ds;
}

export interface PrepareOptions extends ResolveOptions {
  cache: CacheKind;
  onCorrupt?: CorruptPolicy;
  onProgress?: (p: { split: Split; done: number; total: number }) => void;
}

export interface SplitReport {
  count: number;
  classes: number;
  labelHistogram: number[];
  skipped: number;
  fingerprint: string;
}

export interface PrepareReport {
  source: { kind: ResolvedSource['kind']; dir: string };
  train: SplitReport;
  test: SplitReport;
  /** Identity of the prepared data (source bytes + transforms): the key for memoization and lineage. */
  fingerprint: string;
  cache: { kind: CacheKind; hit: boolean; entries: { split: Split; path?: string; bytes?: number }[] };
  seconds: number;
}

const EXPECTED_COUNTS: Record<Split, number> = { train: 60_000, test: 10_000 };

/** Finds the data, decodes and scales both splits once (filling the cache), and reports what it saw. */
export async function prepareFashionMnist(opts: PrepareOptions): Promise<PrepareReport> {
  const t0 = performance.now();
  const resolved = await resolveFashionMnist(opts);
  const entries: PrepareReport['cache']['entries'] = [];
  let hit = opts.cache !== 'none';
  const splits = {} as Record<Split, SplitReport>;
  for (const split of ['train', 'test'] as const) {
    let skipped = 0;
    const cache = makeCache(opts.cache, opts.workspace);
    const ds = scaledSplit(split, resolved[split], { ...opts, onCorruptRecord: () => skipped++ }, cache);
    const hist = new Array<number>(CLASS_NAMES.length).fill(0);
    let count = 0;
    for await (const e of ds) {
      hist[e.label] = (hist[e.label] as number) + 1;
      if (++count % 5000 === 0) opts.onProgress?.({ split, done: count, total: EXPECTED_COUNTS[split] });
    }
    if (count % 5000 !== 0) opts.onProgress?.({ split, done: count, total: count });
    if (cache && cache.stats.hits === 0) hit = false;
    if (cache instanceof DiskCache) {
      const entry = await cache.entry(ds.fingerprint);
      entries.push({ split, path: entry?.path, bytes: entry?.bytes });
    } else if (cache) entries.push({ split });
    splits[split] = {
      count,
      classes: CLASS_NAMES.length,
      labelHistogram: hist,
      skipped,
      fingerprint: ds.fingerprint,
    };
  }
  return {
    source: { kind: resolved.kind, dir: resolved.dir },
    train: splits.train,
    test: splits.test,
    fingerprint: sha256(`${splits.train.fingerprint}\n${splits.test.fingerprint}`),
    cache: { kind: opts.cache, hit: opts.cache !== 'none' && hit, entries },
    seconds: (performance.now() - t0) / 1000,
  };
}
