// The book's experiment in miniature (9.3.2) and the replicated-services guarantees (4.2): real gateway and
// replica processes on free loopback ports.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  examples,
  startGateway,
  startLoad,
  status,
  twoModelRepo,
  waitFor,
  type LoadResult,
  type RunningGateway,
} from './harness.js';

const body = { instances: examples(1) };

describe('gateway scaling (real processes)', { timeout: 900_000 }, () => {
  let fx: Awaited<ReturnType<typeof twoModelRepo>>;
  const running: RunningGateway[] = [];
  before(async () => {
    fx = await twoModelRepo();
  });
  after(async () => {
    await Promise.all(running.map((g) => g.stop()));
    fx.cleanup();
  });

  it('autoscales from 1 replica under concurrent load and back to 1 after it, with no failed request', async () => {
    const gw = await startGateway([
      ...['--repo', fx.repo, '--model', 'fmnist', '--autoscale', '--min', '1', '--max', '3'],
      ...['--stable-window', '2s', '--panic-window', '300ms', '--scale-interval', '100ms'],
    ]);
    running.push(gw);
    assert.equal((await status(gw.url)).replicas.length, 1);
    // The load stays on until the scale-up is visible, however long replicas take to start on this machine.
    const loading = startLoad(`${gw.url}/v1/models/fmnist:predict`, body, 8);
    let r: LoadResult;
    try {
      await waitFor(
        async () => (await status(gw.url)).replicas.filter((x) => x.state === 'ready').length >= 2,
        60_000,
        '≥ 2 ready replicas under load',
      );
    } finally {
      r = await loading.stop();
    }
    assert.deepEqual(r.errors, []);
    assert.deepEqual(Object.keys(r.codes), ['200']);
    await waitFor(async () => (await status(gw.url)).replicas.length === 1, 60_000, 'scale back to 1');
    const s = await status(gw.url);
    const decisions = s.autoscaler?.decisions ?? [];
    assert.ok(
      decisions.some((d) => d.to > d.from && d.panic),
      'a panic scale-up',
    );
    assert.ok(
      decisions.some((d) => d.to < d.from && /stable/.test(d.reason)),
      'a stable scale-down',
    );
    assert.equal(s.desired, 1);
    assert.equal(await gw.stop(), 0);
  });

  it('loses no request when a replica is SIGKILLed under load, and replaces it', async () => {
    const gw = await startGateway([
      '--repo',
      fx.repo,
      '--model',
      'fmnist',
      '--replicas',
      '2',
      '--balance',
      'round-robin',
    ]);
    running.push(gw);
    await waitFor(async () => (await status(gw.url)).ready === 2, 60_000, 'two ready replicas');
    const victim = (await status(gw.url)).replicas[0]!;
    const loading = startLoad(`${gw.url}/v1/models/fmnist:predict`, body, 4);
    let r: LoadResult;
    let atKill = 0;
    try {
      await waitFor(() => (loading.result.codes['200'] ?? 0) >= 20, 60_000, 'answers before the kill');
      process.kill(victim.pid, 'SIGKILL');
      atKill = loading.result.sent;
      // Load goes on until the gateway has seen the crash and a replacement is ready.
      await waitFor(
        async () => {
          const s = await status(gw.url);
          return s.ready === 2 && s.restarts >= 1 && loading.result.sent > atKill + 20;
        },
        60_000,
        'a replacement, under load',
      );
    } finally {
      r = await loading.stop();
    }
    assert.deepEqual(r.errors, []);
    assert.deepEqual(Object.keys(r.codes), ['200'], JSON.stringify(r.codes));
    assert.ok(r.sent > atKill, 'requests went on after the kill');
    const s = await status(gw.url);
    assert.equal(s.restarts, 1);
    assert.ok(!s.replicas.some((x) => x.pid === victim.pid));
    assert.match(gw.stderr(), /"event":"replica-crashed"/);
    assert.equal(await gw.stop(), 0);
  });

  it('scales to zero: the first request is queued while a replica starts, answered, then it scales to zero again', async () => {
    const gw = await startGateway([
      ...['--repo', fx.repo, '--model', 'fmnist', '--autoscale', '--min', '0', '--max', '2'],
      ...['--stable-window', '1s', '--scale-interval', '100ms'],
    ]);
    running.push(gw);
    assert.equal((await status(gw.url)).replicas.length, 0);
    const t0 = Date.now();
    const res = await fetch(`${gw.url}/v1/models/fmnist:predict`, {
      method: 'POST',
      body: JSON.stringify(body),
    });
    assert.equal(res.status, 200);
    const answer = (await res.json()) as { predictions: number[][] };
    assert.equal(answer.predictions[0]?.length, 10);
    assert.ok(Date.now() - t0 > 200, 'the request waited for a cold start');
    const s = await status(gw.url);
    assert.match(s.autoscaler?.decisions[0]?.reason ?? '', /scale from zero/);
    await waitFor(async () => (await status(gw.url)).replicas.length === 0, 60_000, 'scale to zero');
    assert.match((await status(gw.url)).autoscaler?.decisions.at(-1)?.reason ?? '', /scale to zero/);
    assert.equal(await gw.stop(), 0);
  });

  it('stops its replicas when it stops', async () => {
    const gw = await startGateway(['--repo', fx.repo, '--model', 'fmnist', '--replicas', '2']);
    running.push(gw);
    const pids = (await status(gw.url)).replicas.map((r) => r.pid);
    assert.equal(await gw.stop(), 0);
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), 'replica process is gone');
  });
});
