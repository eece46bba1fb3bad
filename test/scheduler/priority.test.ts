import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PreemptionLedger, SchedulerError } from '../../src/scheduler/index.js';
import { ids, job, machine, members } from './sim.js';

describe('priority and preemption (book figures 6.5–6.8)', () => {
  it('runs A and C (high), then D (medium), then B (low) when all wait at once', () => {
    const s = machine(1);
    s.submit(job('busy', 'x', { preemptible: false }), 0);
    s.decide(0);
    s.submit(job('A', 'u1', { priorityClass: 'high' }), 1);
    s.submit(job('B', 'u2', { priorityClass: 'low' }), 1);
    s.submit(job('C', 'u3', { priorityClass: 'high' }), 1);
    s.submit(job('D', 'u4', { priorityClass: 'medium' }), 1);
    assert.deepEqual(
      s.pending(1).map((p) => p.id),
      ['A', 'C', 'D', 'B'],
    );
    const order: string[] = [];
    s.finish('busy', 2);
    for (let t = 2; order.length < 4; t++) {
      for (const id of ids(s.decide(t), 'admit')) {
        order.push(id);
        s.finish(id, t + 1);
      }
    }
    assert.deepEqual(order, ['A', 'C', 'D', 'B']);
  });

  it('figure 6.6: the admin’s maintenance job, submitted last into a full machine, runs and unblocks the rest', () => {
    const s = machine(3);
    s.submit(job('admin-work', 'admin', { priorityClass: 'medium' }), 0);
    s.submit(job('stuck-job2', 'user3', { priorityClass: 'low', checkpointable: true }), 0);
    s.submit(job('other', 'user2', { priorityClass: 'medium' }), 0);
    s.decide(0);
    s.submit(job('job1', 'user2', { cores: 2, priorityClass: 'medium' }), 1); // needs job2's table and its core
    assert.deepEqual(ids(s.decide(1), 'admit'), []);
    s.submit(job('maintenance-job3', 'admin', { priorityClass: 'high' }), 2); // last, into a full machine
    const d = s.decide(2);
    assert.deepEqual(
      d.filter((x) => x.kind === 'preempt').map((x) => [x.id, x.kind === 'preempt' && x.by]),
      [['stuck-job2', 'maintenance-job3']],
      'only the stuck low-priority job is preempted',
    );
    assert.equal(s.pending(2).find((p) => p.id === 'maintenance-job3')?.code, 'SCHED_PREEMPTING');
    s.stopped('stuck-job2', 3); // it checkpointed and stopped within its grace period
    assert.deepEqual(ids(s.decide(3), 'admit'), ['maintenance-job3']);
    s.cancel('stuck-job2', 4); // the maintenance job ends the stuck job...
    s.finish('maintenance-job3', 5);
    s.finish('other', 6);
    assert.deepEqual(ids(s.decide(6), 'admit'), ['job1'], '...and the blocked job proceeds');
  });

  it('evicts the fewest whole gangs that make room, never more', () => {
    const s = machine(4);
    s.submit(job('l1', 'a', { priorityClass: 'low' }), 0);
    s.submit(job('l2', 'b', { priorityClass: 'low' }), 0);
    s.submit(job('gang', 'c', { priorityClass: 'low', count: 2 }), 0);
    s.decide(0);
    s.submit(job('h2', 'd', { priorityClass: 'high', cores: 2 }), 1);
    const d = s.decide(1);
    assert.deepEqual(
      ids(d, 'preempt'),
      ['gang'],
      'one 2-member gang, not two 1-core jobs (and not all three)',
    );
    s.stopped('gang', 2);
    assert.deepEqual(ids(s.decide(2), 'admit'), ['h2']);
    s.submit(job('h3', 'e', { priorityClass: 'high', cores: 2 }), 3);
    assert.deepEqual(ids(s.decide(3), 'preempt').sort(), ['l1', 'l2']);
    assert.equal(s.job('l1')?.phase, 'stopping');
    assert.equal(s.free.cores, 0, 'victims hold their resources until they stop');
    assert.deepEqual(members(s), { h2: 1 });
  });

  it('prefers the lowest-priority victims and never evicts a non-preemptible job', () => {
    const s = machine(2);
    s.submit(job('medium', 'a', { priorityClass: 'medium' }), 0);
    s.submit(job('low-pinned', 'b', { priorityClass: 'low', preemptible: false }), 0);
    s.decide(0);
    s.submit(job('high', 'c', { priorityClass: 'high' }), 1);
    assert.deepEqual(ids(s.decide(1), 'preempt'), ['medium']);
  });

  it('is checkpoint-aware: the victim gets a grace period, is requeued in its old place and resumes', () => {
    const s = machine(1);
    s.submit(job('train', 'a', { priorityClass: 'low', checkpointable: true }), 0);
    s.submit(job('later-low', 'a', { priorityClass: 'low' }), 0); // same user: only submission order ranks them
    s.decide(0);
    s.submit(job('urgent', 'c', { priorityClass: 'high' }), 10);
    const [p] = s.decide(10).filter((x) => x.kind === 'preempt');
    assert.deepEqual(p, {
      kind: 'preempt',
      id: 'train',
      by: 'urgent',
      reason: 'urgent (priority 1000) needs room; train has priority 100',
      graceMs: 30_000,
      checkpoint: true,
    });
    assert.equal(s.job('train')?.phase, 'stopping');
    s.stopped('train', 20);
    assert.deepEqual(ids(s.decide(20), 'admit'), ['urgent']);
    assert.deepEqual(
      s.pending(20).map((x) => x.id),
      ['train', 'later-low'],
      'the victim keeps its place ahead of later jobs',
    );
    s.finish('urgent', 30);
    assert.deepEqual(ids(s.decide(30), 'admit'), ['train']);
    assert.equal(s.job('train')?.preemptions, 1);
  });

  it('protects a just-admitted job for its minimum run time', () => {
    const yaml = [
      'clusterQueues: [{ name: default }]',
      'priorityClasses: [{ name: high, value: 10 }, { name: low, value: 1 }]',
      'preemption: { minRunTime: 1m }',
    ].join('\n');
    const s = machine(1, yaml);
    s.submit(job('low', 'a', { priorityClass: 'low' }), 0);
    s.decide(0);
    s.submit(job('high', 'b', { priorityClass: 'high' }), 1000);
    assert.deepEqual(s.decide(1000), []);
    const why = s.pending(1000)[0]!;
    assert.equal(why.code, 'SCHED_PRIORITY');
    assert.match(why.message, /minimum run time protects them until t=60000/);
    assert.deepEqual(s.decide(59_999), []);
    assert.deepEqual(ids(s.decide(60_000), 'preempt'), ['low']);
  });

  it('refuses a preemption loop: the ledger forbids B preempting A after A preempted B', () => {
    const ledger = new PreemptionLedger();
    ledger.record('A', 'B');
    ledger.record('B', 'C');
    assert.equal(ledger.wouldLoop('B', 'A'), true);
    assert.equal(ledger.wouldLoop('C', 'A'), true, 'transitively too');
    assert.throws(
      () => ledger.record('C', 'A'),
      (e: unknown) => e instanceof SchedulerError && e.code === 'SCHED_INVARIANT',
    );
    ledger.forget('B');
    assert.equal(ledger.wouldLoop('C', 'A'), false, 'a finished job takes its edges with it');
  });
});

describe('no preemption loop (Kueue#3779, #7101)', () => {
  it('never lets a job preempt one that preempted it, over a long random run with reclaim and priorities', () => {
    const yaml = [
      'cohorts: [{ name: org }]',
      'clusterQueues:',
      '  - { name: a, cohort: org, nominalQuota: { cores: 3 }, preemption: { reclaimWithinCohort: Any } }',
      '  - { name: b, cohort: org, nominalQuota: { cores: 3 }, preemption: { reclaimWithinCohort: Any } }',
      'priorityClasses: [{ name: high, value: 3 }, { name: medium, value: 2 }, { name: low, value: 1 }]',
      'defaultPriorityClass: medium',
      'preemption: { minRunTime: 0s }',
    ].join('\n');
    const s = machine(6, yaml);
    let x = 11;
    const r = (): number => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const preempted = new Map<string, Set<string>>(); // preemptor → victims, while both live
    let preemptions = 0;
    for (let t = 0, n = 0; t < 4000; t++) {
      if (r() < 0.4) {
        const cls = ['low', 'medium', 'high'][Math.floor(r() * 3)]!;
        s.submit(
          job(`j${n++}`, `u${Math.floor(r() * 3)}`, {
            queue: r() < 0.5 ? 'a' : 'b',
            cores: 1 + Math.floor(r() * 3),
            priorityClass: cls,
          }),
          t,
        );
      }
      for (const d of s.decide(t)) {
        if (d.kind !== 'preempt') continue;
        preemptions++;
        assert.ok(
          !preempted.get(d.id)?.has(d.by),
          `${d.id} preempted ${d.by} before, and now ${d.by} preempts ${d.id}`,
        );
        preempted.set(d.by, (preempted.get(d.by) ?? new Set()).add(d.id));
        s.stopped(d.id, t);
      }
      for (const j of s.jobs()) {
        if (j.phase === 'running' && r() < 0.03) {
          s.finish(j.id, t);
          preempted.delete(j.id);
          for (const v of preempted.values()) v.delete(j.id);
        }
      }
    }
    assert.ok(preemptions > 20, `the run preempted enough to mean something (${preemptions})`);
  });
});
