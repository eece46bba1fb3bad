// The engine's side of checkpoint-aware preemption: a step asked to stop (StepPreemptions.preempt) gets
// SIGTERM, and its "preempted" exit (75) requeues it instead of failing it; it starts again and resumes.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { MetadataStore } from '../../src/metadata/index.js';
import { parseQueueConfig, ResourcePool } from '../../src/scheduler/index.js';
import {
  BUILTINS,
  executeRun,
  fileName,
  parseWorkflowYaml,
  StepPreemptions,
  submitRun,
} from '../../src/workflow/index.js';
import { CLI, sandbox } from './helpers.js';

// A stand-in for a checkpointing trainer, as a real process: the first start writes progress and, on SIGTERM,
// a "checkpoint" and exits 75; a later start reads the checkpoint and finishes from it.
const STEP = `
const fs = require('fs');
const f = process.env.STATE;
if (fs.existsSync(f)) { console.log(JSON.stringify({ resumedFrom: Number(fs.readFileSync(f, 'utf8')) })); process.exit(0); }
let step = 0;
const t = setInterval(() => step++, 10);
process.on('SIGTERM', () => { clearInterval(t); fs.writeFileSync(f, String(step)); process.exit(75); });
fs.writeFileSync(f + '.started', '1');
`;

describe('preempting a workflow step', { timeout: 120_000 }, () => {
  it('requeues a step that exits "preempted" after SIGTERM; it runs again and succeeds', async () => {
    const box = sandbox();
    const store = MetadataStore.open(box.ws);
    const state = join(box.ws, 'state');
    try {
      const spec = parseWorkflowYaml(`apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: preempt-}
spec:
  entrypoint: main
  templates:
    - name: main
      steps: [[{name: trainer, template: trainer}]]
    - name: trainer
      resources: {cores: 1}
      container:
        command: [node, -e, ${JSON.stringify(STEP)}]
        env: [{name: STATE, value: ${JSON.stringify(state)}}]
`);
      const name = submitRun(store, spec, {});
      const preemptions = new StepPreemptions();
      const pool = new ResourcePool({ cores: 1, memory: 1 << 30 });
      const running = executeRun(name, {
        store,
        workspace: box.ws,
        pool,
        distmlCommand: [process.execPath, CLI],
        preemptions,
      });
      const deadline = Date.now() + 60_000;
      while (!(existsSync(`${state}.started`) && preemptions.owners().length) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      const [owner] = preemptions.owners();
      assert.ok(owner, 'the running step can be preempted');
      assert.equal(preemptions.preempt(owner, 10_000, 'a higher-priority job'), true);
      const run = await running;
      assert.equal(run.phase, 'Succeeded');
      const node = store.listNodes(name).find((n) => n.displayName === 'trainer')!;
      assert.equal(node.phase, 'Succeeded');
      assert.equal(node.retries ?? 0, 0, 'a preemption is not a retry');
      const result = JSON.parse(String(node.outputs?.result)) as { resumedFrom: number };
      assert.equal(result.resumedFrom, Number(readFileSync(state, 'utf8')), 'the second start resumed');
      assert.equal(preemptions.owners().length, 0);
      assert.equal(preemptions.preempt(owner, 1000), false, 'nothing left to preempt');
    } finally {
      store.close();
      box.cleanup();
    }
  });
});

describe('preempting a step that has no process', { timeout: 120_000 }, () => {
  it('gives its lease back at once (the preemptor starts) and the step starts again only once readmitted', async () => {
    const box = sandbox();
    const store = MetadataStore.open(box.ws);
    const config = parseQueueConfig(
      [
        'clusterQueues: [{ name: default }]',
        'priorityClasses: [{ name: high, value: 10 }, { name: low, value: 1 }]',
        'preemption: { minRunTime: 0s, gracePeriod: 5s }',
      ].join('\n'),
    );
    const pool = new ResourcePool({ cores: 1, memory: 1 << 30, config });
    try {
      // A real `distml train` step (a preemptible gang) whose attempts fail at once on a bad flag; between
      // its attempts (a 3 s backoff) it holds its core with no process: that is where the preemption lands.
      const spec = parseWorkflowYaml(`apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: idle-}
spec:
  entrypoint: train
  templates:
    - name: train
      resources: {cores: 1}
      retryStrategy: {limit: 1, retryPolicy: Always, backoff: {duration: 3s}}
      distml: {kind: train, with: {model: cnn, epochs: nope}}
`);
      const name = submitRun(store, spec, {});
      const running = executeRun(name, {
        store,
        workspace: box.ws,
        pool,
        distmlCommand: [process.execPath, CLI],
        preemptions: new StepPreemptions(),
        job: { user: 'ann', queue: 'default', priorityClass: 'low' },
      });
      const message = () => store.listNodes(name).find((n) => n.type === 'Pod')?.message ?? '';
      const until = async (what: string, ok: () => boolean) => {
        const deadline = Date.now() + 60_000;
        while (!ok()) {
          if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (node: ${message()})`);
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      await until('the first attempt to fail and the backoff to start', () =>
        /retry 1\/1 in/.test(message()),
      );
      const stepJob = () => pool.scheduler.jobs().find((j) => j.id.startsWith(`${name}/`))!;
      assert.equal(stepJob().phase, 'running', 'the step holds its core between attempts');
      const high = await pool.admit({
        id: 'high',
        user: 'bob',
        queue: 'default',
        priorityClass: 'high',
        gang: { count: 1, perMember: { cores: 1, memory: 0 } },
      });
      assert.equal(stepJob().phase, 'pending', 'its lease went back; it waits in the queue');
      assert.equal(stepJob().preemptions, 1);
      await until('the next attempt to wait for readmission', () => /waits for readmission/.test(message()));
      const releasedAt = Date.now();
      high.release();
      const run = await running;
      assert.equal(run.phase, 'Failed', 'the second attempt fails on the same bad flag');
      const node = store.listNodes(name).find((n) => n.type === 'Pod')!;
      assert.equal(node.retries, 1, 'the attempt that waited is the retry, not an extra one');
      const banners = [
        ...readFileSync(
          join(box.ws, 'runs', name, 'logs', `${fileName(node.id)}.stderr.log`),
          'utf8',
        ).matchAll(/--- attempt (\d+) at (\S+):/g),
      ].map((m) => [m[1], Date.parse(m[2]!)] as const);
      assert.deepEqual(
        banners.map(([n]) => n),
        ['1', '2'],
      );
      assert.ok(
        banners[1]![1] >= releasedAt,
        'the second attempt started after the preemptor gave the core back',
      );
      assert.deepEqual(pool.available, { cores: 1, memory: 1 << 30 });
    } finally {
      pool.close();
      store.close();
      box.cleanup();
    }
  });
});

describe("the built-in train step's gang shape", () => {
  it('is workers x cores per worker, plus parameter servers, with the elastic bounds', () => {
    const gang = BUILTINS.train.gang!;
    assert.deepEqual(gang({ model: 'cnn' }, 1), {
      workers: 1,
      coresPerWorker: 1,
      parameterServers: 0,
      coresPerServer: 0,
    });
    assert.deepEqual(gang({ workers: '2', 'max-workers': '4' }, 4), {
      workers: 2,
      coresPerWorker: 2,
      parameterServers: 0,
      coresPerServer: 0,
      elastic: { min: 2, max: 4 },
    });
    assert.deepEqual(gang({ workers: '3', threads: '1', strategy: 'parameter-server', ps: '2' }, 8), {
      workers: 3,
      coresPerWorker: 1,
      parameterServers: 2,
      coresPerServer: 1,
    });
    assert.deepEqual(gang({ 'min-workers': '1', 'max-workers': '2' }, 2).elastic, { min: 1, max: 2 });
  });
});
