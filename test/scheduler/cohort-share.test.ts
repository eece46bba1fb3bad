import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backlogged, elastic, machine, members } from './sim.js';

// Fair share along Kueue's hierarchical cohorts: the machine is divided among sibling cohorts and queues by
// their fairSharing weights, then within a queue by group, user and job. 360 cores divide exactly.
const CORES = 360;

describe('fair share along the cohort tree', () => {
  it('gives two cohorts of weight 2 and 1, each with one backlogged queue, 2/3 and 1/3 of the machine', () => {
    const yaml = [
      'cohorts: [{ name: a, fairSharing: { weight: 2 } }, { name: b, fairSharing: { weight: 1 } }]',
      'clusterQueues: [{ name: qa, cohort: a }, { name: qb, cohort: b }]',
    ].join('\n');
    const s = machine(CORES, yaml);
    s.submit(elastic('ja', 'x', 1, CORES, { queue: 'qa' }), 0);
    s.submit(elastic('jb', 'y', 1, CORES, { queue: 'qb' }), 0);
    s.decide(0);
    assert.deepEqual(members(s), { ja: 240, jb: 120 });
    assert.ok(Math.abs(s.jobShare('ja') - 2 / 3) < 1e-12);
    assert.ok(Math.abs(s.jobShare('jb') - 1 / 3) < 1e-12);
  });

  it('splits a cohort’s part among its queues by queue weight, and an idle branch’s part goes to the rest', () => {
    const yaml = [
      'cohorts: [{ name: a }, { name: b }]',
      'clusterQueues:',
      '  - { name: qa, cohort: a }',
      '  - { name: qb1, cohort: b, fairSharing: { weight: 3 } }',
      '  - { name: qb2, cohort: b, fairSharing: { weight: 1 } }',
    ].join('\n');
    const s = machine(CORES, yaml);
    s.submit(elastic('ja', 'x', 1, CORES, { queue: 'qa' }), 0);
    s.submit(elastic('jb1', 'y', 1, CORES, { queue: 'qb1' }), 0);
    s.submit(elastic('jb2', 'z', 1, CORES, { queue: 'qb2' }), 0);
    s.decide(0);
    assert.deepEqual(members(s), { ja: 180, jb1: 135, jb2: 45 });
    s.finish('ja', 1);
    s.decide(1);
    assert.deepEqual(members(s), { jb1: 270, jb2: 90 }, 'cohort a is idle: b takes the machine, still 3:1');
  });

  it('divides nested cohorts level by level, then a queue by group and user as before', () => {
    // root ─ a (2) ─ a1 (1) ─ q1: group g1 (weight 1, users u1 u2), group g2 (weight 2, user u3)
    //       │        └ a2 (1) ─ q2
    //       └ b (1) ── q3
    const yaml = [
      'cohorts:',
      '  - { name: a, fairSharing: { weight: 2 } }',
      '  - { name: a1, parentName: a }',
      '  - { name: a2, parentName: a }',
      '  - { name: b }',
      'clusterQueues: [{ name: q1, cohort: a1 }, { name: q2, cohort: a2 }, { name: q3, cohort: b }]',
      'groups: [{ name: g1, users: [u1, u2] }, { name: g2, weight: 2, users: [u3] }]',
    ].join('\n');
    const s = machine(CORES, yaml);
    for (const u of ['u1', 'u2', 'u3']) s.submit(elastic(`${u}-q1`, u, 1, CORES, { queue: 'q1' }), 0);
    s.submit(elastic('v-q2', 'v', 1, CORES, { queue: 'q2' }), 0);
    s.submit(elastic('w-q3', 'w', 1, CORES, { queue: 'q3' }), 0);
    s.decide(0);
    // a: 240 (a1 120, a2 120), b: 120; q1's 120: g1 40 (u1 20, u2 20), g2 80.
    assert.deepEqual(members(s), { 'u1-q1': 20, 'u2-q1': 20, 'u3-q1': 80, 'v-q2': 120, 'w-q3': 120 });
    // A user with jobs in two queues is entitled to the sum of its parts.
    s.submit(elastic('v-q3', 'v', 1, CORES, { queue: 'q3' }), 1);
    s.decide(1);
    const v = s.shares(1).find((x) => x.user === 'v')!;
    assert.ok(Math.abs(v.entitlement - (1 / 3 + 1 / 6)) < 1e-12, `v is entitled to ${v.entitlement}`);
  });

  it('orders rigid jobs so backlogged queues in cohorts of weight 2 and 1 receive 2/3 and 1/3', () => {
    const yaml = [
      'cohorts: [{ name: a, fairSharing: { weight: 2 } }, { name: b }]',
      'clusterQueues: [{ name: qa, cohort: a }, { name: qb, cohort: b }]',
      'admissionFairSharing: { usageHalfLifeTime: 1h }',
    ].join('\n');
    const s = machine(24, yaml);
    const got = backlogged(
      s,
      ['x', 'y'],
      (u, i) => ({ cores: 1 + (i % 4), minutes: 20 + ((i * 7) % 60), queue: u === 'x' ? 'qa' : 'qb' }),
      {
        fromMs: 5 * 3_600_000,
        untilMs: 100 * 3_600_000,
      },
    );
    const x = got.get('x')! / (got.get('x')! + got.get('y')!);
    assert.ok(Math.abs(x - 2 / 3) < 0.01, `the weight-2 cohort's queue received ${(x * 100).toFixed(2)}%`);
  });
});
