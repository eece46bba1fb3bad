// A daemon step that never becomes ready fails after the readiness deadline instead of holding the run.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MetadataStore } from '../../src/metadata/index.js';
import { ResourcePool } from '../../src/scheduler/index.js';
import { executeRun, parseWorkflowYaml, submitRun } from '../../src/workflow/index.js';
import { CLI, sandbox } from './helpers.js';

describe('daemon readiness', { timeout: 120_000 }, () => {
  it('fails a daemon that prints nothing within the readiness deadline, and stops it', async () => {
    const box = sandbox();
    const store = MetadataStore.open(box.ws);
    try {
      const spec = parseWorkflowYaml(`apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: mute-}
spec:
  entrypoint: main
  templates:
    - name: main
      steps: [[{name: server, template: server}]]
    - name: server
      daemon: true
      container: {command: [node, -e, "setInterval(() => {}, 1000)"]}
`);
      const name = submitRun(store, spec, {});
      const run = await executeRun(name, {
        store,
        workspace: box.ws,
        pool: new ResourcePool({ cores: 1, memory: 1 << 30 }),
        distmlCommand: [process.execPath, CLI],
        daemonReadyTimeoutMs: 1000,
      });
      assert.equal(run.phase, 'Failed');
      const server = store.listNodes(name).find((n) => n.displayName === 'server')!;
      assert.equal(server.phase, 'Failed');
      assert.match(server.message ?? '', /not ready within 1s/);
      assert.equal(server.exitCode, null, 'it was killed by a signal');
    } finally {
      store.close();
      box.cleanup();
    }
  });
});
