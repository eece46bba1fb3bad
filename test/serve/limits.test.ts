// The model server's limits against hostile input, over HTTP: the decode budget (413), an oversized image
// (400), a full batch queue and a missed deadline (503 + Retry-After), and a client that goes away (its work is
// dropped). Every answer has TF Serving's {"error": "..."} shape.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ModelServer, ModelServerOptions } from '../../src/serve/index.js';
import { waitFor } from './gateway/harness.js';
import { blankPng, call, publishNew, startServer, tempDir } from './fixtures.js';

const pixels = (n: number) => ({ instances: Array.from({ length: n }, () => Array(784).fill(0.5)) });
const b64 = (b: Buffer) => b.toString('base64');

function batchCount(text: string): number {
  return Number(/distml_batch_size_count\{[^}]*\} (\d+)/.exec(text)?.[1] ?? NaN);
}

describe('model server limits', () => {
  const tmp = tempDir();
  const repo = join(tmp.dir, 'repo');
  const servers: ModelServer[] = [];
  const huge = blankPng(4096, 4096);
  before(() => publishNew(repo, 'fmnist', 3, tmp.dir));
  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    tmp.cleanup();
  });

  async function start(opts: Partial<ModelServerOptions>) {
    const s = await startServer({ repo, name: 'fmnist', ...opts });
    servers.push(s.server);
    return s;
  }

  describe('decode budget', () => {
    let url: string;
    before(async () => {
      ({ url } = await start({ maxDecodePixels: 4096 * 4096, maxDecodeBytes: 100 * 1024 * 1024 }));
    });

    it('answers 413 naming --max-decode-pixels when the images of one request declare too many pixels', async () => {
      const r = await call(`${url}/v1/models/fmnist:predict`, {
        instances: [{ image_bytes: { b64: b64(huge) } }, { image_bytes: { b64: b64(huge) } }],
      });
      assert.equal(r.status, 413);
      assert.deepEqual(Object.keys(r.body), ['error']);
      assert.match(r.body.error as string, /2 images would decode to 33554432 pixels.*--max-decode-pixels/);
    });

    it('holds V2 BYTES inputs to the same budget', async () => {
      const r = await call(`${url}/v2/models/fmnist/infer`, {
        inputs: [{ name: 'image_bytes', shape: [2], datatype: 'BYTES', data: [b64(huge), b64(huge)] }],
      });
      assert.equal(r.status, 413);
      assert.match(r.body.error as string, /--max-decode-pixels/);
    });

    it('answers 413 naming --max-decode-bytes for images that decode to too many bytes', async () => {
      const deep = blankPng(4000, 4000, 6, 16); // 16-bit RGBA: 8 bytes a pixel inflated
      const r = await call(`${url}/v1/models/fmnist:predict`, { instances: [{ b64: b64(deep) }] });
      assert.equal(r.status, 413);
      assert.match(r.body.error as string, /--max-decode-bytes/);
    });

    it('answers 400 for one image larger than 4096 pixels a side', async () => {
      const r = await call(`${url}/v1/models/fmnist:predict`, {
        instances: [{ b64: b64(blankPng(5000, 8)) }],
      });
      assert.equal(r.status, 400);
      assert.match(r.body.error as string, /instances\[0\]: image is 5000x8; each side must be 1\.\.4096/);
    });

    it('decodes the largest allowed image and predicts', async () => {
      const r = await call(`${url}/v1/models/fmnist:predict`, { instances: [{ b64: b64(huge) }] });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal((r.body.predictions as number[][])[0]?.length, 10);
    });
  });

  describe('bounded queue', () => {
    // An idle model waits --max-delay-ms (here: ten minutes) for a full batch of 4, so a lone request stays
    // queued until the test sends the rest: no timing is involved.
    let url: string;
    let server: ModelServer;
    before(async () => {
      ({ url, server } = await start({ maxBatch: 4, maxQueue: 4, maxDelayMs: 600_000 }));
    });
    const pending = () => server.versions.latest()?.batcher.pending ?? -1;

    it('answers 503 with Retry-After when the queue is full, then serves the queued request', async () => {
      const first = call(`${url}/v1/models/fmnist:predict`, pixels(1));
      await waitFor(() => pending() === 1, 30_000, 'the first request to be queued');
      const refused = await call(`${url}/v1/models/fmnist:predict`, pixels(4));
      assert.equal(refused.status, 503);
      assert.equal(refused.headers.get('retry-after'), '1');
      assert.match(refused.body.error as string, /queue is full .*--max-queue/);
      const rest = await call(`${url}/v1/models/fmnist:predict`, pixels(3)); // fills the batch: it runs
      assert.equal(rest.status, 200);
      assert.equal((await first).status, 200);
    });

    it('drops the work of a client that closed its connection before it was computed', async () => {
      const before = batchCount(await (await fetch(`${url}/metrics`)).text());
      const body = JSON.stringify(pixels(1));
      const req = request(`${url}/v1/models/fmnist:predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      });
      req.on('error', () => {}); // the socket is destroyed on purpose
      req.end(body);
      await waitFor(() => pending() === 1, 30_000, 'the request to be queued');
      req.destroy();
      await waitFor(() => pending() === 0, 30_000, 'the queue to drop the gone client');
      const after = batchCount(await (await fetch(`${url}/metrics`)).text());
      assert.equal(after, before, 'no forward pass ran for the gone client');
      const r = await call(`${url}/v1/models/fmnist:predict`, pixels(4));
      assert.equal(r.status, 200);
    });
  });

  it('answers 503 with Retry-After to a request that waited past --queue-deadline', async () => {
    const { url } = await start({ maxBatch: 4, maxDelayMs: 600_000, queueDeadlineMs: 100 });
    const r = await call(`${url}/v1/models/fmnist:predict`, pixels(1));
    assert.equal(r.status, 503);
    assert.equal(r.headers.get('retry-after'), '1');
    assert.match(r.body.error as string, /waited 100 ms .*--queue-deadline/);
  });
});
