import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ModelServer } from '../../src/serve/index.js';
import {
  bookRequest,
  call,
  encodeJpeg,
  encodePng,
  fashionImage,
  pixelRows,
  publishNew,
  startServer,
  tempDir,
} from './fixtures.js';

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

function assertProbabilities(row: unknown): number[] {
  assert.ok(Array.isArray(row) && row.length === 10, `expected 10 probabilities, got ${JSON.stringify(row)}`);
  for (const p of row) assert.ok(typeof p === 'number' && p >= 0 && p <= 1);
  assert.ok(Math.abs(sum(row as number[]) - 1) < 1e-4);
  return row as number[];
}

describe('model server (TF Serving REST and KServe V2)', { timeout: 900_000 }, () => {
  const tmp = tempDir();
  const repo = join(tmp.dir, 'repo');
  let server: ModelServer;
  let url: string;
  let image: Uint8Array;

  before(async () => {
    await publishNew(repo, 'fmnist', 7, tmp.dir);
    ({ server, url } = await startServer({ repo, name: 'fmnist', maxBatch: 16, maxBody: 256 * 1024 }));
    image = await fashionImage();
  });
  after(async () => {
    await server?.stop();
    tmp.cleanup();
  });

  it("answers the book's Listing 9.25 request (a JPEG as image_bytes.b64) with 10 probabilities", async () => {
    const r = await call(`${url}/v1/models/fmnist:predict`, bookRequest(encodeJpeg(image)));
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.body), ['predictions']);
    const preds = r.body.predictions as unknown[];
    assert.equal(preds.length, 1);
    assertProbabilities(preds[0]);
  });

  it('treats a PNG and the same pixels as a [28,28] list identically', async () => {
    const png = await call(`${url}/v1/models/fmnist:predict`, {
      instances: [{ image_bytes: { b64: encodePng(image).toString('base64') } }],
    });
    const rows = pixelRows(image);
    const px = await call(`${url}/v1/models/fmnist/versions/1:predict`, {
      instances: [rows, rows.flat(), rows.map((r) => r.map((v) => [v]))],
    });
    assert.equal(png.status, 200);
    assert.equal(px.status, 200);
    const p = (png.body.predictions as number[][])[0] as number[];
    for (const row of px.body.predictions as number[][]) {
      assertProbabilities(row);
      row.forEach((v, i) => assert.ok(Math.abs(v - (p[i] as number)) < 1e-6));
    }
  });

  it('resizes a larger image to 28x28 before predicting', async () => {
    const big = new Uint8Array(56 * 56).fill(200);
    const r = await call(`${url}/v1/models/fmnist:predict`, {
      instances: [{ b64: encodePng(big, 56, 56).toString('base64') }],
    });
    const same = await call(`${url}/v1/models/fmnist:predict`, {
      instances: [pixelRows(new Uint8Array(784).fill(200))],
    });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.predictions, same.body.predictions);
  });

  it('answers the columnar format with {"outputs": ...}', async () => {
    const rows = pixelRows(image);
    const r = await call(`${url}/v1/models/fmnist:predict`, { inputs: { image_bytes: [rows, rows] } });
    assert.equal(r.status, 200);
    assert.equal((r.body.outputs as unknown[]).length, 2);
  });

  it('reports status and metadata on V1 with class names', async () => {
    const s = await call(`${url}/v1/models/fmnist`);
    assert.deepEqual(s.body, {
      model_version_status: [
        { version: '1', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } },
      ],
    });
    const m = await call(`${url}/v1/models/fmnist/metadata`);
    assert.equal(m.status, 200);
    const spec = m.body.model_spec as Record<string, unknown>;
    assert.equal(spec.version, '1');
    const meta = m.body.metadata as { distml: { class_names: string[] }; signature_def: unknown };
    assert.equal(meta.distml.class_names.length, 10);
    assert.match(JSON.stringify(meta.signature_def), /image_bytes/);
  });

  it('answers V2 infer with FP32 pixels, UINT8 pixels and BYTES images', async () => {
    const flat = Array.from(image, (v) => v / 255);
    const fp = await call(`${url}/v2/models/fmnist/infer`, {
      id: 'req-1',
      inputs: [{ name: 'image_bytes', shape: [2, 28, 28, 1], datatype: 'FP32', data: [...flat, ...flat] }],
    });
    assert.equal(fp.status, 200);
    assert.equal(fp.body.model_name, 'fmnist');
    assert.equal(fp.body.model_version, '1');
    assert.equal(fp.body.id, 'req-1');
    const [probs, cls] = fp.body.outputs as {
      name: string;
      shape: number[];
      datatype: string;
      data: unknown[];
    }[];
    assert.deepEqual([probs?.name, probs?.shape, probs?.datatype], ['probabilities', [2, 10], 'FP32']);
    assertProbabilities(probs?.data.slice(0, 10));
    assert.deepEqual([cls?.name, cls?.shape, cls?.datatype], ['class', [2], 'BYTES']);
    const u8 = await call(`${url}/v2/models/fmnist/versions/1/infer`, {
      inputs: [{ name: 'image_bytes', shape: [1, 784], datatype: 'UINT8', data: Array.from(image) }],
      outputs: [{ name: 'probabilities' }],
    });
    assert.equal(u8.status, 200);
    assert.equal((u8.body.outputs as unknown[]).length, 1);
    const bytes = await call(`${url}/v2/models/fmnist/infer`, {
      inputs: [
        { name: 'image_bytes', shape: [1], datatype: 'BYTES', data: [encodePng(image).toString('base64')] },
      ],
    });
    assert.equal(bytes.status, 200);
    const a = (u8.body.outputs as { data: number[] }[])[0]?.data as number[];
    const b = (bytes.body.outputs as { data: number[] }[])[0]?.data as number[];
    a.forEach((v, i) => assert.ok(Math.abs(v - (b[i] as number)) < 1e-6));
  });

  it('answers V2 health, readiness and metadata', async () => {
    assert.deepEqual((await call(`${url}/v2/health/live`)).body, { live: true });
    assert.deepEqual((await call(`${url}/v2/health/ready`)).body, { ready: true });
    assert.deepEqual((await call(`${url}/v2/models/fmnist/ready`)).body, { name: 'fmnist', ready: true });
    const missing = await call(`${url}/v2/models/fmnist/versions/9/ready`);
    assert.equal(missing.status, 503);
    const m = await call(`${url}/v2/models/fmnist`);
    assert.equal(m.body.name, 'fmnist');
    assert.deepEqual(m.body.versions, ['1']);
    assert.deepEqual((m.body.inputs as unknown[])[0], {
      name: 'image_bytes',
      datatype: 'FP32',
      shape: [-1, 28, 28, 1],
    });
  });

  it('coalesces concurrent requests into fewer forward passes and counts them in /metrics', async () => {
    const rows = pixelRows(image);
    const n = 24;
    // Whether a burst coalesces depends on how fast its requests arrive; on a busy machine one burst may
    // trickle in. So bursts are sent until one is answered in fewer passes than requests (60 s deadline).
    const seen: number[] = [];
    const deadline = Date.now() + 60_000;
    do {
      const before = batchCount(await metricsText(url));
      const replies = await Promise.all(
        Array.from({ length: n }, () => call(`${url}/v1/models/fmnist:predict`, { instances: [rows] })),
      );
      for (const r of replies) assert.equal(r.status, 200);
      seen.push(batchCount(await metricsText(url)) - before);
    } while (seen[seen.length - 1]! >= n && Date.now() < deadline);
    assert.ok(
      seen[seen.length - 1]! < n,
      `expected fewer than ${n} forward passes in a burst, got ${seen.join(', ')}`,
    );
    const text = await metricsText(url);
    assert.match(text, /distml_requests_total\{api="v1",code="200"\} \d+/);
    assert.match(text, /distml_request_duration_seconds_bucket\{le="\+Inf"\} \d+/);
    assert.match(text, /distml_requests_in_flight 1/); // the /metrics request itself
  });

  describe('bad requests get a clear {"error"} and the server keeps serving', () => {
    const predict = () => `${url}/v1/models/fmnist:predict`;
    const cases: [string, () => string, unknown, number, RegExp][] = [
      ['malformed JSON', predict, '{"instances": [', 400, /not valid JSON/],
      ['an empty body', predict, '', 400, /empty/],
      ['a body that is not an object', predict, '[1,2]', 400, /JSON object/],
      ['no instances', predict, { foo: 1 }, 400, /instances/],
      ['empty instances', predict, { instances: [] }, 400, /empty/],
      ['a wrong shape', predict, { instances: [[1, 2, 3]] }, 400, /\[28,28\]/],
      ['an out-of-range pixel', predict, { instances: [Array(784).fill(2)] }, 400, /\[0, 1\]/],
      ['a NaN pixel', predict, `{"instances":[[${Array(783).fill(0).join(',')},1e999]]}`, 400, /\[0, 1\]/],
      ['a string pixel', predict, { instances: [Array(784).fill('0.5')] }, 400, /\[0, 1\]/],
      ['bad base64', predict, { instances: [{ image_bytes: { b64: '!!!not base64' } }] }, 400, /base64/],
      [
        'bytes that are not an image',
        predict,
        { instances: [{ b64: 'aGVsbG8gd29ybGQ=' }] },
        400,
        /not a JPEG or PNG/,
      ],
      ['a truncated JPEG', predict, null, 400, /JPEG/],
      ['a bare string', predict, { instances: ['abc'] }, 400, /b64/],
      ['an unknown input name', predict, { instances: [{ pixels: [] }] }, 400, /image_bytes/],
      ['an unknown model', () => `${url}/v1/models/nope:predict`, { instances: [] }, 404, /not served here/],
      [
        'an unknown version',
        () => `${url}/v1/models/fmnist/versions/42:predict`,
        { instances: [] },
        404,
        /not loaded/,
      ],
      [
        'an unknown V2 input',
        () => `${url}/v2/models/fmnist/infer`,
        { inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [0] }] },
        400,
        /image_bytes/,
      ],
      [
        'V2 data that does not fit the shape',
        () => `${url}/v2/models/fmnist/infer`,
        { inputs: [{ name: 'image_bytes', shape: [2, 784], datatype: 'FP32', data: [0] }] },
        400,
        /needs 1568/,
      ],
      ['an unknown endpoint', () => `${url}/v3/things`, undefined, 404, /no endpoint/],
    ];
    for (const [what, target, body, status, message] of cases) {
      it(`rejects ${what} with ${status}`, async () => {
        let payload = body;
        if (body === null) {
          const jpg = encodeJpeg(image);
          payload = { instances: [{ b64: jpg.subarray(0, jpg.length >> 1).toString('base64') }] };
        }
        const r = await call(target(), payload);
        assert.equal(r.status, status, JSON.stringify(r.body));
        assert.equal(typeof r.body.error, 'string');
        assert.match(r.body.error as string, message);
      });
    }

    it('rejects a GET on :predict with 405', async () => {
      const r = await call(`${url}/v1/models/fmnist:predict`, undefined, 'GET');
      assert.equal(r.status, 405);
    });

    it('rejects a body over --max-body with 413', async () => {
      const big = JSON.stringify({ instances: Array(400).fill(Array(784).fill(0.5)) });
      assert.ok(big.length > 256 * 1024);
      const r = await call(`${url}/v1/models/fmnist:predict`, big);
      assert.equal(r.status, 413);
      assert.match(r.body.error as string, /larger than the limit/);
    });

    it('still answers a valid request afterwards', async () => {
      const r = await call(`${url}/v1/models/fmnist:predict`, bookRequest(encodeJpeg(image)));
      assert.equal(r.status, 200);
    });
  });
});

async function metricsText(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`);
  assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
  return res.text();
}

function batchCount(text: string): number {
  const m = /distml_batch_size_count\{[^}]*\} (\d+)/.exec(text);
  return Number(m?.[1] ?? 0);
}
