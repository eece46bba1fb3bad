import assert from 'node:assert/strict';
import { readdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  Dataset,
  DiskCache,
  MemoryCache,
  scaledExampleCodec,
  type ScaledExample,
} from '../../src/data/index.js';
import { collect, tempDir } from './fixtures.js';

const tmp = tempDir();
after(tmp.cleanup);

function counted(n: number, fingerprint = 'src') {
  const reads = { count: 0 };
  const ds = Dataset.fromSource<ScaledExample>({
    fingerprint,
    open: () => {
      reads.count++;
      return (async function* () {
        // Chunks of 7, so chunk boundaries fall inside cache read/write buffers.
        for (let i = 0; i < n; i += 7) {
          const chunk: ScaledExample[] = [];
          for (let j = i; j < Math.min(n, i + 7); j++) {
            chunk.push({ index: j, label: j % 10, image: new Float32Array(784).fill(j / n) });
          }
          yield chunk;
        }
      })();
    },
  });
  return { ds, reads };
}

describe('dataset caches', () => {
  it('memory cache: the second pass replays without reading the source', async () => {
    const { ds, reads } = counted(30);
    const cache = new MemoryCache<ScaledExample>();
    const cached = ds.map('id', (x) => x).cache(cache);
    const first = await collect(cached);
    const second = await collect(cached);
    assert.equal(reads.count, 1);
    assert.deepEqual(
      second.map((e) => e.index),
      first.map((e) => e.index),
    );
    assert.deepEqual(cache.stats, { hits: 1, misses: 1, repaired: 0 });
  });

  it('memory cache: an abandoned pass is not kept', async () => {
    const { ds, reads } = counted(30);
    const cached = ds.cache(new MemoryCache());
    assert.equal((await collect(cached.take(5))).length, 5);
    assert.equal((await collect(cached)).length, 30);
    assert.equal(reads.count, 2);
  });

  it('disk cache: a later process (new cache object) reads the file, not the source', async () => {
    const dir = join(tmp.dir, 'disk1');
    const a = counted(100);
    const out1 = await collect(a.ds.map('scale', (x) => x).cache(new DiskCache(dir, scaledExampleCodec)));
    const b = counted(100);
    const cache2 = new DiskCache(dir, scaledExampleCodec);
    const out2 = await collect(b.ds.map('scale', (x) => x).cache(cache2));
    assert.equal(b.reads.count, 0, 'source untouched on a hit');
    assert.equal(cache2.stats.hits, 1);
    assert.deepEqual(
      out2.map((e) => [e.index, e.label, e.image[0]]),
      out1.map((e) => [e.index, e.label, e.image[0]]),
    );
  });

  it('disk cache: a changed source or transform misses', async () => {
    const dir = join(tmp.dir, 'disk2');
    await collect(
      counted(10, 'v1')
        .ds.map('scale', (x) => x)
        .cache(new DiskCache(dir, scaledExampleCodec)),
    );
    const changedSource = counted(10, 'v2');
    await collect(changedSource.ds.map('scale', (x) => x).cache(new DiskCache(dir, scaledExampleCodec)));
    assert.equal(changedSource.reads.count, 1);
    const changedTransform = counted(10, 'v1');
    await collect(
      changedTransform.ds.map('scale-v2', (x) => x).cache(new DiskCache(dir, scaledExampleCodec)),
    );
    assert.equal(changedTransform.reads.count, 1);
    assert.equal(readdirSync(dir).filter((f) => f.endsWith('.bin')).length, 3);
  });

  it('disk cache: an interrupted pass leaves no entry and no temp file', async () => {
    const dir = join(tmp.dir, 'disk3');
    const { ds } = counted(50);
    const cache = new DiskCache(dir, scaledExampleCodec);
    await collect(ds.cache(cache).take(10));
    assert.deepEqual(readdirSync(dir), []);
    assert.equal(await cache.entry(ds.fingerprint), undefined);
  });

  it('disk cache: a damaged entry is detected and rebuilt', async () => {
    const dir = join(tmp.dir, 'disk4');
    const { ds, reads } = counted(20);
    const cache = new DiskCache(dir, scaledExampleCodec);
    await collect(ds.cache(cache));
    const entry = await cache.entry(ds.fingerprint);
    assert.ok(entry);
    truncateSync(entry.path, entry.bytes - 100);
    const again = await collect(ds.cache(cache));
    assert.equal(again.length, 20);
    assert.equal(reads.count, 2);
    assert.equal(cache.stats.repaired, 1);
    writeFileSync(`${entry.path}.json`, 'not json');
    assert.equal((await collect(ds.cache(cache))).length, 20);
    assert.equal(reads.count, 3);
  });
});
