import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DynamicBatcher, ServeError } from '../../src/serve/index.js';

/** A fake model: output i = sum of example i's inputs; records batch sizes; each pass takes `ms`. */
function fake(ms = 5) {
  const batches: number[] = [];
  const predict = async (x: Float32Array, count: number) => {
    batches.push(count);
    await new Promise((r) => setTimeout(r, ms));
    return Float32Array.from({ length: count }, (_, i) => x[i * 2]! + x[i * 2 + 1]!);
  };
  return { batches, predict };
}

describe('dynamic batcher', () => {
  it('coalesces requests that arrive while the model is busy and returns each its own outputs', async () => {
    const f = fake();
    const b = new DynamicBatcher(f.predict, { maxBatch: 64, inputSize: 2, outputSize: 1 });
    const outs = await Promise.all(Array.from({ length: 10 }, (_, i) => b.submit(Float32Array.of(i, 1))));
    outs.forEach((o, i) => assert.deepEqual([...o], [i + 1]));
    assert.equal(f.batches[0], 1);
    assert.equal(f.batches[1], 9);
  });

  it('never puts more than maxBatch examples in one pass (a larger request runs alone)', async () => {
    const f = fake();
    const b = new DynamicBatcher(f.predict, { maxBatch: 4, inputSize: 2, outputSize: 1 });
    await Promise.all([
      ...Array.from({ length: 9 }, () => b.submit(new Float32Array(2))),
      b.submit(new Float32Array(12)),
    ]);
    assert.ok(f.batches.every((n, i) => n <= 4 || (n === 6 && f.batches.indexOf(6) === i)));
    assert.equal(
      f.batches.reduce((a, c) => a + c, 0),
      15,
    );
  });

  it('waits up to maxDelayMs for company when idle', async () => {
    const f = fake(1);
    // A delay far beyond the test's pace, and a batch the second request fills: the first waits for it
    // however long the 10 ms pause really takes (a 50 ms delay flushed it alone on a busy machine).
    const b = new DynamicBatcher(f.predict, { maxBatch: 2, maxDelayMs: 60_000, inputSize: 2, outputSize: 1 });
    const first = b.submit(new Float32Array(2));
    await new Promise((r) => setTimeout(r, 10));
    const second = b.submit(new Float32Array(2));
    await Promise.all([first, second]);
    assert.deepEqual(f.batches, [2]);
  });

  it('fails every request of a failed pass and keeps working', async () => {
    let fail = true;
    const b = new DynamicBatcher(
      async (_x, count) => {
        if (fail) throw new Error('boom');
        return new Float32Array(count);
      },
      { maxBatch: 8, maxDelayMs: 5, inputSize: 2, outputSize: 1 },
    );
    const rs = await Promise.allSettled([b.submit(new Float32Array(2)), b.submit(new Float32Array(2))]);
    assert.deepEqual(
      rs.map((r) => r.status),
      ['rejected', 'rejected'],
    );
    fail = false;
    assert.equal((await b.submit(new Float32Array(2))).length, 1);
    await b.idle();
    assert.equal(b.pending, 0);
  });

  describe('bounded queue', () => {
    /** A model that holds each pass until `release()`; records the examples of every pass. */
    function gated() {
      const passes: number[] = [];
      const gates: (() => void)[] = [];
      const predict = async (_x: Float32Array, count: number) => {
        passes.push(count);
        await new Promise<void>((r) => gates.push(r));
        return new Float32Array(count);
      };
      const release = () => gates.splice(0).forEach((g) => g());
      return { passes, predict, release };
    }
    const isOverloaded = (pattern: RegExp) => (err: unknown) =>
      err instanceof ServeError &&
      err.code === 'SERVE_OVERLOADED' &&
      err.retryAfterSeconds === 1 &&
      pattern.test(err.message);

    it('refuses a request with 503 + Retry-After when the queue holds maxQueue examples', async () => {
      const m = gated();
      const b = new DynamicBatcher(m.predict, { maxBatch: 2, maxQueue: 3, inputSize: 1, outputSize: 1 });
      const running = b.submit(new Float32Array(2)); // runs, holding the model
      const queued = [b.submit(new Float32Array(2)), b.submit(new Float32Array(1))]; // 3 waiting
      await assert.rejects(b.submit(new Float32Array(1)), isOverloaded(/queue is full .*--max-queue/));
      m.release();
      await running;
      while (m.passes.length < 3) {
        await new Promise((r) => setTimeout(r, 5));
        m.release();
      }
      m.release();
      await Promise.all(queued);
      assert.deepEqual(m.passes, [2, 2, 1]);
    });

    it('answers 503 + Retry-After to a request that waited past its deadline, and never runs it', async () => {
      const m = gated();
      const b = new DynamicBatcher(m.predict, { maxBatch: 1, deadlineMs: 50, inputSize: 1, outputSize: 1 });
      const running = b.submit(new Float32Array(1));
      await assert.rejects(b.submit(new Float32Array(1)), isOverloaded(/waited 50 ms .*--queue-deadline/));
      m.release();
      await running;
      await b.idle();
      assert.deepEqual(m.passes, [1]);
    });

    it('drops the work of a client that has gone before it is computed', async () => {
      const m = gated();
      const b = new DynamicBatcher(m.predict, { maxBatch: 1, inputSize: 1, outputSize: 1 });
      const running = b.submit(new Float32Array(1));
      const gone = new AbortController();
      const dropped = b.submit(new Float32Array(1), gone.signal);
      const kept = b.submit(new Float32Array(1));
      gone.abort(new Error('client gone'));
      await assert.rejects(dropped, /client gone/);
      m.release();
      await running;
      while (m.passes.length < 2) await new Promise((r) => setTimeout(r, 5));
      m.release();
      await kept;
      assert.deepEqual(m.passes, [1, 1]);
      assert.equal(b.pending, 0);
    });
  });
});
