import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DataError, Dataset } from '../../src/data/index.js';
import { collect } from './fixtures.js';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('Dataset pipeline', () => {
  it('is lazy: nothing is read until iterated', async () => {
    let opened = 0;
    const ds = Dataset.fromSource<number>({
      fingerprint: 'lazy',
      open: () => {
        opened++;
        return (async function* () {
          yield range(5);
        })();
      },
    }).map('double', (x) => x * 2);
    assert.equal(opened, 0);
    assert.deepEqual(await collect(ds), [0, 2, 4, 6, 8]);
    assert.equal(opened, 1);
  });

  it('shuffles deterministically for a seed, differently per pass, keeping every element', async () => {
    const a = Dataset.fromArray(range(1000)).shuffle(100, 42);
    const b = Dataset.fromArray(range(1000)).shuffle(100, 42);
    const a1 = await collect(a);
    const b1 = await collect(b);
    assert.deepEqual(a1, b1);
    assert.notDeepEqual(a1, range(1000));
    assert.deepEqual(
      [...a1].sort((x, y) => x - y),
      range(1000),
    );
    const a2 = await collect(a);
    assert.notDeepEqual(a2, a1, 'second pass reshuffles');
    assert.deepEqual(a2, await collect(b), 'and reproducibly so');
    const c = await collect(Dataset.fromArray(range(1000)).shuffle(100, 43));
    assert.notDeepEqual(c, a1);
  });

  it('batches with and without the remainder', async () => {
    const ds = Dataset.fromArray(range(10));
    assert.deepEqual(await collect(ds.batch(4)), [
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9],
    ]);
    assert.deepEqual(await collect(ds.batch(4, { dropRemainder: true })), [
      [0, 1, 2, 3],
      [4, 5, 6, 7],
    ]);
  });

  it('takes, skips and repeats', async () => {
    const ds = Dataset.fromArray(range(5));
    assert.deepEqual(await collect(ds.skip(2).take(2)), [2, 3]);
    assert.deepEqual(await collect(ds.repeat(2)), [...range(5), ...range(5)]);
    assert.deepEqual(await collect(ds.repeat().take(12)), [...range(5), ...range(5), 0, 1]);
    assert.deepEqual(await collect(Dataset.fromArray<number>([]).repeat()), [], 'repeating nothing ends');
  });

  it('DATA shards are disjoint and together cover the data', async () => {
    const ds = Dataset.fromArray(range(103));
    const shards = await Promise.all(range(4).map((i) => collect(ds.shard(4, i))));
    assert.deepEqual(shards[1]?.slice(0, 3), [1, 5, 9]);
    const all = shards.flat().sort((x, y) => x - y);
    assert.deepEqual(all, range(103));
  });

  it('hash shards are disjoint, cover the data and ignore order', async () => {
    const ds = Dataset.fromArray(range(500));
    const shards = await Promise.all(range(3).map((i) => collect(ds.shardByKey(3, i, (x) => `k${x}`))));
    assert.deepEqual(
      shards.flat().sort((x, y) => x - y),
      range(500),
    );
    const shuffled = await collect(ds.shuffle(500, 7).shardByKey(3, 1, (x) => `k${x}`));
    assert.deepEqual(
      [...shuffled].sort((x, y) => x - y),
      shards[1],
    );
    for (const s of shards) assert.ok(s.length > 100, 'roughly balanced');
  });

  it('FILE shards assign whole files and only open their own', async () => {
    const opened: string[] = [];
    const files = ['f0', 'f1', 'f2', 'f3', 'f4'];
    const ds = Dataset.fromFiles(
      files,
      (f) => {
        opened.push(f);
        return (async function* () {
          yield `${f}:a`;
          yield `${f}:b`;
        })();
      },
      'files',
    ).map('upper', (s) => s.toUpperCase());
    const s0 = await collect(ds.shard(2, 0, 'file'));
    assert.deepEqual(s0, ['F0:A', 'F0:B', 'F2:A', 'F2:B', 'F4:A', 'F4:B']);
    assert.deepEqual(opened, ['f0', 'f2', 'f4']);
    const s1 = await collect(ds.shard(2, 1, 'file'));
    assert.deepEqual([...s0, ...s1].sort(), (await collect(ds)).sort());
    assert.notEqual(ds.shard(2, 0, 'file').fingerprint, ds.shard(2, 1, 'file').fingerprint);
  });

  it('rejects FILE sharding where it cannot work, and bad shard arguments', () => {
    const mem = Dataset.fromArray(range(4));
    assert.throws(() => mem.shard(2, 0, 'file'), /FILE sharding needs a dataset read from files/);
    const two = Dataset.fromFiles(['a', 'b'], () => Dataset.fromArray([1]), 'two');
    assert.throws(() => two.shard(3, 0, 'file'), /needs at least 3 files, the dataset has 2/);
    assert.throws(
      () => mem.shard(2, 2),
      (e: unknown) => e instanceof DataError && /\[0, 1\]/.test(e.message),
    );
    assert.throws(() => mem.shard(0, 0), /numShards must be a positive integer/);
    assert.throws(() => mem.batch(0), /batch size must be a positive integer/);
    assert.throws(() => mem.shuffle(1.5, 1), /bufferSize/);
  });

  it('fingerprints the lineage: same steps same fingerprint, a changed transform a new one', () => {
    const base = Dataset.fromArray(range(3), 'src-a');
    assert.equal(base.map('scale', (x) => x).fingerprint, base.map('scale', (x) => x).fingerprint);
    assert.notEqual(base.map('scale', (x) => x).fingerprint, base.map('scale2', (x) => x).fingerprint);
    assert.notEqual(base.fingerprint, Dataset.fromArray(range(3), 'src-b').fingerprint);
  });

  it('keeps memory bounded while streaming (no whole-dataset buffering)', async () => {
    let live = 0;
    let peak = 0;
    const src = Dataset.fromSource<number>({
      fingerprint: 'gen',
      open: () =>
        (async function* () {
          for (let i = 0; i < 10_000; i++) {
            live++;
            peak = Math.max(peak, live);
            yield [i];
          }
        })(),
    });
    let n = 0;
    for await (const b of src.shuffle(50, 1).batch(8)) {
      live -= b.length;
      n += b.length;
    }
    assert.equal(n, 10_000);
    assert.ok(peak <= 50 + 8 + 1, `at most buffer + batch elements alive, saw ${peak}`);
  });
});
