import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ResourcePool, SchedulerError } from '../../src/scheduler/index.js';

describe('resource pool (FIFO)', () => {
  it('admits in arrival order and never lets a later request overtake the head', async () => {
    const pool = new ResourcePool({ cores: 2, memory: 100 });
    const order: string[] = [];
    const a = await pool.acquire('a', { cores: 1, memory: 0 });
    const b = pool.acquire('b', { cores: 2, memory: 0 }).then((r) => (order.push('b'), r));
    const c = pool.acquire('c', { cores: 1, memory: 0 }).then((r) => (order.push('c'), r));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(order, [], 'c fits but waits behind b');
    a();
    (await b)();
    (await c)();
    assert.deepEqual(order, ['b', 'c']);
    assert.deepEqual(pool.available, { cores: 2, memory: 100 });
  });

  it('starts a request for nothing at once, even while a large head waits', async () => {
    const pool = new ResourcePool({ cores: 2, memory: 100 });
    const a = await pool.acquire('training', { cores: 2, memory: 0 });
    let headStarted = false;
    const head = pool
      .acquire('next training', { cores: 2, memory: 0 })
      .then((r) => ((headStarted = true), r));
    const server = await pool.acquire('server', { cores: 0, memory: 0 });
    assert.equal(headStarted, false);
    server();
    assert.deepEqual(pool.available, { cores: 0, memory: 100 }, 'releasing nothing gives nothing back');
    a();
    (await head)();
    assert.deepEqual(pool.available, { cores: 2, memory: 100 });
  });

  it('rejects a request larger than the pool and a waiter whose signal aborts', async () => {
    const pool = new ResourcePool({ cores: 1, memory: 10 });
    await assert.rejects(pool.acquire('big', { cores: 4, memory: 0 }), SchedulerError);
    const held = await pool.acquire('x', { cores: 1, memory: 0 });
    const ac = new AbortController();
    const waiting = pool.acquire('y', { cores: 1, memory: 0 }, ac.signal);
    ac.abort();
    await assert.rejects(waiting, /stopped waiting/);
    held();
    assert.equal(pool.waiting, 0);
  });
});
