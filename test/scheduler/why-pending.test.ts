import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PENDING_CODES } from '../../src/scheduler/index.js';
import { job, machine } from './sim.js';

describe('why pending', () => {
  it('gives every pending job a code, words, its position and, where known, an estimated start', () => {
    const yaml = [
      'cohorts: [{ name: org }]',
      'clusterQueues:',
      '  - { name: research, cohort: org, nominalQuota: { cores: 2 }, borrowingLimit: { cores: 0 } }',
      '  - { name: prod, cohort: org, nominalQuota: { cores: 6 } }',
      'priorityClasses: [{ name: high, value: 10 }, { name: low, value: 1 }]',
      'defaultPriorityClass: low',
      'preemption: { minRunTime: 1h }',
    ].join('\n');
    const s = machine(8, yaml);
    s.submit(job('r1', 'ann', { queue: 'research', cores: 2, timeLimitMs: 1000 }), 0);
    s.submit(job('p1', 'bob', { queue: 'prod', cores: 4, timeLimitMs: 2000 }), 0);
    s.decide(0);
    s.submit(job('r2', 'ann', { queue: 'research' }), 1); // research is at its quota, 2 cores free
    s.submit(job('gang', 'bob', { queue: 'prod', count: 3 }), 2); // 3 > 2 free
    s.submit(job('hi', 'cat', { queue: 'prod', cores: 3, priorityClass: 'high' }), 3);
    s.submit(job('after', 'dan', { queue: 'prod', timeLimitMs: 1 }), 4);
    s.submit(job('late', 'eve', { queue: 'prod', timeLimitMs: 5000 }), 4);
    assert.deepEqual(
      s.decide(5).map((d) => d.id),
      ['after'],
      'after ends (t=6) before hi’s planned start (t=1000): backfilled',
    );
    const p = s.pending(5);
    const by = new Map(p.map((x) => [x.id, x]));
    assert.deepEqual(
      p.map((x) => [x.id, x.position]),
      [
        ['hi', 1],
        ['late', 2], // eve has used nothing yet: first among the low-priority jobs
        ['r2', 3], // ann holds 2 of 8 cores
        ['gang', 4], // bob holds 4
      ],
    );
    assert.equal(by.get('r2')?.code, 'SCHED_QUOTA');
    assert.equal(
      by.get('r2')?.message,
      'queue research uses 2 cores of its nominal 2 cores + 1024 GiB and cannot borrow more from cohort org; this job needs 1 core',
    );
    assert.equal(by.get('r2')?.estimatedStartMs, undefined, 'no estimate from machine time alone');
    assert.equal(by.get('hi')?.code, 'SCHED_PRIORITY');
    assert.match(
      by.get('hi')!.message,
      /lower-priority r1, p1 just started: their minimum run time protects them until t=3600000/,
    );
    assert.equal(by.get('hi')?.estimatedStartMs, 1000, 'r1 ends at its time limit');
    assert.equal(by.get('gang')?.code, 'SCHED_GANG_TOO_LARGE');
    assert.equal(by.get('late')?.code, 'SCHED_RESERVED');
    assert.match(
      by.get('late')!.message,
      /held for hi \(planned start t=1000\); this job would end at t=5005/,
    );
    for (const x of p) assert.ok(x.code in PENDING_CODES && x.message.length > 10);
  });

  it('names fair-share rank and higher priority for jobs further down the order', () => {
    const s = machine(1);
    s.submit(job('running', 'ann', { preemptible: false }), 0);
    s.decide(0);
    s.submit(job('ann2', 'ann'), 1);
    s.submit(job('bob1', 'bob'), 2);
    s.submit(job('bob2', 'bob'), 3);
    s.decide(5);
    const codes = (): string[][] => s.pending(5).map((x) => [x.id, x.code]);
    assert.deepEqual(codes(), [
      ['bob1', 'SCHED_RESOURCES'],
      ['bob2', 'SCHED_RESOURCES'],
      ['ann2', 'SCHED_FAIR_SHARE'],
    ]);
    s.submit(job('hi', 'cat', { priorityClass: 'high' }), 6);
    s.decide(6);
    assert.deepEqual(codes(), [
      ['hi', 'SCHED_RESOURCES'],
      ['bob1', 'SCHED_PRIORITY'],
      ['bob2', 'SCHED_PRIORITY'],
      ['ann2', 'SCHED_PRIORITY'],
    ]);
  });
});
