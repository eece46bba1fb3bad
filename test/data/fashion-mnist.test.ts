import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  DataError,
  collate,
  prepareFashionMnist,
  resolveFashionMnist,
  scale,
  splitDataset,
} from '../../src/data/index.js';
import { collect, tempDir, writeDataset, writeSplit } from './fixtures.js';

const tmp = tempDir();
after(tmp.cleanup);

describe('Fashion-MNIST splits', () => {
  it('reads a directory of raw or gzip files and scales pixels to [0, 1]', async () => {
    for (const gzip of [true, false]) {
      const dir = join(tmp.dir, `plain-${gzip}`);
      await import('node:fs').then((fs) => fs.mkdirSync(dir));
      writeDataset(dir, 30, 10, gzip);
      const src = await resolveFashionMnist({ source: dir, workspace: join(tmp.dir, 'ws') });
      assert.equal(src.kind, 'dir');
      const train = await collect(splitDataset('train', src.train).map('scale', scale));
      assert.equal(train.length, 30);
      assert.equal(train[3]?.label, 3);
      assert.ok(Math.abs((train[3]?.image[0] ?? 0) - 3 / 255) < 1e-7);
      const b = collate(train.slice(0, 4));
      assert.equal(b.images.length, 4 * 784);
      assert.deepEqual(Array.from(b.labels), [0, 1, 2, 3]);
    }
  });

  it('skips and counts corrupt records by default, or fails on them', async () => {
    const dir = join(tmp.dir, 'corrupt');
    await import('node:fs').then((fs) => fs.mkdirSync(dir));
    const labels = Array.from({ length: 20 }, (_, i) => (i === 4 || i === 11 ? 200 : i % 10));
    writeSplit(dir, 'train', { count: 20, labels });
    writeSplit(dir, 'test', { count: 5 });
    const src = await resolveFashionMnist({ source: dir, workspace: join(tmp.dir, 'ws') });
    const skipped: number[] = [];
    const kept = await collect(
      splitDataset('train', src.train, { onCorruptRecord: (r) => skipped.push(r.index) }),
    );
    assert.equal(kept.length, 18);
    assert.deepEqual(skipped, [4, 11]);
    await assert.rejects(
      collect(splitDataset('train', src.train, { onCorrupt: 'fail' })),
      (e: unknown) =>
        e instanceof DataError && e.code === 'DATA_CORRUPT_RECORD' && /record 4: label 200/.test(e.message),
    );
    const report = await prepareFashionMnist({
      source: dir,
      workspace: join(tmp.dir, 'ws-c'),
      cache: 'none',
    });
    assert.equal(report.train.skipped, 2);
    assert.equal(report.train.count, 18);
  });

  it('rejects image and label files whose counts differ', async () => {
    const dir = join(tmp.dir, 'mismatch');
    await import('node:fs').then((fs) => fs.mkdirSync(dir));
    writeSplit(dir, 'train', { count: 10, labelCount: 9 });
    writeSplit(dir, 'test', { count: 5 });
    const src = await resolveFashionMnist({ source: dir, workspace: join(tmp.dir, 'ws') });
    await assert.rejects(
      collect(splitDataset('train', src.train)),
      (e: unknown) =>
        e instanceof DataError &&
        e.code === 'DATA_COUNT_MISMATCH' &&
        /holds 10 images but .* holds 9 labels/.test(e.message),
    );
  });

  it('prepare: disk cache is filled once, then hit; a changed source invalidates it', async () => {
    const dir = join(tmp.dir, 'prep');
    const ws = join(tmp.dir, 'ws-prep');
    await import('node:fs').then((fs) => fs.mkdirSync(dir));
    writeDataset(dir, 40, 10);
    const first = await prepareFashionMnist({ source: dir, workspace: ws, cache: 'disk' });
    assert.equal(first.cache.hit, false);
    assert.equal(first.train.count, 40);
    assert.ok(first.cache.entries[0]?.bytes);
    const second = await prepareFashionMnist({ source: dir, workspace: ws, cache: 'disk' });
    assert.equal(second.cache.hit, true);
    assert.equal(second.fingerprint, first.fingerprint);
    await new Promise((r) => setTimeout(r, 10));
    writeDataset(dir, 41, 10);
    const third = await prepareFashionMnist({ source: dir, workspace: ws, cache: 'disk' });
    assert.equal(third.cache.hit, false);
    assert.equal(third.train.count, 41);
    assert.notEqual(third.fingerprint, first.fingerprint);
  });
});
