import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffMs, decideRetry, policyRetries } from '../../src/workflow/engine/retry.js';
import type { Template } from '../../src/workflow/spec/schema.js';

const template = (retryStrategy: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  ({ name: 't', container: { command: ['true'] }, retryStrategy, ...extra }) as unknown as Template;
const failed = { phase: 'Failed' as const, message: 'exit code 2', exitCode: 2, durationMs: 1000 };
const errored = (message: string) => ({ phase: 'Error' as const, message, exitCode: null, durationMs: 10 });
const at = (now: number, extra: Record<string, unknown> = {}) => ({
  firstStartedAt: 0,
  now,
  scope: new Map(),
  ...extra,
});

describe("Argo's retryStrategy", () => {
  it(
    'retries the failures its policy names; OnTransientError only transient errors',
    { timeout: 10_000 },
    () => {
      const p = (retryPolicy: string) => template({ limit: 3, retryPolicy });
      assert.equal(policyRetries(p('OnFailure'), failed), true);
      assert.equal(policyRetries(p('OnFailure'), errored('x')), false);
      assert.equal(policyRetries(p('OnError'), errored('x')), true);
      assert.equal(policyRetries(p('OnError'), failed), false);
      assert.equal(policyRetries(p('Always'), failed), true);
      assert.equal(policyRetries(p('OnTransientError'), errored('cannot start: spawn EAGAIN')), true);
      assert.equal(policyRetries(p('OnTransientError'), errored('missing input parameter "x"')), false);
      assert.equal(policyRetries(p('OnTransientError'), failed), false);
    },
  );

  it(
    'grows the delay by factor, caps each delay with cap, and stops at the limit',
    { timeout: 10_000 },
    () => {
      const t = template({ limit: 5, backoff: { duration: '1s', factor: 2, cap: '3s' } });
      assert.deepEqual(
        [0, 1, 2, 3].map((a) => backoffMs(t, a)),
        [1000, 2000, 3000, 3000],
      );
      assert.deepEqual(decideRetry(t, 0, failed, at(0)), { retry: true, delayMs: 1000 });
      assert.deepEqual(decideRetry(t, 5, failed, at(0)), { retry: false });
      assert.equal(backoffMs(template({ limit: 1 }), 4), 1000);
    },
  );

  it(
    'bounds the whole retrying with maxDuration, and never retries past the template timeout',
    { timeout: 10_000 },
    () => {
      const t = template({ limit: 10, backoff: { duration: '2s', maxDuration: '5s' } });
      assert.deepEqual(decideRetry(t, 0, failed, at(2000)), { retry: true, delayMs: 2000 });
      const late = decideRetry(t, 1, failed, at(4000));
      assert.equal(late.retry, false);
      assert.match(!late.retry ? (late.why ?? '') : '', /backoff\.maxDuration 5s exceeded/);
      const timed = template({ limit: 10, backoff: { duration: '1s' } }, { timeout: '3s' });
      assert.equal(decideRetry(timed, 0, failed, at(1000, { deadlineAt: 3000 })).retry, true);
      assert.equal(decideRetry(timed, 1, failed, at(2500, { deadlineAt: 3000 })).retry, false);
    },
  );

  it('asks retryStrategy.expression with lastRetry.*', { timeout: 10_000 }, () => {
    const t = template({ limit: 3, retryPolicy: 'Always', expression: 'asInt(lastRetry.exitCode) > 1' });
    assert.equal(decideRetry(t, 0, failed, at(0)).retry, true);
    assert.equal(decideRetry(t, 0, { ...failed, exitCode: 1 }, at(0)).retry, false);
    const status = template({ limit: 3, retryPolicy: 'Always', expression: "lastRetry.status == 'Error'" });
    assert.equal(decideRetry(status, 0, errored('boom'), at(0)).retry, true);
    assert.throws(
      () => decideRetry(template({ limit: 1, expression: '1 + 1' }), 0, failed, at(0)),
      /must be true or false/,
    );
  });
});
