// The gateway's own limits, against real gateway and replica processes: the global in-flight cap (503 +
// Retry-After), the body limit read by the same reader as the model server (same 413), and the connection cap.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { request, type ClientRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { examples, startGateway, status, twoModelRepo, waitFor, type RunningGateway } from './harness.js';

async function post(url: string, body: string) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

describe('gateway limits (real processes)', () => {
  let fx: Awaited<ReturnType<typeof twoModelRepo>>;
  const running: RunningGateway[] = [];
  const cleanups: (() => void)[] = [];
  before(async () => {
    fx = await twoModelRepo();
  });
  after(async () => {
    for (const c of cleanups) c();
    await Promise.all(running.map((g) => g.stop()));
    fx.cleanup();
  });

  it('answers 503 + Retry-After above --max-in-flight and 413 above --max-body, in the model server words', async () => {
    const gw = await startGateway([
      ...['--repo', fx.repo, '--model', 'fmnist', '--replicas', '1'],
      ...['--max-in-flight', '1', '--max-body', '32768'],
    ]);
    running.push(gw);
    const predict = `${gw.url}/v1/models/fmnist:predict`;
    const body = JSON.stringify({ instances: examples(1) });
    assert.ok(body.length < 32768);
    // A client that sends half its body and waits holds the only in-flight slot.
    const held: ClientRequest = request(predict, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    });
    cleanups.push(() => held.destroy());
    const heldAnswer = new Promise<number>((resolve, reject) => {
      held.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      held.on('error', reject);
    });
    held.write(body.slice(0, 100));
    await waitFor(
      async () => {
        const s = (await (await fetch(`${gw.url}/gateway/status`)).json()) as { inFlight: number };
        return s.inFlight >= 2; // the held request and this status request
      },
      30_000,
      'the held request to be in flight',
    );
    const refused = await post(predict, body);
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get('retry-after'), '1');
    assert.deepEqual(Object.keys(refused.body), ['error']);
    assert.match(refused.body.error as string, /--max-in-flight 1/);
    assert.equal((await fetch(`${gw.url}/v2/health/ready`)).status, 200, 'health is not capped');
    held.end(body.slice(100));
    assert.equal(await heldAnswer, 200);

    const big = JSON.stringify({ instances: examples(4) });
    assert.ok(big.length > 32768);
    const tooBig = await post(predict, big);
    assert.equal(tooBig.status, 413);
    assert.match(tooBig.body.error as string, /larger than the limit of 32768 bytes \(--max-body\)/);
    assert.equal((await post(predict, body)).status, 200);
  });

  it('closes connections above --max-connections and takes new ones once a slot is free', async () => {
    const gw = await startGateway([
      '--repo',
      fx.repo,
      '--model',
      'fmnist',
      '--replicas',
      '1',
      '--max-connections',
      '1',
    ]);
    running.push(gw);
    const port = Number(new URL(gw.url).port);
    // A kept-alive connection that has been answered holds the only slot (retried until it gets it: the
    // harness's own readiness probe may hold it for a moment).
    let first: Socket | undefined;
    await waitFor(
      async () => {
        const r = await rawGet(port);
        cleanups.push(() => r.socket.destroy());
        if (r.answered) first = r.socket;
        return r.answered;
      },
      30_000,
      'a connection to be answered',
    );
    const second = await rawGet(port);
    assert.equal(second.answered, false, 'a second connection was closed unanswered');
    first?.destroy();
    await waitFor(async () => (await rawGet(port)).answered, 30_000, 'a connection to be taken again');
  });

  it('cancels the forwarded request of a client that has gone, so the replica drops its queued work', async () => {
    // The replica's idle model waits up to 10 s (the flag's maximum) to fill a batch of 4: a lone request stays
    // queued there while the client goes away.
    const gw = await startGateway([
      ...['--repo', fx.repo, '--model', 'fmnist', '--replicas', '1'],
      ...['--max-batch', '4', '--max-delay-ms', '10000'],
    ]);
    running.push(gw);
    const replica = (await status(gw.url)).replicas[0]?.url as string;
    const metric = async (re: RegExp) =>
      Number(re.exec(await (await fetch(`${replica}/metrics`)).text())?.[1] ?? 0);
    const body = JSON.stringify({ instances: examples(1) });
    const req = request(`${gw.url}/v1/models/fmnist:predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    });
    req.on('error', () => {}); // destroyed on purpose
    cleanups.push(() => req.destroy());
    req.end(body);
    // In flight at the replica: the queued predict and this metrics request.
    await waitFor(
      async () => (await metric(/distml_requests_in_flight (\d+)/)) >= 2,
      30_000,
      'the request at the replica',
    );
    req.destroy();
    await waitFor(
      async () => (await metric(/distml_requests_total\{[^}]*"499"[^}]*\} (\d+)/)) === 1,
      30_000,
      'the replica to drop the gone client (answer code 499 in its metrics)',
    );
    assert.equal(await metric(/distml_batch_size_count\{[^}]*\} (\d+)/), 0, 'no forward pass ran for it');
  });
});

/** Sends one kept-alive GET on a new socket: answered when bytes come back, not when it is closed first. */
function rawGet(port: number): Promise<{ socket: Socket; answered: boolean }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('data', () => resolve({ socket, answered: true }));
    socket.once('close', () => resolve({ socket, answered: false }));
    socket.on('error', () => {});
    socket.write('GET /v2/health/live HTTP/1.1\r\nhost: localhost\r\n\r\n');
  });
}
