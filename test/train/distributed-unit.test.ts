import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProcessGroup, Store, StoreServer } from '../../src/engine/index.js';
import { readClusterEnv } from '../../src/train/index.js';
import { ElasticAgent, ShardedFeed } from '../../src/train/distributed/index.js';
import type { ScaledExample } from '../../src/data/index.js';

const examples = (n: number): ScaledExample[] =>
  Array.from({ length: n }, (_, i) => ({ index: i, label: i % 10, image: new Float32Array(784).fill(i) }));

const S = { DISTML_JOB_SECRET: 'job-secret' };

describe('distributed training: pieces', () => {
  it('reads the torch environment contract and TF_CONFIG, with clear errors', () => {
    assert.equal(readClusterEnv({}), undefined);
    assert.deepEqual(
      readClusterEnv({
        ...S,
        MASTER_ADDR: 'h',
        MASTER_PORT: '29500',
        WORLD_SIZE: '4',
        RANK: '2',
        LOCAL_RANK: '0',
      }),
      {
        masterAddr: 'h',
        masterPort: 29500,
        worldSize: 4,
        rank: 2,
        localRank: 0,
        elastic: false,
        source: 'torch',
        secret: 'job-secret',
      },
    );
    assert.throws(
      () => readClusterEnv({ MASTER_ADDR: 'h', MASTER_PORT: '1', WORLD_SIZE: '2', RANK: '0' }),
      /DISTML_JOB_SECRET must be set to the job's secret/,
    );
    const tf = readClusterEnv({
      ...S,
      TF_CONFIG: JSON.stringify({
        cluster: { chief: ['c:2222'], worker: ['w0:2222', 'w1:2222'] },
        task: { type: 'worker', index: 1 },
      }),
    });
    assert.equal(tf?.rank, 2);
    assert.equal(tf?.worldSize, 3);
    assert.equal(tf?.masterAddr, 'c');
    assert.throws(
      () => readClusterEnv({ ...S, MASTER_ADDR: 'h', MASTER_PORT: 'x', WORLD_SIZE: '2', RANK: '0' }),
      /MASTER_PORT must be an integer/,
    );
    assert.throws(
      () => readClusterEnv({ ...S, MASTER_ADDR: 'h', MASTER_PORT: '1', WORLD_SIZE: '2', RANK: '2' }),
      /RANK 2 must be below WORLD_SIZE 2/,
    );
    assert.throws(
      () => readClusterEnv({ ...S, MASTER_ADDR: 'h', MASTER_PORT: '1' }),
      /WORLD_SIZE and RANK must be set/,
    );
    assert.throws(() => readClusterEnv({ ...S, TF_CONFIG: '{' }), /TF_CONFIG is not JSON/);
    assert.equal(
      readClusterEnv({ ...S, MASTER_ADDR: 'h', MASTER_PORT: '1', DISTML_ELASTIC: '1' })?.elastic,
      true,
    );
  });

  it('DATA shards of each global batch are disjoint and cover it, for any world size', () => {
    const feed = new ShardedFeed(examples(100), 7);
    for (const W of [1, 2, 3]) {
      const seen: number[] = [];
      for (let r = 0; r < W; r++) {
        const b = feed.take({ pass: 0, offset: 0 }, 8, W, r);
        seen.push(...Array.from(b.images.filter((_, i) => i % 784 === 0)));
        assert.deepEqual(b.next, { pass: 0, offset: 8 * W });
      }
      assert.equal(new Set(seen).size, 8 * W, `world ${W}: no example twice`);
    }
    const wrap = feed.take({ pass: 0, offset: 96 }, 8, 1, 0);
    assert.deepEqual(wrap.next, { pass: 1, offset: 8 }, 'a short tail moves to the next pass');
    assert.equal(feed.batchesPerPass(8, 3), 4);
  });

  it('Gloo allreduce and broadcast across two members', async (t) => {
    const host = await StoreServer.start({ host: '127.0.0.1', secret: 'pg-secret' });
    t.after(() => host.close());
    const server = await Store.connect({ host: '127.0.0.1', port: host.port, secret: 'pg-secret' });
    const client = await Store.connect({ host: '127.0.0.1', port: host.port, secret: 'pg-secret' });
    const [g0, g1] = await Promise.all([
      ProcessGroup.create(server, { prefix: 't', rank: 0, size: 2, iface: 'lo', timeoutMs: 10_000 }),
      ProcessGroup.create(client, { prefix: 't', rank: 1, size: 2, iface: 'lo', timeoutMs: 10_000 }),
    ]);
    const a = Float32Array.from([1, 2, 3, 4, 5]);
    const b = Float32Array.from([3, 2, 1, 0, -5]);
    await Promise.all([g0.allreduce(a, 'avg', 2), g1.allreduce(b, 'avg', 2)]);
    assert.deepEqual(Array.from(a), [2, 2, 2, 2, 0]);
    assert.deepEqual(Array.from(b), Array.from(a));
    const m0 = Float32Array.from([1, 9]);
    const m1 = Float32Array.from([5, 3]);
    await Promise.all([g0.allreduce(m0, 'max'), g1.allreduce(m1, 'max')]);
    assert.deepEqual(Array.from(m1), [5, 9]);
    const x0 = Float32Array.from([7, 8]);
    const x1 = new Float32Array(2);
    await Promise.all([g0.broadcast(x0, 0), g1.broadcast(x1, 0)]);
    assert.deepEqual(Array.from(x1), [7, 8]);
    await Promise.all([g0.close(), g1.close()]);
    await assert.rejects(g0.allreduce(a), /closed/);
  });

  it('the agent forms generations: start, lost heartbeat, join, stall retry', async (t) => {
    const host = await StoreServer.start({ host: '127.0.0.1', secret: 'agent-secret' });
    t.after(() => host.close());
    const store = await Store.connect({ host: '127.0.0.1', port: host.port, secret: 'agent-secret' });
    const gens: { members: string[]; reason: string }[] = [];
    const dead: string[] = [];
    const agent = new ElasticAgent({
      store,
      initialWorkers: 3,
      minWorkers: 2,
      maxWorkers: 3,
      // Live members beat every ~50 ms: 3 s of silence is a lost worker, never a busy machine's pause.
      heartbeatTimeoutMs: 3000,
      pollMs: 50,
      onChange: (_c, g) => gens.push({ members: g.members, reason: g.reason }),
      onDead: (id) => dead.push(id),
    });
    const run = agent.run();
    let beats = 0;
    const join = async (id: string) => store.set(`elastic/join/${await store.add('elastic/joins', 1)}`, id);
    const beat = (ids: string[]) => Promise.all(ids.map((id) => store.add(`elastic/hb/${id}`, ++beats)));
    const until = async (cond: () => boolean) => {
      for (const deadline = Date.now() + 60_000; Date.now() < deadline && !cond();) {
        await beat(alive);
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(cond());
    };
    let alive = ['a', 'b', 'c'];
    for (const id of alive) await join(id);
    await until(() => gens.length === 1);
    assert.deepEqual(gens[0], { members: ['a', 'b', 'c'], reason: 'job started' });
    alive = ['a', 'c']; // b stops beating
    await until(() => gens.length === 2);
    assert.deepEqual(gens[1]?.members, ['a', 'c']);
    assert.match(gens[1]?.reason ?? '', /worker lost \(b: missed heartbeats/);
    assert.ok(dead.includes('b'));
    await join('d');
    alive = ['a', 'c', 'd'];
    await until(() => gens.length === 3);
    assert.deepEqual(gens[2], { members: ['a', 'c', 'd'], reason: 'worker joined (d)' });
    await store.add('elastic/fault/2', 1);
    await until(() => gens.length === 4);
    assert.match(gens[3]?.reason ?? '', /network stall/);
    assert.equal(agent.changes.length, 3);
    await store.set('elastic/done', '{"ok":true}');
    assert.equal(await run, '{"ok":true}');
  });

  it('records a loss the group must wait out (fewer than --min-workers), then the replacement joining', async (t) => {
    const host = await StoreServer.start({ host: '127.0.0.1', secret: 'loss-secret' });
    t.after(() => host.close());
    const store = await Store.connect({ host: '127.0.0.1', port: host.port, secret: 'loss-secret' });
    // No heartbeats in this test: the launcher's exit report (markDead) is the only death.
    const agent = new ElasticAgent({
      store,
      initialWorkers: 3,
      minWorkers: 3,
      maxWorkers: 3,
      pollMs: 50,
      heartbeatTimeoutMs: 10 * 60_000,
    });
    const run = agent.run();
    try {
      const join = async (id: string) => store.set(`elastic/join/${await store.add('elastic/joins', 1)}`, id);
      const until = async (cond: () => boolean) => {
        for (let i = 0; i < 400 && !cond(); i++) await new Promise((r) => setTimeout(r, 50));
        assert.ok(cond(), `changes so far: ${JSON.stringify(agent.changes)}`);
      };
      for (const id of ['a', 'b', 'c']) await join(id);
      await until(() => agent.currentMembers.length === 3);
      agent.markDead('b', 'killed by SIGKILL');
      await until(() => agent.changes.length === 1);
      assert.deepEqual(agent.currentMembers, ['a', 'c'], 'no generation of 2 forms below --min-workers 3');
      const loss = agent.changes[0];
      assert.equal(loss?.from, 3);
      assert.equal(loss?.to, 2);
      assert.equal(loss?.generation, 0, 'no new generation was published');
      assert.match(loss?.reason ?? '', /worker lost \(b: killed by SIGKILL\); waiting .*--min-workers 3/);
      assert.equal(await store.tryGet('elastic/gen'), '0');
      await join('d');
      await until(() => agent.changes.length === 2);
      assert.deepEqual(agent.currentMembers, ['a', 'c', 'd']);
      assert.deepEqual(
        { from: agent.changes[1]?.from, to: agent.changes[1]?.to, reason: agent.changes[1]?.reason },
        { from: 2, to: 3, reason: 'worker joined (d)' },
      );
      await store.set('elastic/done', '{"ok":true}');
      assert.equal(await run, '{"ok":true}');
    } finally {
      agent.stop();
      await run.catch(() => undefined);
    }
  });
  it('the agent shrinks on request: dismisses the newest member (never rank 0), admits joiners up to the size', async (t) => {
    const host = await StoreServer.start({ host: '127.0.0.1', secret: 'resize-secret' });
    t.after(() => host.close());
    const store = await Store.connect({ host: '127.0.0.1', port: host.port, secret: 'resize-secret' });
    const agent = new ElasticAgent({
      store,
      initialWorkers: 2,
      minWorkers: 1,
      maxWorkers: 3,
      pollMs: 50,
      heartbeatTimeoutMs: 10 * 60_000,
    });
    const run = agent.run();
    try {
      const join = async (id: string) => store.set(`elastic/join/${await store.add('elastic/joins', 1)}`, id);
      const until = async (cond: () => boolean) => {
        for (let i = 0; i < 400 && !cond(); i++) await new Promise((r) => setTimeout(r, 50));
        assert.ok(cond(), `changes so far: ${JSON.stringify(agent.changes)}`);
      };
      for (const id of ['a', 'b']) await join(id);
      await until(() => agent.currentMembers.length === 2);
      agent.resize(1);
      await until(() => agent.changes.length === 1);
      assert.deepEqual(agent.currentMembers, ['a']);
      assert.match(agent.changes[0]?.reason ?? '', /shrink to 1 requested \(b asked to leave\)/);
      assert.equal(await store.tryGet('elastic/dismissed/b'), '1');
      assert.ok(agent.isDismissed('b') && !agent.isDismissed('a'));
      // A worker that registers now is not admitted: the job wants 1; resized to 2, it is.
      await join('c');
      await new Promise((r) => setTimeout(r, 500));
      assert.deepEqual(agent.currentMembers, ['a']);
      agent.resize(2);
      await until(() => agent.currentMembers.length === 2);
      assert.deepEqual(agent.currentMembers, ['a', 'c']);
      agent.resize(9);
      assert.equal(agent.wanted, 3, 'bounded by --max-workers');
      await store.set('elastic/preempted', '{"checkpoint":null}');
      assert.equal(await run, '{"checkpoint":null}');
      assert.equal(agent.preempted, true);
    } finally {
      agent.stop();
      await run.catch(() => undefined);
    }
  });
});
