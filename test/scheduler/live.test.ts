import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LiveScheduler, parseQueueConfig, type Snapshot } from '../../src/scheduler/index.js';
import { elastic, job } from './sim.js';

const config = (minRunTime: string) =>
  parseQueueConfig(
    [
      'clusterQueues: [{ name: default }]',
      'priorityClasses: [{ name: high, value: 10 }, { name: low, value: 1 }]',
      `preemption: { minRunTime: ${minRunTime}, gracePeriod: 5s }`,
    ].join('\n'),
  );

describe('live scheduler (real time, real events)', { timeout: 60_000 }, () => {
  it('preempts through the lease, requeues on stopped() and resumes the victim when room returns', async () => {
    const snapshots: Snapshot[] = [];
    const live = new LiveScheduler({
      capacity: { cores: 1, memory: 1 },
      config: config('0s'),
      onCycle: (s) => snapshots.push(s),
    });
    try {
      const low = await live.admit(job('low', 'a', { priorityClass: 'low', checkpointable: true }));
      const grace = new Promise<number>((resolve) => low.onPreempt(resolve));
      const high = live.admit(job('high', 'b', { priorityClass: 'high' }));
      assert.equal(await grace, 5000, 'told to checkpoint within the grace period');
      const resumed = low.stopped();
      const h = await high;
      assert.equal(h.members, 1);
      h.release();
      assert.equal(await resumed, 1, 'readmitted when the high job ends');
      low.release();
      assert.deepEqual(live.available, { cores: 1, memory: 1 });
      assert.ok(
        snapshots.some((s) => s.pending.some((p) => p.id === 'high' && p.code === 'SCHED_PREEMPTING')),
      );
    } finally {
      live.close();
    }
  });

  it('tells an elastic job to grow and shrink', async () => {
    const live = new LiveScheduler({ capacity: { cores: 4, memory: 1 }, config: config('0s') });
    try {
      const fixed = await live.admit(job('fixed', 'a', { cores: 2, priorityClass: 'low' }));
      const el = await live.admit(elastic('el', 'b', 1, 4, { priorityClass: 'low' }));
      assert.equal(el.members, 2);
      const sizes: number[] = [];
      el.onResize((m) => sizes.push(m));
      fixed.release();
      assert.deepEqual(sizes, [4]);
      const urgent = await live.admit(job('urgent', 'c', { cores: 3, priorityClass: 'high' }));
      assert.deepEqual(sizes, [4, 1]);
      urgent.release();
      el.release();
    } finally {
      live.close();
    }
  });

  it('reconsiders waiting jobs on its own clock: a minimum run time ends without any event', async () => {
    const live = new LiveScheduler({
      capacity: { cores: 1, memory: 1 },
      config: config('200ms'),
      tickMs: 20,
    });
    try {
      const low = await live.admit(job('low', 'a', { priorityClass: 'low' }));
      let preemptedAt = 0;
      low.onPreempt(() => (preemptedAt = Date.now()));
      const t0 = Date.now();
      const high = live.admit(job('high', 'b', { priorityClass: 'high' }));
      const deadline = Date.now() + 60_000;
      while (!preemptedAt && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.ok(preemptedAt - t0 >= 190, 'not before the minimum run time');
      void low.stopped();
      (await high).release();
      low.release();
    } finally {
      live.close();
    }
  });

  it('fails waiting requests on close and keeps no timer alive', async () => {
    const live = new LiveScheduler({ capacity: { cores: 1, memory: 1 }, tickMs: 10 });
    const held = await live.admit(job('held', 'a', { queue: 'default' }));
    const waiting = live.admit(job('waiting', 'b', { queue: 'default' }));
    live.close();
    await assert.rejects(waiting, /scheduler closed/);
    held.release();
  });

  it('reconfigure: a pending job whose queue gains quota starts at once; running leases stay', async () => {
    const quotas = (research: number) =>
      parseQueueConfig(
        [
          'clusterQueues:',
          `  - { name: research, nominalQuota: { cores: ${research} } }`,
          '  - { name: prod, nominalQuota: { cores: 1 } }',
          'priorityClasses: [{ name: high, value: 10 }]',
          'preemption: { minRunTime: 0s }',
        ].join('\n'),
      );
    let now = 1_000_000;
    const live = new LiveScheduler({
      capacity: { cores: 4, memory: 1 },
      config: quotas(1),
      clock: () => now,
    });
    try {
      const first = await live.admit(job('first', 'ann', { queue: 'research' }));
      let second: number | undefined;
      const waiting = live.admit(job('second', 'ann', { queue: 'research' })).then((l) => {
        second = l.members;
        return l;
      });
      await new Promise((r) => setImmediate(r));
      assert.equal(second, undefined, 'research quota (1 core) is used up');
      assert.equal(live.snapshot().pending[0]?.code, 'SCHED_QUOTA');
      live.reconfigure(quotas(2));
      assert.equal((await waiting).members, 1, 'admitted by the reload, no other event');
      assert.equal(live.scheduler.job('first')?.phase, 'running', 'the running job kept its lease');
      assert.deepEqual(live.available, { cores: 2, memory: 1 });
      // Past usage (fair-share order) is carried: the reload itself charges nothing.
      now += 60_000;
      const past = () => live.scheduler.shares(now).map((s) => [s.user, s.past.toFixed(12)]);
      const before = past();
      live.scheduler.reconfigure(quotas(3), now);
      assert.deepEqual(past(), before);
      first.release();
      (await waiting).release();
      assert.deepEqual(live.available, { cores: 4, memory: 1 });
      assert.equal(live.scheduler.queues().find((q) => q.name === 'research')?.usage.cores, 0);
    } finally {
      live.close();
    }
  });

  it('reconfigure: refuses a file that drops a queue or class active jobs use, and keeps the old one', async () => {
    const both = parseQueueConfig(
      [
        'clusterQueues: [{ name: research }, { name: prod }]',
        'priorityClasses: [{ name: high, value: 10 }, { name: low, value: 1 }]',
      ].join('\n'),
    );
    const live = new LiveScheduler({ capacity: { cores: 1, memory: 1 }, config: both });
    try {
      const running = await live.admit(job('run/a#1', 'ann', { queue: 'research' }));
      const pending = live.admit(job('run/b#2', 'bob', { queue: 'prod', priorityClass: 'low' }));
      const withoutResearch = parseQueueConfig(
        'clusterQueues: [{ name: prod }]\npriorityClasses: [{ name: high, value: 10 }]',
      );
      assert.throws(
        () => live.reconfigure(withoutResearch),
        (err: Error & { code?: string }) =>
          err.code === 'SCHED_CONFIG_IN_USE' &&
          /run\/a#1 \(running, queue research\)/.test(err.message) &&
          /run\/b#2 \(pending, priority class low\)/.test(err.message),
      );
      assert.equal(live.scheduler.config, both, 'the old configuration stays in force');
      running.release();
      (await pending).release();
      live.reconfigure(withoutResearch);
      assert.deepEqual(
        live.scheduler.queues().map((q) => q.name),
        ['prod'],
        'accepted once no active job needs what it drops',
      );
    } finally {
      live.close();
    }
  });
});
