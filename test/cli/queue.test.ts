import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { JobStore, MetadataStore } from '../../src/metadata/index.js';
import { runCli } from './run-cli.js';

describe('distml queue apply / queue ls / jobs', { timeout: 60_000 }, () => {
  it('applies a valid queue file, refuses a bad one with its YAML path, lists queues and jobs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'distml-queue-'));
    try {
      const ws = join(dir, 'ws');
      writeFileSync(
        join(dir, 'q.yaml'),
        'clusterQueues:\n  - { name: research, nominalQuota: { cores: 1 } }\npriorityClasses: [{ name: high, value: 10 }]\n',
      );
      writeFileSync(
        join(dir, 'bad.yaml'),
        'clusterQueues:\n  - { name: research, nominalQuota: { cores: lots } }\n',
      );
      const ok = await runCli(['--workspace', ws, 'queue', 'apply', join(dir, 'q.yaml')]);
      assert.equal(ok.code, 0, ok.stderr);
      const bad = await runCli(['--workspace', ws, 'queue', 'apply', join(dir, 'bad.yaml')]);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /clusterQueues\[0\]\.nominalQuota\.cores: cores "lots" is not a number/);
      const meta = MetadataStore.open(ws);
      try {
        new JobStore(meta.db).save([
          {
            id: 'run/train#1',
            user: 'ann',
            group: 'default',
            queue: 'research',
            priorityClass: 'high',
            priority: 10,
            phase: 'pending',
            members: 0,
            cores: 2,
            memory: 0,
            submittedAt: 1,
            admittedAt: null,
            preemptions: 0,
            whyCode: 'SCHED_QUOTA',
            whyMessage: 'queue research uses 1 core of its nominal 1 core',
            position: 1,
            estimatedStartAt: null,
          },
        ]);
      } finally {
        meta.close();
      }
      const ls = await runCli(['--workspace', ws, 'queue', 'ls', '--json']);
      assert.equal(ls.code, 0, ls.stderr);
      assert.match(ls.stdout, /"name": ?"research"[\s\S]*"nominalCores": ?1[\s\S]*"pending": ?1/);
      const jobs = await runCli(['--workspace', ws, 'jobs']);
      assert.match(
        jobs.stdout,
        /run\/train#1\s+pending\s+ann\s+research\s+high\s+1\s+SCHED_QUOTA: queue research uses/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
