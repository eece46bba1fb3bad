// Unit tests for the gateway's pure policies: autoscaler, balancers, sharding, rate limits and key config.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  anonymousOnly,
  Autoscaler,
  createBalancer,
  hashKey,
  identify,
  merge,
  parseAccessConfig,
  partition,
  RateLimiter,
  ServeError,
} from '../../../src/serve/index.js';

/** Feeds `value` every 100 ms from `t0` for `ms` and returns the last decision. */
function feed(a: Autoscaler, t0: number, ms: number, value: number, ready: number, current: number) {
  let desired = current;
  for (let t = t0 + 100; t <= t0 + ms; t += 100) {
    a.observe(t, value);
    desired = a.decide(t, ready, desired);
  }
  return desired;
}

describe('autoscaler (KPA semantics)', () => {
  it('panics on a burst over twice the target and scales up at once, capped by max', () => {
    const a = new Autoscaler({ min: 1, max: 5, target: 1, stableWindowMs: 6000, panicWindowMs: 600 });
    const d = feed(a, 0, 300, 8, 1, 1);
    assert.equal(d, 5);
    assert.equal(a.panicking, true);
    assert.equal(a.decisions[0]?.from, 1);
    assert.equal(a.decisions[0]?.panic, true);
  });

  it('follows the stable window without a burst, and never scales down while panicking', () => {
    const a = new Autoscaler({ min: 1, max: 10, target: 2, stableWindowMs: 1000, panicWindowMs: 100 });
    assert.equal(feed(a, 0, 1000, 5, 3, 3), 3); // 5 / 2 -> 3, no panic (5/2/3 < 2)
    assert.equal(a.panicking, false);
    const b = new Autoscaler({ min: 1, max: 10, target: 1, stableWindowMs: 1000, panicWindowMs: 200 });
    assert.equal(feed(b, 0, 300, 6, 1, 1), 6);
    assert.equal(feed(b, 300, 500, 0, 6, 6), 6); // load gone, but still within a stable window of panic
  });

  it('scales back down after the stable window, at most halving per decision, to min', () => {
    const a = new Autoscaler({ min: 1, max: 8, target: 1, stableWindowMs: 1000, panicWindowMs: 100 });
    let d = feed(a, 0, 1000, 8, 8, 8);
    assert.equal(d, 8);
    a.observe(2100, 0);
    d = a.decide(2100, 8, d);
    assert.equal(d, 4); // halved, not straight to 1
    for (let t = 2200; t <= 3200; t += 100) {
      a.observe(t, 0);
      d = a.decide(t, d, d); // replicas follow at once
    }
    assert.equal(d, 1);
  });

  it('holds the highest recommendation for the scale-down delay', () => {
    const a = new Autoscaler({
      min: 1,
      max: 4,
      target: 1,
      stableWindowMs: 500,
      panicWindowMs: 50,
      scaleDownDelayMs: 1000,
    });
    let d = feed(a, 0, 500, 2, 2, 2);
    assert.equal(d, 2);
    d = feed(a, 500, 900, 0, 2, d);
    assert.equal(d, 2, 'still within the delay');
    d = feed(a, 1400, 800, 0, 2, d);
    assert.equal(d, 1);
  });

  it('scales to zero with min 0 only after a whole idle stable window', () => {
    const a = new Autoscaler({ min: 0, max: 2, target: 1, stableWindowMs: 1000, panicWindowMs: 100 });
    let d = feed(a, 0, 500, 0.5, 1, 1);
    assert.equal(d, 1);
    d = feed(a, 500, 500, 0, 1, d);
    assert.equal(d, 1, 'the window still holds load');
    d = feed(a, 1000, 600, 0, 1, d);
    assert.equal(d, 0);
    assert.match(a.decisions.at(-1)?.reason ?? '', /scale to zero/);
  });
});

describe('balancers', () => {
  const reps = [1, 2, 3].map((id) => ({ id, inFlight: 0 }));
  it('round-robin rotates', () => {
    const b = createBalancer('round-robin');
    assert.deepEqual(
      [0, 1, 2, 3].map(() => b.pick(reps, '').id),
      [1, 2, 3, 1],
    );
  });

  it('least-connections picks the least busy', () => {
    const b = createBalancer('least-connections');
    const busy = [
      { id: 1, inFlight: 3 },
      { id: 2, inFlight: 1 },
      { id: 3, inFlight: 2 },
    ];
    assert.equal(b.pick(busy, '').id, 2);
  });

  it('consistent-hash keeps keys on their replica and moves few when one leaves', () => {
    const b = createBalancer('consistent-hash');
    const keys = Array.from({ length: 300 }, (_, i) => `session-${i}`);
    const before = keys.map((k) => b.pick(reps, k).id);
    assert.deepEqual(
      keys.map((k) => b.pick(reps, k).id),
      before,
    );
    for (const id of [1, 2, 3]) assert.ok(before.filter((x) => x === id).length > 50, 'spread over replicas');
    const after = keys.map((k) => b.pick(reps.slice(0, 2), k).id);
    const moved = keys.filter((_, i) => before[i] !== 3 && before[i] !== after[i]).length;
    assert.equal(moved, 0, 'keys of the remaining replicas stay');
  });
});

describe('sharding', () => {
  it('partitions by a hash of the index, evenly, and merges back in order', () => {
    const parts = partition(100, 3);
    assert.equal(parts.length, 3);
    assert.deepEqual(
      parts.flat().sort((a, b) => a - b),
      Array.from({ length: 100 }, (_, i) => i),
    );
    for (const p of parts) assert.ok(p.length > 20);
    assert.notDeepEqual(
      parts[0],
      Array.from({ length: parts[0]?.length ?? 0 }, (_, i) => i),
      'not contiguous',
    );
    const answers = parts.map((p) => p.map((i) => `r${i}`));
    assert.deepEqual(
      merge(100, parts, answers),
      Array.from({ length: 100 }, (_, i) => `r${i}`),
    );
  });
});

describe('rate limits', () => {
  const tier = { concurrency: 2, rps: 1000, burst: 1000, queue: 1, queueTimeoutMs: 200 };
  const client = { id: 'anon:x', tier: 'anonymous', limits: tier };

  it('admits up to the concurrency, queues up to the queue, refuses beyond with Retry-After', async () => {
    const rl = new RateLimiter();
    try {
      const a = await rl.acquire(client);
      const b = await rl.acquire(client);
      assert.ok(a.admitted && b.admitted);
      const queued = rl.acquire(client);
      const refused = await rl.acquire(client);
      assert.equal(refused.admitted, false);
      if (!refused.admitted) assert.ok(refused.retryAfterSeconds >= 1);
      if (a.admitted) a.release();
      const q = await queued;
      assert.equal(q.admitted, true);
      if (q.admitted) q.release();
      if (b.admitted) b.release();
    } finally {
      rl.close();
    }
  });

  it('a queued request past the queue timeout is refused', async () => {
    const rl = new RateLimiter();
    try {
      await rl.acquire(client);
      await rl.acquire(client);
      const t0 = Date.now();
      const r = await rl.acquire(client);
      assert.equal(r.admitted, false);
      assert.ok(Date.now() - t0 >= 190);
    } finally {
      rl.close();
    }
  });

  it('the token bucket holds the request rate', async () => {
    const rl = new RateLimiter();
    try {
      const slow = {
        id: 'anon:y',
        tier: 'anonymous',
        // One token per 100 s: no token comes back between the four calls, however slow they are.
        limits: { concurrency: 100, rps: 0.01, burst: 2, queue: 0, queueTimeoutMs: 0 },
      };
      const results = [];
      for (let i = 0; i < 4; i++) results.push(await rl.acquire(slow));
      assert.deepEqual(
        results.map((r) => r.admitted),
        [true, true, false, false],
      );
      const last = results[3];
      // The time to the next token: 100 s, less what has passed since the bucket emptied.
      if (last && !last.admitted)
        assert.ok(last.retryAfterSeconds > 90 && last.retryAfterSeconds <= 100, `${last.retryAfterSeconds}`);
    } finally {
      rl.close();
    }
  });

  it('keys are matched by SHA-256; an unknown key is a 401; anonymous clients are told apart by address', () => {
    const key = 'secret-key-1';
    const access = parseAccessConfig(
      `tiers:\n  gold: { concurrency: 8, rps: 50 }\nkeys:\n  - { name: alice, tier: gold, sha256: ${hashKey(key)} }\n`,
    );
    const c = identify(access, { authorization: `Bearer ${key}` }, '127.0.0.1');
    assert.equal(c.tier, 'gold');
    assert.equal(c.limits.concurrency, 8);
    assert.equal(c.limits.burst, 100);
    assert.ok(!c.id.includes(key));
    assert.equal(identify(access, { 'x-api-key': key }, '1.2.3.4').id, c.id);
    assert.throws(
      () => identify(access, { 'x-api-key': 'nope' }, '1.2.3.4'),
      (e: ServeError) => e.code === 'SERVE_UNAUTHORIZED',
    );
    const a1 = identify(anonymousOnly(), {}, '10.0.0.1');
    const a2 = identify(anonymousOnly(), {}, '10.0.0.2');
    assert.equal(a1.tier, 'anonymous');
    assert.notEqual(a1.id, a2.id);
  });

  it('rejects a keys file with a plain key or an unknown tier, naming the field', () => {
    assert.throws(
      () => parseAccessConfig('keys:\n  - { name: a, tier: t, key: abc }\n', 'k.yaml'),
      /k\.yaml: keys\.0/,
    );
    assert.throws(
      () => parseAccessConfig(`keys:\n  - { name: a, tier: t, sha256: ${hashKey('x')} }\n`, 'k.yaml'),
      /unknown tier "t"/,
    );
  });
});
