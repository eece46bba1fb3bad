import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MetadataError, MetadataStore, SCHEMA_VERSION } from '../../src/metadata/index.js';

const dir = mkdtempSync(join(tmpdir(), 'distml-meta-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('metadata store', () => {
  it('persists runs, node transitions, memo entries, metrics and lineage across reopen', () => {
    let store = MetadataStore.open(dir);
    assert.equal(store.db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    assert.equal(store.db.pragma('journal_mode', { simple: true }), 'wal');
    store.createRun({ name: 'r1', workflow: 'w', spec: { a: 1 }, parameters: { p: 'v' } });
    store.ensureNode({ run: 'r1', id: 'r1.a', parent: null, displayName: 'a', template: 't', type: 'Pod' });
    store.updateNode('r1', 'r1.a', {
      phase: 'Succeeded',
      outputs: { result: 'ok' },
      memoizationStatus: { hit: true, key: 'k', cacheName: 'c' },
    });
    store.putMemo({ cacheName: 'c', key: 'k', outputs: { result: 'ok' }, node: 'r1/r1.a', expiresAt: null });
    store.recordMetrics('r1', 'r1.a', { durationSeconds: 1.5 });
    const art = store.recordArtifact({ run: 'r1', node: 'r1.a', kind: 'model', uri: '/m' });
    store.linkArtifact(art, 'r1', 'r1.b', 'input');
    store.close();
    store = MetadataStore.open(dir);
    const n = store.getNode('r1', 'r1.a')!;
    assert.equal(n.phase, 'Succeeded');
    assert.deepEqual(n.memoizationStatus, { hit: true, key: 'k', cacheName: 'c' });
    assert.deepEqual(store.getMemo('c', 'k')?.outputs, { result: 'ok' });
    assert.deepEqual(store.metrics('r1'), [{ node: 'r1.a', name: 'durationSeconds', value: 1.5 }]);
    assert.deepEqual(
      store.lineage('r1').map((l) => l.role),
      ['input', 'output'],
    );
    assert.equal(store.gcMemo(Date.now() + 1000).length, 1);
    assert.throws(() => store.getRun('nope'), MetadataError);
    store.close();
  });
  it('reads back every field as written, clears fields set to null, and leaves fields left out as they were', () => {
    const store = MetadataStore.open(join(dir, 'fields'));
    try {
      store.createRun({ name: 'r2', workflow: 'w', spec: { s: [1, 2] }, parameters: {} });
      const fresh = store.getRun('r2');
      assert.deepEqual(
        { ...fresh, createdAt: 0 },
        {
          name: 'r2',
          workflow: 'w',
          spec: { s: [1, 2] },
          parameters: {},
          phase: 'Pending',
          message: null,
          createdAt: 0,
          startedAt: null,
          finishedAt: null,
          enginePid: null,
          engineStart: null,
          stopRequested: false,
        },
      );
      store.updateRun('r2', {
        phase: 'Running',
        startedAt: 5,
        enginePid: 42,
        engineStart: 7,
        stopRequested: true,
      });
      store.updateRun('r2', { message: 'stopping' });
      const running = store.getRun('r2');
      assert.deepEqual(
        [running.phase, running.message, running.startedAt, running.enginePid, running.engineStart],
        ['Running', 'stopping', 5, 42, 7],
      );
      assert.equal(running.stopRequested, true);
      store.updateRun('r2', { stopRequested: false, enginePid: null });
      assert.equal(store.getRun('r2').stopRequested, false);
      assert.equal(store.getRun('r2').enginePid, null);

      store.ensureNode({ run: 'r2', id: 'r2.a', parent: 'r2', displayName: 'a', template: 't', type: 'Pod' });
      const patch = {
        phase: 'Failed' as const,
        message: 'exit 3',
        startedAt: 1,
        finishedAt: 2,
        inputs: { x: '1' },
        outputs: { exitCode: 3 },
        memoizationStatus: { hit: false, key: 'k2', cacheName: 'c2' },
        retries: 2,
        pid: 100,
        pidStart: 200,
        exitCode: 3,
        scratchDir: '/s',
        logPath: '/l',
        progress: '1/2',
      };
      store.updateNode('r2', 'r2.a', patch);
      const node = store.getNode('r2', 'r2.a')!;
      assert.deepEqual(
        { ...node },
        {
          run: 'r2',
          id: 'r2.a',
          parent: 'r2',
          seq: 1,
          displayName: 'a',
          template: 't',
          type: 'Pod',
          ...patch,
        },
      );
      store.updateNode('r2', 'r2.a', { memoizationStatus: null, outputs: null, pid: null });
      const cleared = store.getNode('r2', 'r2.a')!;
      assert.equal(cleared.memoizationStatus, null);
      assert.equal(cleared.outputs, null);
      assert.equal(cleared.pid, null);
      assert.deepEqual(cleared.inputs, { x: '1' }, 'a field left out keeps its value');
      assert.equal(cleared.progress, '1/2');
    } finally {
      store.close();
    }
  });
});
