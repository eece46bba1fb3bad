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
});
