import assert from 'node:assert/strict';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ModelServer } from '../../src/serve/index.js';
import { call, pixelRows, publishNew, startServer, tempDir } from './fixtures.js';

const rows = pixelRows(new Uint8Array(784).fill(120));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

describe('version pickup without a restart', { timeout: 900_000 }, () => {
  const tmp = tempDir();
  const repo = join(tmp.dir, 'repo');
  const servers: ModelServer[] = [];
  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    tmp.cleanup();
  });

  it('swaps in a newly published version while requests keep succeeding', async () => {
    await publishNew(repo, 'fmnist', 1, tmp.dir);
    const { server, url } = await startServer({ repo, name: 'fmnist' });
    servers.push(server);
    const statuses: number[] = [];
    let stop = false;
    const load = (async () => {
      while (!stop) {
        const r = await call(`${url}/v1/models/fmnist:predict`, { instances: [rows] });
        statuses.push(r.status);
      }
    })();
    try {
      // Requests are answered before the swap and after it (counted, not timed: 100 ms sleeps were).
      await until('answers before the swap', async () => statuses.length >= 3);
      await publishNew(repo, 'fmnist', 2, tmp.dir);
      await until('version 2', async () => {
        const m = await call(`${url}/v1/models/fmnist/metadata`);
        return (m.body.model_spec as { version: string }).version === '2';
      });
      const atSwap = statuses.length;
      await until('answers after the swap', async () => statuses.length >= atSwap + 3);
    } finally {
      stop = true;
      await load;
    }
    assert.ok(statuses.length > 5);
    assert.deepEqual(new Set(statuses), new Set([200]));
    const v2 = await call(`${url}/v2/models/fmnist`);
    assert.deepEqual(v2.body.versions, ['2', '1']);
    // The previous version stays reachable by path while it is among the newest two.
    assert.equal(
      (await call(`${url}/v1/models/fmnist/versions/1:predict`, { instances: [rows] })).status,
      200,
    );
    await publishNew(repo, 'fmnist', 3, tmp.dir);
    await until(
      'version 3',
      async () => (await call(`${url}/v2/models/fmnist`)).body.versions?.toString() === '3,2',
    );
    const old = await call(`${url}/v1/models/fmnist/versions/1:predict`, { instances: [rows] });
    assert.equal(old.status, 404);
    assert.match(old.body.error as string, /version 1 .* not loaded \(loaded: 3, 2/);
    const status = await call(`${url}/v1/models/fmnist`);
    const states = (status.body.model_version_status as { version: string; state: string }[]).map((s) => [
      s.version,
      s.state,
    ]);
    assert.deepEqual(states.slice(0, 2), [
      ['3', 'AVAILABLE'],
      ['2', 'AVAILABLE'],
    ]);
  });

  it('is live but not ready until the first version appears, then becomes ready', async () => {
    const server = new ModelServer({ repo, name: 'later', port: 0, pollMs: 100 });
    servers.push(server);
    const url = await server.listen();
    assert.equal((await call(`${url}/v2/health/live`)).status, 200);
    assert.equal((await call(`${url}/v2/health/ready`)).status, 503);
    const early = await call(`${url}/v1/models/later:predict`, { instances: [rows] });
    assert.equal(early.status, 503);
    assert.match(early.body.error as string, /no version loaded yet/);
    await publishNew(repo, 'later', 4, tmp.dir);
    await until('readiness', async () => (await call(`${url}/v2/health/ready`)).status === 200);
    assert.equal((await call(`${url}/v1/models/later:predict`, { instances: [rows] })).status, 200);
  });

  it('keeps serving the old version when a new one is broken, and reports it', async () => {
    await publishNew(repo, 'sturdy', 5, tmp.dir);
    const events: string[] = [];
    const { server, url } = await startServer({
      repo,
      name: 'sturdy',
      onEvent: (e) => events.push(e.event),
    });
    servers.push(server);
    await mkdir(join(repo, 'sturdy', '2'));
    await writeFile(join(repo, 'sturdy', '2', 'model.json'), '{"not": "a package"}');
    await until('the failure', async () => events.includes('version-failed'));
    assert.equal((await call(`${url}/v1/models/sturdy:predict`, { instances: [rows] })).status, 200);
    const status = await call(`${url}/v1/models/sturdy`);
    const broken = (
      status.body.model_version_status as {
        version: string;
        state: string;
        status: { error_message: string };
      }[]
    )[0];
    assert.equal(broken?.version, '2');
    assert.equal(broken?.state, 'END');
    assert.match(broken?.status.error_message ?? '', /model\.json/);
  });

  it('retries a version that failed to load once its folder changes (a copy that was still in progress)', async () => {
    await publishNew(repo, 'copied', 7, tmp.dir);
    const events: { event: string; version?: number }[] = [];
    const { server, url } = await startServer({ repo, name: 'copied', onEvent: (e) => events.push(e) });
    servers.push(server);
    // A `cp -r` of a good package caught half-way: model.json is there, the weights are not yet.
    const good = join(repo, 'copied', '1');
    const half = join(repo, 'copied', '2');
    await mkdir(half);
    await copyFile(join(good, 'model.json'), join(half, 'model.json'));
    await until('the failure', async () =>
      events.some((e) => e.event === 'version-failed' && e.version === 2),
    );
    await copyFile(join(good, 'weights.safetensors'), join(half, 'weights.safetensors'));
    await until(
      'the retry',
      async () => events.some((e) => e.event === 'version-loaded' && e.version === 2),
      60_000,
    );
    const r = await call(`${url}/v1/models/copied/versions/2:predict`, { instances: [rows] });
    assert.equal(r.status, 200);
  });
});
