import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { constantLr } from '../../../src/train/index.js';
import {
  encodeFrame,
  FrameReader,
  Kind,
  ParameterServer,
  PsClient,
  type Frame,
  type Shard,
} from '../../../src/train/ps/index.js';

const SECRET = 'protocol-test-secret';

const settled = async (p: Promise<unknown>, ms = 150): Promise<boolean> => {
  let done = false;
  void p.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((r) => setTimeout(r, ms));
  return done;
};

async function job(o: {
  size: number;
  workers: number;
  staleness?: number;
  total?: number;
  shards?: number;
  requestTimeoutMs?: number;
}) {
  const k = o.shards ?? 1;
  const per = o.size / k;
  const shards: Shard[] = Array.from({ length: k }, (_, i) => ({
    index: i,
    start: i * per,
    end: (i + 1) * per,
    pieces: [],
  }));
  const servers = shards.map(
    (s) =>
      new ParameterServer({
        shard: s,
        initial: new Float32Array(per),
        workers: o.workers,
        baseLr: 0.1,
        schedule: constantLr,
        staleness: o.staleness,
        secret: SECRET,
      }),
  );
  const ports = await Promise.all(servers.map((s) => s.listen('127.0.0.1')));
  const clients = await Promise.all(
    Array.from({ length: o.workers }, (_, w) =>
      PsClient.connect({
        worker: w,
        workers: o.workers,
        shards,
        servers: ports.map((port) => ({ host: '127.0.0.1', port })),
        epochExamples: 4,
        totalExamples: o.total ?? 1000,
        secret: SECRET,
        requestTimeoutMs: o.requestTimeoutMs,
      }),
    ),
  );
  const close = async () => {
    for (const c of clients) c.close();
    await Promise.all(servers.map((s) => s.close()));
  };
  return { servers, clients, close };
}

const meta = (clock: number, pulledVersions: number[]) => ({
  clock,
  pulledVersions,
  count: 2,
  loss: 1,
  correct: 1,
});

describe('parameter-server protocol', () => {
  it('reassembles frames however the stream is chunked', () => {
    const frames = [
      encodeFrame(Kind.pull, { clock: 3 }),
      encodeFrame(Kind.push, { clock: 4, note: 'ü' }, Float32Array.from([1.5, -2, 3e-8])),
      encodeFrame(Kind.stats, {}),
    ];
    const bytes = Buffer.concat(frames);
    for (const size of [1, 3, 7, bytes.length]) {
      const reader = new FrameReader();
      const got = [];
      for (let i = 0; i < bytes.length; i += size) got.push(...reader.push(bytes.subarray(i, i + size)));
      assert.deepEqual(
        got.map((f) => f.kind),
        [Kind.pull, Kind.push, Kind.stats],
      );
      assert.deepEqual(got[1]?.header, { clock: 4, note: 'ü' });
      const p = got[1]?.payload as Buffer;
      assert.deepEqual(Array.from(new Float32Array(p.buffer.slice(p.byteOffset, p.byteOffset + p.length))), [
        1.5,
        -2,
        Math.fround(3e-8),
      ]);
    }
    assert.throws(() => new FrameReader().push(Buffer.from([0, 0, 0, 0x7f, 1])), /bad frame length/);
  });

  it('applies pushes as they arrive with Adam, and pulls reassemble the shards', async () => {
    const { clients, servers, close } = await job({ size: 8, workers: 1, shards: 2 });
    try {
      const c = clients[0] as PsClient;
      const p0 = await c.pull(0);
      assert.deepEqual(p0.versions, [0, 0]);
      c.push(new Float32Array(8).fill(1), meta(1, p0.versions));
      c.push(new Float32Array(8).fill(1), meta(2, p0.versions));
      const p2 = await c.pull(2);
      assert.deepEqual(p2.versions, [2, 2]);
      assert.equal(p2.examples, 4);
      for (const v of p2.params)
        assert.ok(Math.abs(v + 0.2) < 1e-5, `two Adam steps of lr 0.1 on gradient 1: ${v}`);
      const stats = servers[0]?.snapshot();
      assert.equal(stats?.maxStaleness, 1, 'the second push was computed one version behind');
      assert.equal(stats?.epochs[0]?.count, 4);
    } finally {
      await close();
    }
  });

  it('with --staleness 0 a pull waits for the slowest worker; a worker leaving releases it', async () => {
    const { clients, close } = await job({ size: 4, workers: 2, staleness: 0 });
    try {
      const [a, b] = clients as [PsClient, PsClient];
      const pa = await a.pull(0);
      a.push(new Float32Array(4).fill(1), meta(1, pa.versions));
      const ahead = a.pull(1);
      assert.equal(await settled(ahead), false, 'worker 0 is one step ahead of worker 1');
      const pb = await b.pull(0);
      b.push(new Float32Array(4).fill(1), meta(1, pb.versions));
      assert.equal((await ahead).versions[0], 2);
      a.push(new Float32Array(4).fill(1), meta(2, [2]));
      const again = a.pull(2);
      assert.equal(await settled(again), false);
      b.close();
      assert.equal((await again).versions[0], 3, 'a finished worker no longer holds the others back');
    } finally {
      await close();
    }
  });

  it('ends the job after the last epoch: pulls say done, later pushes are dropped', async () => {
    const { clients, servers, close } = await job({ size: 4, workers: 1, total: 4, staleness: 0 });
    try {
      const c = clients[0] as PsClient;
      c.push(new Float32Array(4).fill(1), meta(1, [0]));
      c.push(new Float32Array(4).fill(1), meta(2, [0]));
      c.push(new Float32Array(4).fill(1), meta(3, [0]));
      const p = await c.pull(3);
      assert.equal(p.done, true);
      assert.equal(servers[0]?.snapshot().version, 2);
      assert.equal(servers[0]?.snapshot().pushesDropped, 1);
    } finally {
      await close();
    }
  });

  it('refuses a client without the secret: it can neither join, push gradients, nor pull', async () => {
    const server = new ParameterServer({
      shard: { index: 0, start: 0, end: 4 },
      initial: new Float32Array(4),
      workers: 1,
      baseLr: 0.1,
      schedule: constantLr,
      secret: SECRET,
    });
    const port = await server.listen('127.0.0.1');
    try {
      const replies = await new Promise<Frame[]>((resolve) => {
        const socket = connect({ host: '127.0.0.1', port });
        const reader = new FrameReader();
        const got: Frame[] = [];
        socket.on('connect', () =>
          socket.write(
            Buffer.concat([
              encodeFrame(Kind.auth, { secret: 'not-the-secret' }),
              encodeFrame(Kind.hello, {
                worker: 0,
                workers: 1,
                epochExamples: 4,
                totalExamples: 4,
                shard: { index: 0, start: 0, end: 4 },
              }),
              encodeFrame(Kind.push, { clock: 1, pulledVersion: 0, count: 2 }, new Float32Array(4).fill(9)),
              encodeFrame(Kind.pull, { clock: 1 }),
            ]),
          ),
        );
        socket.on('data', (d: Buffer) => got.push(...reader.push(d)));
        socket.on('error', () => undefined);
        socket.on('close', () => resolve(got));
      });
      assert.deepEqual(
        replies.map((f) => f.kind),
        [Kind.error],
      );
      assert.match(String(replies[0]?.header['message']), /wrong or missing job secret/);
      assert.equal(server.snapshot().version, 0, 'no gradient was applied');
      assert.deepEqual(Array.from(server.parameters), [0, 0, 0, 0]);
      assert.equal(server.refused, 1);
      // Megabytes without a secret are not buffered: the server refuses after its small allowance.
      const flood = await new Promise<Frame[]>((resolve) => {
        const socket = connect({ host: '127.0.0.1', port });
        const reader = new FrameReader();
        const got: Frame[] = [];
        socket.on('connect', () => socket.write(encodeFrame(Kind.push, {}, new Float32Array(1 << 20))));
        socket.on('data', (d: Buffer) => got.push(...reader.push(d)));
        socket.on('error', () => undefined);
        socket.on('close', () => resolve(got));
      });
      // (The refusal may be lost to the reset the unread flood causes; the server's side is what counts.)
      for (const f of flood)
        assert.match(String(f.header['message']), /no job secret in the first 65536 bytes/);
      assert.equal(server.refused, 2);
      assert.ok(
        server.snapshot().bytesIn < 4 << 20,
        `read ${server.snapshot().bytesIn} bytes of a 4 MiB flood`,
      );
      await assert.rejects(
        PsClient.connect({
          worker: 0,
          workers: 1,
          shards: [{ index: 0, start: 0, end: 4, pieces: [] }],
          servers: [{ host: '127.0.0.1', port }],
          epochExamples: 4,
          totalExamples: 4,
          secret: 'wrong',
        }),
        /parameter server 0 at 127\.0\.0\.1:\d+ refused: wrong or missing job secret/,
      );
    } finally {
      await server.close();
    }
  });

  it('a pull held back under the staleness bound outlives the request timeout (the server says it holds it)', async () => {
    const { clients, close } = await job({ size: 4, workers: 2, staleness: 0, requestTimeoutMs: 3000 });
    try {
      const [a, b] = clients as [PsClient, PsClient];
      const pa = await a.pull(0);
      a.push(new Float32Array(4).fill(1), meta(1, pa.versions));
      const ahead = a.pull(1);
      assert.equal(await settled(ahead, 9000), false, 'still held, not failed, after 3 timeouts');
      const pb = await b.pull(0);
      b.push(new Float32Array(4).fill(1), meta(1, pb.versions));
      assert.equal((await ahead).versions[0], 2);
    } finally {
      await close();
    }
  });

  it('refuses a worker whose shard layout differs from the server', async () => {
    const server = new ParameterServer({
      shard: { index: 0, start: 0, end: 4 },
      initial: new Float32Array(4),
      workers: 1,
      baseLr: 0.1,
      schedule: constantLr,
      secret: SECRET,
    });
    const port = await server.listen('127.0.0.1');
    try {
      await assert.rejects(
        PsClient.connect({
          worker: 0,
          workers: 1,
          shards: [{ index: 0, start: 0, end: 5, pieces: [] }],
          servers: [{ host: '127.0.0.1', port }],
          epochExamples: 4,
          totalExamples: 4,
          secret: SECRET,
        }),
        /refused: this is shard 0 \[0, 4\)/,
      );
    } finally {
      await server.close();
    }
  });
});
