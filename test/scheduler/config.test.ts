import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultQueueConfig, parseQueueConfig, SchedulerError } from '../../src/scheduler/index.js';

/** The problems a bad queue file is reported with. */
function problems(yaml: string): string {
  try {
    parseQueueConfig(yaml, 'queues.yaml');
  } catch (err) {
    assert.ok(err instanceof SchedulerError);
    assert.equal(err.code, 'SCHED_CONFIG_INVALID');
    return err.message;
  }
  assert.fail('expected the file to be rejected');
}

describe('queue file (Kueue vocabulary)', () => {
  it('parses cohorts, queues with quotas and limits, priority classes, groups and durations', () => {
    const c = parseQueueConfig(
      [
        'apiVersion: distml/v1',
        'kind: QueueConfig',
        'cohorts: [{ name: org }, { name: research, parentName: org, fairSharing: { weight: 2 } }]',
        'clusterQueues:',
        '  - name: vision',
        '    cohort: research',
        '    nominalQuota: { cores: 1500m, memory: 4Gi }',
        '    borrowingLimit: { cores: 1 }',
        '    lendingLimit: { cores: 500m }',
        '    fairSharing: { weight: 3 }',
        '    preemption: { reclaimWithinCohort: Any }',
        'localQueues: [{ name: team-a, clusterQueue: vision }]',
        'priorityClasses: [{ name: high, value: 1000 }, { name: low, value: 10 }]',
        'defaultPriorityClass: low',
        'groups: [{ name: g1, weight: 2, users: [ann, { name: bob, weight: 3 }] }]',
        'preemption: { minRunTime: 1m30s, gracePeriod: 45s }',
        'admissionFairSharing: { usageHalfLifeTime: 2h }',
      ].join('\n'),
    );
    assert.deepEqual(c.clusterQueues[0], {
      name: 'vision',
      cohort: 'research',
      nominalQuota: { cores: 1.5, memory: 4 * 2 ** 30 },
      borrowingLimit: { cores: 1 },
      lendingLimit: { cores: 0.5 },
      weight: 3,
      reclaimWithinCohort: 'Any',
    });
    assert.deepEqual(c.cohorts[1], { name: 'research', parentName: 'org', weight: 2 });
    assert.deepEqual(c.groups[0]?.users, [
      { name: 'ann', weight: 1 },
      { name: 'bob', weight: 3 },
    ]);
    assert.deepEqual(c.preemption, { minRunTimeMs: 90_000, gracePeriodMs: 45_000 });
    assert.equal(c.usageHalfLifeMs, 7_200_000);
  });

  it('has a default: one queue with the whole machine and high/medium/low classes', () => {
    const c = defaultQueueConfig();
    assert.deepEqual(
      c.clusterQueues.map((q) => [q.name, q.nominalQuota]),
      [['default', undefined]],
    );
    assert.deepEqual(
      c.priorityClasses.map((p) => p.name),
      ['high', 'medium', 'low'],
    );
    assert.equal(c.defaultPriorityClass, 'medium');
  });

  it('names the YAML path and the fix for shape errors', () => {
    const msg = problems(
      [
        'clusterQueues:',
        '  - name: ok',
        '    nominalQuota: { cores: lots, memory: 4Gb }',
        '    fairShare: { weight: 1 }',
        '  - name: Bad_Name',
        'priorityClasses: [{ name: high, value: 1.5 }]',
        'preemption: { gracePeriod: soon }',
      ].join('\n'),
    );
    assert.match(msg, /^queues\.yaml is not a valid queue configuration:/);
    assert.match(
      msg,
      /clusterQueues\[0\]\.nominalQuota\.cores: cores "lots" is not a number or millicores like "500m"/,
    );
    assert.match(
      msg,
      /clusterQueues\[0\]\.nominalQuota\.memory: memory "4Gb" is not bytes or a quantity like "4Gi"/,
    );
    assert.match(msg, /clusterQueues\[0\]: unknown field "fairShare": remove or fix the spelling/);
    assert.match(msg, /clusterQueues\[1\]\.name: must be a lowercase DNS-1123 name/);
    assert.match(msg, /priorityClasses\[0\]\.value: must be an integer/);
    assert.match(msg, /preemption\.gracePeriod: "soon" is not a duration like "30s"/);
  });

  it('checks references, the cohort tree, limits and group membership across entries', () => {
    const msg = problems(
      [
        'cohorts: [{ name: a, parentName: b }, { name: b, parentName: a }, { name: c, parentName: nowhere }]',
        'clusterQueues:',
        '  - { name: q1, cohort: missing }',
        '  - { name: q2, borrowingLimit: { cores: 1 } }',
        '  - { name: q3, cohort: a, nominalQuota: { cores: 1 }, lendingLimit: { cores: 2 } }',
        '  - { name: q1 }',
        'localQueues: [{ name: lq, clusterQueue: q9 }]',
        'defaultPriorityClass: urgent',
        'groups: [{ name: g1, users: [ann] }, { name: g2, users: [ann] }]',
      ].join('\n'),
    );
    for (const want of [
      /cohorts\[0\]\.parentName: the cohort tree has a cycle through "a": make it a tree/,
      /cohorts\[2\]\.parentName: no cohort "nowhere"/,
      /clusterQueues\[0\]\.cohort: no cohort "missing": add it under cohorts/,
      /clusterQueues\[1\]\.borrowingLimit: a queue outside a cohort has nobody to borrow from/,
      /clusterQueues\[2\]\.lendingLimit\.cores: 2 is more than nominalQuota\.cores \(1\): lower it/,
      /clusterQueues\/localQueues\[3\]\.name: "q1" is used twice/,
      /localQueues\[0\]\.clusterQueue: no clusterQueue "q9"/,
      /defaultPriorityClass: no priority class "urgent"/,
      /groups\[1\]\.users\[0\]: user "ann" is already in group "g1"/,
    ])
      assert.match(msg, want);
  });

  it('rejects YAML that does not parse and a file without queues', () => {
    assert.match(problems('clusterQueues: [unclosed'), /not valid YAML/);
    assert.match(problems('clusterQueues: []'), /clusterQueues: needs at least one queue/);
    assert.match(problems(''), /clusterQueues: /);
  });
});
