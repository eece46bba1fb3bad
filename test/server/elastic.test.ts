// Issue 13, elastic scheduling (book 6.2.3) on real processes: inside `distml server` a training step with
// min-workers/max-workers is admitted with what fits, grows through its lease when resources free up, and
// shrinks toward its minimum (instead of being preempted) when a higher-priority step needs a core. Every
// change is observed from the training's own record (its membership events), never from timing.
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { controlFileFor } from '../../src/train/index.js';
import { fileName, runDirs } from '../../src/workflow/index.js';
import {
  applyQueues,
  HIGH_LOW_QUEUES,
  ended,
  gated,
  hasData,
  jobsOf,
  jsonLines,
  podsOf,
  sandbox,
  startServer,
  stepLog,
  stopServer,
  submit,
  until,
} from './helpers.js';

interface Membership {
  at: string;
  generation: number;
  from: number;
  to: number;
  reason: string;
}

/** The training's group generations, from its launcher's membership events (stderr with --json). */
const generations = (text: string): Membership[] =>
  jsonLines(text).filter((e) => e['event'] === 'membership') as unknown as Membership[];

/**
 * An elastic training step: 1 to 2 workers of 1 core each. With `artifact`, its model package is an output
 * artifact (`out: {{outputs.artifacts.model.path}}`, as the book pipeline writes it).
 */
function elasticFlow(prefix: string, withValues: Record<string, string>, artifact = false): string {
  const outputs = artifact ? '\n    outputs: {artifacts: [{name: model, path: model}]}' : '';
  const out = artifact ? { out: '{{outputs.artifacts.model.path}}' } : {};
  return `kind: Workflow
metadata: {generateName: ${prefix}-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps: [[{name: train, template: train}]]
  - name: train
    resources: {cores: 1}${outputs}
    distml:
      kind: train
      with: ${JSON.stringify({ 'min-workers': '1', 'max-workers': '2', threads: '1', ...out, ...withValues })}
`;
}

describe('elastic scheduling through the lease (issue 13, 6.2.3)', { timeout: 900_000 }, () => {
  it(
    'admitted on an idle machine, an elastic training runs with the 2 workers its lease holds',
    { skip: !hasData && 'dataset-fashion-mnist not installed' },
    async () => {
      const box = sandbox();
      try {
        await startServer(box.ws, ['--cores=2']);
        const args = { model: 'cnn', epochs: '1', 'steps-per-epoch': '30', 'batch-size': '16' };
        const run = await submit(box.ws, box.file('elastic.yaml', elasticFlow('idle', args)), []);
        const job = await until('the training to be admitted', 120_000, () =>
          jobsOf(box.ws, run).find((j) => j.phase === 'running'),
        );
        assert.equal(job.members, 2, 'both cores are free: the lease holds both workers');
        assert.equal(await ended(box.ws, run), 'Succeeded');
        const [node] = podsOf(box.ws, run);
        const out = stepLog(box.ws, run, node!.id, 'stdout');
        const result = JSON.parse(out.trim().split('\n').pop()!) as { worldSizeAtEnd: number };
        const [first] = generations(stepLog(box.ws, run, node!.id, 'stderr'));
        // It starts with what it was granted (not its minimum, then a resize nobody reads).
        assert.equal(first?.to, 2, JSON.stringify(first));
        assert.equal(result.worldSizeAtEnd, 2, out);
        // The lease's standing request goes with the lease: nothing later there follows it.
        const control = controlFileFor(join(runDirs(box.ws, run).artifacts, fileName(node!.id)));
        await until('the standing request to be withdrawn', 60_000, () =>
          existsSync(control) ? undefined : true,
        );
      } finally {
        await stopServer(box.ws);
        box.cleanup();
      }
    },
  );

  it(
    'an elastic training starts with 1 worker beside another job, grows to 2 when it ends, and shrinks to 1 for a higher-priority step instead of being preempted',
    { skip: !hasData && 'dataset-fashion-mnist not installed' },
    async (t) => {
      const box = sandbox();
      try {
        await applyQueues(box, HIGH_LOW_QUEUES);
        await startServer(box.ws, ['--cores=2']);

        // Another user's step holds one of the two cores.
        const gate1 = join(box.dir, 'gate1');
        const blocker = await submit(box.ws, box.file('blocker.yaml', gated('blocker', gate1)), [
          '--user=bob',
        ]);
        await until('the blocker to hold its core', 60_000, () =>
          podsOf(box.ws, blocker).find((n) => n.phase === 'Running' && n.pid),
        );

        // 300 steps of the book CNN (as the preemption test in scheduling.test.ts): enough to resize twice.
        const args = { model: 'cnn', epochs: '1', 'steps-per-epoch': '300' };
        // Its model package is an output artifact: the control file is beside the step's private path.
        const run = await submit(box.ws, box.file('elastic.yaml', elasticFlow('elastic', args, true)), [
          '--priority=low',
          '--user=ann',
        ]);
        const node = await until('the elastic training to run', 120_000, () =>
          podsOf(box.ws, run).find((n) => n.phase === 'Running' && n.pid),
        );
        const log = () => stepLog(box.ws, run, node.id, 'stderr');
        // (a) Admitted with the one core that fits: its group forms with 1 worker.
        const first = await until('the training to form its first group', 120_000, () =>
          generations(log()).find((g) => g.generation === 0),
        );
        assert.equal(first.to, 1, JSON.stringify(first));
        const [job] = jobsOf(box.ws, run);
        assert.deepEqual([job?.phase, job?.members], ['running', 1], JSON.stringify(job));

        // The other job ends: the training grows to 2 workers through its lease.
        writeFileSync(gate1, '');
        assert.equal(await ended(box.ws, blocker), 'Succeeded');
        const grown = await until('the training to grow to 2 workers', 120_000, () =>
          generations(log()).find((g) => g.to === 2),
        );
        assert.match(grown.reason, /joined/);
        assert.equal(jobsOf(box.ws, run)[0]?.members, 2);

        // (b) A higher-priority step needs a core: the training shrinks to 1 worker, it is not preempted.
        const gate2 = join(box.dir, 'gate2');
        const high = await submit(box.ws, box.file('high.yaml', gated('high', gate2)), [
          '--priority=high',
          '--user=carol',
        ]);
        const shrunk = await until('the training to shrink to 1 worker', 120_000, () =>
          generations(log()).find((g) => g.generation > grown.generation && g.to === 1),
        );
        assert.match(shrunk.reason, /shrink to 1/);
        const highNode = await until('the high-priority step to run', 120_000, () =>
          podsOf(box.ws, high).find((n) => n.phase === 'Running' && n.pid),
        );
        // The shrink is granted at once (make-room.ts): the high step may start before the worker has left.
        const overlapMs = Date.parse(shrunk.at) - (highNode.startedAt ?? 0);
        writeFileSync(gate2, '');
        assert.equal(await ended(box.ws, high), 'Succeeded');

        assert.equal(await ended(box.ws, run), 'Succeeded');
        const [done] = jobsOf(box.ws, run);
        assert.equal(done?.preemptions, 0, JSON.stringify(done));
        const out = stepLog(box.ws, run, node.id, 'stdout');
        assert.doesNotMatch(out, /"preempted":true/);
        const result = JSON.parse(out.trim().split('\n').pop()!) as {
          steps: number;
          testAccuracy: number;
          membershipChanges: { from: number; to: number }[];
        };
        assert.ok(
          result.membershipChanges.some((c) => c.from === 1 && c.to === 2),
          JSON.stringify(result.membershipChanges),
        );
        assert.ok(
          result.membershipChanges.some((c) => c.from === 2 && c.to === 1),
          JSON.stringify(result.membershipChanges),
        );
        t.diagnostic(
          `generations ${JSON.stringify(result.membershipChanges.map((c) => `${c.from}->${c.to}`))}; steps ${result.steps}; test accuracy ${result.testAccuracy}; high step started ${overlapMs} ms before the shrink took effect`,
        );
        assert.equal(result.steps, 300);
        assert.ok(result.testAccuracy >= 0.75, `test accuracy ${result.testAccuracy}`);
      } finally {
        await stopServer(box.ws);
        box.cleanup();
      }
    },
  );

  it(
    'preempted whole when shrinking is not enough, an elastic training resumes from its checkpoint with the size it is readmitted with',
    { skip: !hasData && 'dataset-fashion-mnist not installed' },
    async (t) => {
      const box = sandbox();
      try {
        await applyQueues(box, HIGH_LOW_QUEUES);
        await startServer(box.ws, ['--cores=2']);
        const args = { model: 'cnn', epochs: '1', 'steps-per-epoch': '300' };
        const run = await submit(box.ws, box.file('elastic.yaml', elasticFlow('elastic', args)), [
          '--priority=low',
          '--user=ann',
        ]);
        const node = await until('the elastic training to run', 120_000, () =>
          podsOf(box.ws, run).find((n) => n.phase === 'Running' && n.pid),
        );
        const log = () => stepLog(box.ws, run, node.id, 'stderr');
        const first = await until('the training to form its group', 120_000, () => generations(log())[0]);
        assert.equal(first.to, 2, 'the idle machine: both workers');
        await until('the training to pass step 30', 240_000, () =>
          jsonLines(log()).some(
            (e) =>
              e['event'] === 'progress' && String(e['task']).startsWith('epoch') && Number(e['done']) >= 30,
          )
            ? true
            : undefined,
        );
        // A higher-priority step needs both cores: shrinking to 1 worker is not enough, the job is preempted.
        const gate = join(box.dir, 'gate');
        const high = await submit(box.ws, box.file('high.yaml', gated('high', gate, 2)), [
          '--priority=high',
          '--user=carol',
        ]);
        const stopped = await until('the training to be preempted', 240_000, () => {
          const lines = jsonLines(stepLog(box.ws, run, node.id, 'stdout'));
          return lines.find((l) => l['preempted'] === true) as
            { checkpointed: boolean; globalStep: number; checkpoint: string } | undefined;
        });
        assert.equal(stopped.checkpointed, true);
        assert.ok(stopped.globalStep >= 30, `stopped at step ${stopped.globalStep}`);
        await until('the high-priority step to run', 120_000, () =>
          podsOf(box.ws, high).find((n) => n.phase === 'Running' && n.pid),
        );
        writeFileSync(gate, '');
        assert.equal(await ended(box.ws, high), 'Succeeded');
        assert.equal(await ended(box.ws, run), 'Succeeded');
        assert.equal(jobsOf(box.ws, run)[0]?.preemptions, 1);
        // The resumed attempt started with the 2 workers its readmitted lease holds.
        const err = log();
        const resumed = generations(err.slice(err.lastIndexOf('--- attempt')));
        assert.equal(resumed[0]?.to, 2, JSON.stringify(resumed));
        const out = stepLog(box.ws, run, node.id, 'stdout');
        const result = JSON.parse(out.trim().split('\n').pop()!) as {
          steps: number;
          testAccuracy: number;
          resumedFrom: string | null;
          worldSizeAtEnd: number;
        };
        assert.equal(result.resumedFrom, stopped.checkpoint);
        assert.equal(result.steps, 300, 'all the epoch steps, none twice');
        t.diagnostic(`preempted at step ${stopped.globalStep}; test accuracy ${result.testAccuracy}`);
        assert.ok(result.testAccuracy >= 0.75, `test accuracy ${result.testAccuracy}`);
      } finally {
        await stopServer(box.ws);
        box.cleanup();
      }
    },
  );
});
