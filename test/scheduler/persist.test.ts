import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { JobStore, MetadataStore } from '../../src/metadata/index.js';
import { LiveScheduler, persistTo } from '../../src/scheduler/index.js';
import { job } from './sim.js';

describe('jobs and why-pending in the workspace database', { timeout: 60_000 }, () => {
  it('keeps each job’s phase, position and reason current, and the applied queue file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'distml-jobs-'));
    const meta = MetadataStore.open(dir);
    let reader: MetadataStore | undefined;
    const live = new LiveScheduler({
      capacity: { cores: 1, memory: 1 },
      onCycle: persistTo(new JobStore(meta.db)),
    });
    try {
      const a = await live.admit(job('a', 'ann'));
      const b = live.admit(job('b', 'bob', { count: 2, cores: 0.5 }));
      reader = MetadataStore.open(dir); // another reader, as `distml jobs` would be
      const again = new JobStore(reader.db);
      const rows = new Map(again.list().map((r) => [r.id, r]));
      assert.equal(rows.get('a')?.phase, 'running');
      assert.equal(rows.get('b')?.phase, 'pending');
      assert.equal(rows.get('b')?.whyCode, 'SCHED_GANG_TOO_LARGE');
      assert.equal(rows.get('b')?.position, 1);
      a.release();
      (await b).release();
      assert.deepEqual(
        again.list().map((r) => [r.id, r.phase, r.whyCode]),
        [
          ['b', 'finished', null],
          ['a', 'finished', null],
        ],
      );
      again.applyQueueConfig('clusterQueues: [{ name: default }]', 5);
      assert.deepEqual(new JobStore(meta.db).queueConfig(), {
        yaml: 'clusterQueues: [{ name: default }]',
        appliedAt: 5,
      });
    } finally {
      live.close();
      meta.close();
      reader?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
