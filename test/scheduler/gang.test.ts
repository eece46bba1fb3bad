import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type JobSpec, type Scheduler } from '../../src/scheduler/index.js';
import { elastic, ids, job, machine, members } from './sim.js';

/** Deterministic pseudo-random numbers (the test must not depend on luck). */
function rng(seed: number): () => number {
  let x = seed;
  return () => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

describe('gang scheduling (figures 6.9–6.11) and backfill', () => {
  it('never starts part of a gang, over a long random run with preemption and lost members', () => {
    const s = machine(8);
    const r = rng(7);
    const live = new Set<string>();
    const counts = new Map<string, number>();
    let n = 0;
    for (let t = 0; t < 3000; t++) {
      if (r() < 0.3) {
        const count = 1 + Math.floor(r() * 4);
        const cls = ['low', 'medium', 'high'][Math.floor(r() * 3)]!;
        const spec: JobSpec = job(`j${n++}`, `u${Math.floor(r() * 4)}`, {
          count,
          cores: 1 + Math.floor(r() * 2),
          priorityClass: cls,
        });
        s.submit(spec, t);
        counts.set(spec.id, count);
      }
      for (const d of s.decide(t)) {
        if (d.kind === 'admit') {
          live.add(d.id);
          assert.equal(d.members, counts.get(d.id), 'all members at once');
        }
        if (d.kind === 'preempt') s.stopped(d.id, t);
      }
      for (const j of s.jobs()) {
        if (j.phase !== 'running') continue;
        assert.equal(
          j.members + j.missing,
          counts.get(j.id),
          `${j.id} holds its whole gang or waits for lost members`,
        );
        if (r() < 0.05) s.finish(j.id, t);
        else if (r() < 0.01) s.memberLost(j.id, t);
      }
      assert.ok(s.free.cores >= -1e-9, 'never over-committed');
    }
    assert.ok(live.size > 100, `enough admissions to mean something (${live.size})`);
  });

  it('waits for a gang that does not fit whole, and says so', () => {
    const s = machine(4);
    s.submit(job('small', 'a', { cores: 2 }), 0);
    s.decide(0);
    s.submit(job('gang', 'b', { count: 3 }), 1);
    assert.deepEqual(s.decide(1), []);
    const p = s.pending(1)[0]!;
    assert.equal(p.code, 'SCHED_GANG_TOO_LARGE');
    assert.match(p.message, /gang of 3 needs 3 cores.*2 cores.*free/);
    s.finish('small', 2);
    assert.deepEqual(s.decide(2), [{ kind: 'admit', id: 'gang', members: 3 }]);
  });

  it('holds resources for a waiting gang and backfills only jobs that end before its planned start', () => {
    const s = machine(4);
    s.submit(job('running', 'a', { cores: 2, timeLimitMs: 100 }), 0);
    s.decide(0);
    s.submit(job('gang', 'b', { count: 4 }), 1);
    s.submit(job('short', 'c', { timeLimitMs: 50 }), 2);
    s.submit(job('long', 'c', { timeLimitMs: 500 }), 3);
    s.submit(job('unbounded', 'd'), 4);
    assert.deepEqual(
      ids(s.decide(5), 'admit'),
      ['short'],
      'ends at 55, before the gang’s planned start at 100',
    );
    const why = new Map(s.pending(5).map((p) => [p.id, p]));
    assert.equal(why.get('gang')?.estimatedStartMs, 100);
    assert.equal(why.get('long')?.code, 'SCHED_RESERVED');
    assert.match(
      why.get('long')!.message,
      /held for gang \(planned start t=100\); this job would end at t=505/,
    );
    assert.match(why.get('unbounded')!.message, /has no time limit/);
    s.finish('short', 55);
    assert.deepEqual(s.decide(55), [], 'the freed core stays held for the gang');
    s.finish('running', 100);
    assert.deepEqual(ids(s.decide(100), 'admit'), ['gang']);
  });

  it('does not starve a large gang under a stream of small jobs', () => {
    const s = machine(4);
    let t = 0;
    for (let i = 0; i < 4; i++) s.submit(job(`s${i}`, `u${i}`, { timeLimitMs: 10 + i }), t);
    s.decide(t);
    s.submit(job('big', 'g', { count: 4, timeLimitMs: 100 }), ++t);
    let started: number | undefined;
    for (let k = 0; started === undefined && k < 100; k++) {
      t++;
      s.submit(job(`x${k}`, `u${k % 4}`, { timeLimitMs: 50 }), t);
      for (const j of s.jobs()) if (j.phase === 'running' && j.admittedAt! + 10 <= t) s.finish(j.id, t);
      if (ids(s.decide(t), 'admit').includes('big')) started = t;
    }
    assert.ok(started !== undefined && started <= 20, `big started at t=${started}`);
  });

  it('gives a gang that lost a worker the first claim on freed resources', () => {
    const s = machine(3);
    s.submit(job('gang', 'a', { count: 2 }), 0);
    s.submit(job('other', 'b'), 0);
    s.decide(0);
    s.submit(job('waiting', 'c', { priorityClass: 'high' }), 1);
    s.submit(job('waiting2', 'c'), 1);
    s.memberLost('gang', 2); // one worker died: its core is free again
    const d = s.decide(2);
    assert.deepEqual(
      d.filter((x) => x.kind !== 'preempt'),
      [{ kind: 'resize', id: 'gang', members: 2, reason: 'replaces lost members (first claim)' }],
    );
  });
});

describe('elastic scheduling (6.2.3)', () => {
  it('starts at the minimum when that fits, grows as resources free, shrinks instead of being killed', () => {
    const s: Scheduler = machine(6);
    s.submit(job('fixed', 'a', { cores: 3, priorityClass: 'low' }), 0);
    s.decide(0);
    s.submit(elastic('el', 'b', 2, 6, { priorityClass: 'low' }), 1);
    const d = s.decide(1);
    assert.deepEqual(d[0], { kind: 'admit', id: 'el', members: 2 }, 'starts at min');
    assert.equal(members(s).el, 3, 'and takes the free core');
    s.finish('fixed', 2);
    s.decide(2);
    assert.equal(members(s).el, 6, 'grows as resources free');
    s.submit(job('urgent', 'c', { cores: 3, priorityClass: 'high' }), 3);
    const d3 = s.decide(3);
    assert.deepEqual(ids(d3, 'preempt'), [], 'not killed');
    assert.deepEqual(members(s), { el: 3, urgent: 1 });
    s.submit(job('urgent2', 'c', { cores: 1, priorityClass: 'high' }), 4);
    s.decide(4);
    assert.equal(members(s).el, 2, 'shrinks to its minimum');
    s.submit(job('urgent3', 'c', { cores: 1, priorityClass: 'high' }), 5);
    assert.deepEqual(ids(s.decide(5), 'preempt'), ['el'], 'below its minimum it is preempted');
  });
});
