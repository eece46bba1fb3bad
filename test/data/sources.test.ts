import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DataError, resolveFashionMnist } from '../../src/data/index.js';
import { tempDir, writeDataset } from './fixtures.js';

const tmp = tempDir();
const served = join(tmp.dir, 'served');
let server: Server;
let base = '';
let requests = 0;
let corrupt = false;
const sums: Record<string, string> = {};

before(async () => {
  mkdirSync(served);
  writeDataset(served, 25, 10, true);
  for (const f of readdirSync(served))
    sums[f] = createHash('sha256')
      .update(readFileSync(join(served, f)))
      .digest('hex');
  server = createServer((req, res) => {
    requests++;
    const file = join(served, (req.url ?? '').replace(/^\//, ''));
    if (!existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    const body = Buffer.from(readFileSync(file));
    if (corrupt) body.writeUInt8(body.readUInt8(body.length - 9) ^ 0xff, body.length - 9);
    res.writeHead(200, { 'content-length': body.length }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
after(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  tmp.cleanup();
});

describe('data sources', () => {
  it('a user directory missing files says which', async () => {
    const dir = join(tmp.dir, 'empty');
    mkdirSync(dir);
    await assert.rejects(
      resolveFashionMnist({ source: dir, workspace: join(tmp.dir, 'ws0') }),
      (e: unknown) =>
        e instanceof DataError &&
        e.code === 'DATA_NOT_FOUND' &&
        /missing train-images-idx3-ubyte\[\.gz\]/.test(e.message),
    );
  });

  it('downloads with progress, verifies SHA-256, then reuses the verified copy', async () => {
    const ws = join(tmp.dir, 'ws1');
    let progress = 0;
    const r = await resolveFashionMnist({
      source: 'url',
      workspace: ws,
      urlBase: base,
      checksums: sums,
      onDownload: () => progress++,
    });
    assert.equal(r.kind, 'url');
    assert.ok(progress >= 4);
    assert.equal(readdirSync(r.dir).length, 4, 'four files, no partial ones');
    const before = requests;
    const again = await resolveFashionMnist({
      source: 'auto',
      workspace: ws,
      debianDir: join(tmp.dir, 'no-debian'),
    });
    assert.equal(again.kind, 'workspace');
    assert.equal(requests, before, 'no second download');
    assert.equal(again.train.sha256, r.train.sha256);
  });

  it('a checksum mismatch fails and leaves no file behind', async () => {
    const ws = join(tmp.dir, 'ws2');
    corrupt = true;
    try {
      await assert.rejects(
        resolveFashionMnist({ source: 'url', workspace: ws, urlBase: base, checksums: sums }),
        (e: unknown) => e instanceof DataError && /SHA-256 is [0-9a-f]{64}, expected/.test(e.message),
      );
    } finally {
      corrupt = false;
    }
    const dir = join(ws, 'datasets', 'fashion-mnist');
    assert.deepEqual(existsSync(dir) ? readdirSync(dir) : [], []);
  });

  it('without a network it fails fast, listing what was tried and how to fix it', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const t0 = Date.now();
    await assert.rejects(
      resolveFashionMnist({
        source: 'auto',
        workspace: join(tmp.dir, 'ws3'),
        debianDir: join(tmp.dir, 'no-debian'),
        urlBase: `http://127.0.0.1:${port}/`,
        // A download that waited instead of failing would take this long: far beyond the bound below.
        idleTimeoutMs: 600_000,
      }),
      (e: unknown) => {
        assert.ok(e instanceof DataError);
        assert.equal(e.code, 'DATA_NOT_FOUND');
        assert.match(e.message, /no-debian \(missing/);
        assert.match(e.message, /download from http:\/\/127\.0\.0\.1/);
        assert.match(e.message, /ECONNREFUSED/);
        assert.match(e.message, /apt-get install dataset-fashion-mnist/);
        return true;
      },
    );
    // Fast means no waiting on the network (a generous bound: a busy machine is not a slow failure).
    assert.ok(Date.now() - t0 < 60_000, 'fails fast');
  });
});
