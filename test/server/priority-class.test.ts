// A workflow's numeric spec.priority (Argo's) picks the run's priority class when --priority names none.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseQueueConfig, ResourcePool } from '../../src/scheduler/index.js';
import { classForPriority, jobOf } from '../../src/server/runs.js';

const config = parseQueueConfig(
  'clusterQueues: [{ name: default }]\npriorityClasses: [{ name: high, value: 1000 }, { name: low, value: 10 }, { name: mid, value: 100 }]\n',
);

describe("spec.priority → the run's priority class", () => {
  it('is the class with the largest value at most spec.priority, else the lowest class', () => {
    assert.equal(classForPriority(config, 100), 'mid', 'an exact value');
    assert.equal(classForPriority(config, 999), 'mid');
    assert.equal(classForPriority(config, 5000), 'high');
    assert.equal(classForPriority(config, 10), 'low');
    assert.equal(classForPriority(config, -3), 'low', 'below every class: the lowest');
    assert.equal(
      classForPriority(parseQueueConfig('clusterQueues: [{ name: q }]'), 7),
      undefined,
      'no classes',
    );
  });

  it('applies only when --priority names no class; --priority wins', () => {
    const pool = new ResourcePool({ cores: 1, memory: 1, config });
    try {
      assert.equal(jobOf(pool, {}, 150).priorityClass, 'mid');
      assert.equal(jobOf(pool, { priorityClass: 'low' }, 5000).priorityClass, 'low');
      assert.equal(jobOf(pool, {}).priorityClass, undefined, 'no spec.priority: the default class applies');
    } finally {
      pool.close();
    }
  });
});
