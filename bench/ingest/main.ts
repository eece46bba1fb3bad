// bench/ingest: parse+scale throughput from the .gz files (numpy as anchor); first vs cached epoch for the
// memory and disk caches, on the cached stage itself and on the book's whole input pipeline; peak RSS while
// streaming batches of 64 for 1 and 3 epochs (bounded memory means it does not grow with the data streamed).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  collate,
  DiskCache,
  MemoryCache,
  resolveFashionMnist,
  scale,
  scaledExampleCodec,
  splitDataset,
  type Dataset,
  type ElementCache,
  type ScaledExample,
  type SplitFiles,
} from '../../src/data/index.js';
import { ratio, report, ROOT, runPythonAnchor, time } from '../harness.js';

/** The cached stage: decode → scale → cache. */
function stage(files: SplitFiles, cache?: ElementCache<ScaledExample>): Dataset<ScaledExample> {
  const scaled = splitDataset('train', files).map('scale', scale);
  return cache ? scaled.cache(cache) : scaled;
}

/** The book's input pipeline (Listing 9.1/9.3): the stage, then shuffle(10000) → batch(64), collated. */
function bookPipeline(s: Dataset<ScaledExample>) {
  return s.shuffle(10_000, 1).batch(64).map('collate', collate);
}

async function count(ds: Dataset<unknown>): Promise<number> {
  let n = 0;
  for await (const c of ds.chunks()) n += c.length;
  return n;
}

async function epochs(ds: Dataset<unknown>): Promise<{ epoch1: number; epoch2: number; speedup: number }> {
  const e1 = await time(() => count(ds));
  const e2 = await time(() => count(ds));
  return { epoch1: e1.seconds, epoch2: e2.seconds, speedup: Math.round((e1.seconds / e2.seconds) * 10) / 10 };
}

/** Child mode: stream the book pipeline (no cache) for N epochs and report peak RSS. */
async function rssChild(files: SplitFiles, n: number): Promise<void> {
  const batches = await count(bookPipeline(stage(files)).repeat(n));
  process.stdout.write(
    JSON.stringify({ batches, maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024) }),
  );
}

function peakRss(n: number): { batches: number; maxRssMiB: number } {
  const self = fileURLToPath(import.meta.url);
  return JSON.parse(
    execFileSync(process.execPath, [self, '--rss-child', String(n)], { encoding: 'utf8' }),
  ) as {
    batches: number;
    maxRssMiB: number;
  };
}

async function main(): Promise<void> {
  const ws = mkdtempSync(join(tmpdir(), 'distml-bench-ingest-'));
  try {
    const src = await resolveFashionMnist({ workspace: ws });
    if (process.argv[2] === '--rss-child') return rssChild(src.train, Number(process.argv[3]));

    await count(stage(src.train)); // warm the page cache: measure parsing, not a cold disk
    const parse = await time(() => count(stage(src.train)));
    const anchor = runPythonAnchor(join(ROOT, 'bench', 'ingest', 'anchor.py'), [
      src.train.images,
      src.train.labels,
    ]);
    const oursRps = parse.value / parse.seconds;

    const memStage = await epochs(stage(src.train, new MemoryCache()));
    const dir = join(ws, 'cache');
    const d1 = await time(() => count(stage(src.train, new DiskCache(dir, scaledExampleCodec))));
    // A new cache object over the same directory: what a second process (or a later run) sees.
    const d2 = await time(() => count(stage(src.train, new DiskCache(dir, scaledExampleCodec))));
    const memBook = await epochs(bookPipeline(stage(src.train, new MemoryCache())));

    report('ingest', {
      records: parse.value,
      parseScale: {
        oursRecordsPerSecond: Math.round(oursRps),
        numpyRecordsPerSecond: anchor ? Math.round(anchor['recordsPerSecond'] as number) : null,
        ratioOursOverNumpy: ratio(oursRps, anchor?.['recordsPerSecond'] as number | undefined),
      },
      cachedStage: {
        what: 'decode → scale → cache, one epoch of 60000',
        memory: memStage,
        disk: {
          epoch1: d1.seconds,
          epoch2: d2.seconds,
          speedup: Math.round((d1.seconds / d2.seconds) * 10) / 10,
        },
      },
      bookPipeline: {
        what: 'cached stage → shuffle(10000) → batch(64) → collate (memory cache)',
        ...memBook,
      },
      streamingPeakRss: {
        what: 'book pipeline without cache, batches of 64; dataset as float32 is 179 MiB per epoch',
        epochs1: peakRss(1),
        epochs3: peakRss(3),
      },
    });
  } finally {
    rmSync(ws, { recursive: true, force: true });
  }
}

await main();
