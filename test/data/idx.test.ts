import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { DataError, encodeIdx, openIdx, readIdx } from '../../src/data/index.js';
import { collect, tempDir } from './fixtures.js';

const tmp = tempDir();
after(tmp.cleanup);

function write(name: string, data: Uint8Array): string {
  const p = join(tmp.dir, name);
  writeFileSync(p, data);
  return p;
}

async function rejectsWith(p: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof DataError, `expected DataError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('IDX codec', () => {
  const data = Uint8Array.from({ length: 3 * 4 }, (_, i) => i);
  const idx = encodeIdx(0x08, [3, 2, 2], data);

  it('round-trips raw and gzip files', async () => {
    for (const [name, bytes] of [
      ['rt.idx', idx],
      ['rt.idx.gz', gzipSync(idx)],
    ] as const) {
      const r = await readIdx(write(name, bytes));
      assert.deepEqual(r.header.dims, [3, 2, 2]);
      assert.equal(r.header.recordBytes, 4);
      assert.deepEqual(Array.from(r.data), Array.from(data));
    }
  });

  it('streams records in order', async () => {
    const s = await openIdx(write('stream.idx', idx));
    const recs = (await collect(s.records)).flat();
    assert.deepEqual(
      recs.map((r) => Array.from(r)),
      [
        [0, 1, 2, 3],
        [4, 5, 6, 7],
        [8, 9, 10, 11],
      ],
    );
  });

  it('rejects a bad magic number, naming the file', async () => {
    const bad = Buffer.from(idx);
    bad[0] = 0x12;
    const p = write('badmagic.idx', bad);
    await rejectsWith(readIdx(p), 'DATA_BAD_MAGIC', /badmagic\.idx: not an IDX file/);
  });

  it('rejects an unknown element type', async () => {
    const bad = Buffer.from(idx);
    bad[2] = 0x42;
    await rejectsWith(readIdx(write('badtype.idx', bad)), 'DATA_BAD_MAGIC', /unknown IDX element type 0x42/);
  });

  it('rejects a truncated raw file with counts in the message', async () => {
    const p = write('trunc.idx', idx.subarray(0, idx.length - 3));
    await rejectsWith(
      readIdx(p),
      'DATA_TRUNCATED',
      /trunc\.idx: truncated: .*3 records.*found 2 whole records/,
    );
  });

  it('rejects a truncated gzip stream', async () => {
    const gz = gzipSync(Buffer.concat([idx, Buffer.alloc(5000)]));
    const p = write('trunc.idx.gz', gz.subarray(0, gz.length - 20));
    await rejectsWith(readIdx(p), 'DATA_TRUNCATED', /trunc\.idx\.gz: truncated/);
  });

  it('rejects a file cut inside its header', async () => {
    await rejectsWith(
      readIdx(write('hdr.idx', idx.subarray(0, 6))),
      'DATA_TRUNCATED',
      /header needs 16 bytes/,
    );
  });

  it('rejects bytes after the last record', async () => {
    const p = write('trail.idx', Buffer.concat([idx, Buffer.from([1, 2])]));
    await rejectsWith(readIdx(p), 'DATA_TRAILING_BYTES', /follow the last of 3 records/);
  });

  it('checks the record shape the caller expects', async () => {
    const p = write('shape.idx', idx);
    await rejectsWith(
      readIdx(p, { recordDims: [28, 28] }),
      'DATA_BAD_HEADER',
      /record shape is \[2, 2\], expected \[28, 28\]/,
    );
  });

  it('names a missing file', async () => {
    await rejectsWith(readIdx(join(tmp.dir, 'nope.idx')), 'DATA_NOT_FOUND', /nope\.idx/);
  });
});
