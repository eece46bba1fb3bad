// Issue 10: one client sending hostile images back to back must not stall a model server. Against a real
// `distml serve` process with its default limits, two hostile clients run at once — one sends the largest
// request the decode budget allows (two PNGs declaring 4096x4096 each, ~16 KB apiece on the wire), the other
// the user's request scaled to the whole body limit (~380 such PNGs: 413) — while health, metrics and
// ordinary predictions must each be answered within a generous bound. Before the fix one such body kept the
// event loop busy for minutes. Latency figures are in bench/serve-hostile, not here.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_MAX_BODY } from '../../src/serve/index.js';
import { startGateway, waitFor, type RunningGateway } from './gateway/harness.js';
import { blankPng, bookRequest, encodeJpeg, fashionImage, publishNew, tempDir } from './fixtures.js';

const BOUND_MS = 30_000;

/** Fetches within BOUND_MS (the request is aborted and the test fails beyond), returning status and text. */
async function answered(url: string, body?: string): Promise<{ status: number; text: string }> {
  try {
    const res = await fetch(url, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      signal: AbortSignal.timeout(BOUND_MS),
    });
    return { status: res.status, text: await res.text() };
  } catch (err) {
    throw new Error(
      `${new URL(url).pathname} was not answered within ${BOUND_MS} ms: ${(err as Error).message}`,
    );
  }
}

/** Sends `body` back to back until `stop()`; counts answers by status. */
function hammer(url: string, body: string) {
  const codes: Record<number, number> = {};
  let running = true;
  const abort = new AbortController();
  const done = (async () => {
    while (running) {
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          signal: abort.signal,
        });
        await res.arrayBuffer();
        codes[res.status] = (codes[res.status] ?? 0) + 1;
      } catch {
        codes[0] = (codes[0] ?? 0) + 1;
      }
    }
  })();
  return {
    codes,
    /** Stops after the request in flight (or at once with `now`, aborting it). */
    stop: async (now = false) => {
      running = false;
      if (now) abort.abort();
      await done;
    },
  };
}

describe('a model server under hostile image payloads (real process, default limits)', () => {
  const tmp = tempDir();
  let server: RunningGateway | undefined;
  const hammers: ReturnType<typeof hammer>[] = [];
  before(async () => {
    const repo = join(tmp.dir, 'repo');
    await publishNew(repo, 'fmnist', 5, tmp.dir);
    server = await startGateway(['--repo', repo, '--model', 'fmnist']);
  });
  after(async () => {
    await Promise.all(hammers.map((h) => h.stop(true)));
    await server?.stop();
    tmp.cleanup();
  });

  it('keeps answering health, metrics and ordinary predictions while hostile clients send back to back', async () => {
    const url = server!.url;
    const predict = `${url}/v1/models/fmnist:predict`;
    const png = { image_bytes: { b64: blankPng(4096, 4096).toString('base64') } };
    const largest = JSON.stringify({ instances: [png, png] });
    const perImage = JSON.stringify(png).length + 1;
    const overBudget = JSON.stringify({
      instances: Array(Math.floor((DEFAULT_MAX_BODY - 100) / perImage)).fill(png),
    });
    assert.ok(overBudget.length <= DEFAULT_MAX_BODY);
    const allowed = hammer(predict, largest);
    const refused = hammer(predict, overBudget);
    hammers.push(allowed, refused);
    const ordinary = JSON.stringify(bookRequest(encodeJpeg(await fashionImage())));

    // Until both hostile clients have had answers (so the load was really on), and at least 10 rounds.
    for (let round = 0; round < 10 || !allowed.codes[200] || !refused.codes[413]; round++) {
      assert.ok(
        round < 2000,
        `hostile clients got no answers: ${JSON.stringify([allowed.codes, refused.codes])}`,
      );
      const health = await answered(`${url}/v2/health/ready`);
      assert.equal(health.status, 200);
      const metrics = await answered(`${url}/metrics`);
      assert.equal(metrics.status, 200);
      const r = await answered(predict, ordinary);
      assert.equal(r.status, 200, r.text);
      assert.equal((JSON.parse(r.text) as { predictions: number[][] }).predictions[0]?.length, 10);
      await new Promise((r) => setTimeout(r, 100));
    }
    await Promise.all(hammers.map((h) => h.stop()));
    assert.deepEqual(Object.keys(refused.codes), ['413'], JSON.stringify(refused.codes));
    assert.ok(!allowed.codes[0] && !allowed.codes[500], JSON.stringify(allowed.codes));
    await waitFor(async () => (await answered(`${url}/v2/health/ready`)).status === 200, BOUND_MS);
  });
});
