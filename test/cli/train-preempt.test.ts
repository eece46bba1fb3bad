import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DEBIAN_DIR } from '../../src/data/index.js';
import { controlFileFor, PREEMPTED_EXIT_CODE, requestWorkers } from '../../src/train/index.js';
import { tempDir, writeDataset } from '../data/fixtures.js';
import { CLI, owned } from './run-cli.js';

const tmp = tempDir('distml-train-preempt-');
const procs: ChildProcess[] = [];
after(() => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  tmp.cleanup();
});
const hasData = existsSync(join(DEBIAN_DIR, 'train-images-idx3-ubyte.gz'));

interface Preempted {
  preempted: true;
  checkpoint: string;
  checkpointed: boolean;
  epoch: number;
  stepInEpoch: number;
  globalStep: number;
  checkpointDir: string;
}
interface Trained {
  steps: number;
  epochs: number;
  testAccuracy: number;
  resumedFrom?: string | null;
  worldSizeAtEnd?: number;
  membershipChanges?: { from: number; to: number; reason: string }[];
}

/** Runs `distml train --json …`, following its JSON-line events on stderr. */
function train(
  args: string[],
  onEvent: (e: Record<string, unknown>, child: ChildProcess) => void = () => {},
) {
  const child = owned(
    spawn(
      process.execPath,
      [CLI, 'train', '--local', '--json', '--workspace', join(tmp.dir, 'ws'), ...args],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    ),
  );
  procs.push(child);
  let stdout = '';
  let buf = '';
  const events: Record<string, unknown>[] = [];
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        const e = JSON.parse(line) as Record<string, unknown>;
        events.push(e);
        onEvent(e, child);
      } catch {
        /* not an event */
      }
    }
  });
  const done = new Promise<{ code: number | null; result: unknown }>((resolve) =>
    child.on('close', (code) => {
      const last = stdout.trim().split('\n').pop() ?? '';
      resolve({ code, result: last ? JSON.parse(last) : {} });
    }),
  );
  return { events, done };
}

/** Preempts a training (SIGTERM once it reported `after` steps), then runs the same command again. */
async function preemptThenResume(args: string[], after: number) {
  let signalled = false;
  const first = train(args, (e, child) => {
    if (!signalled && e['event'] === 'progress' && Number(e['done']) >= after) {
      signalled = true;
      child.kill('SIGTERM');
    }
  });
  const stopped = await first.done;
  const notProgress = (es: Record<string, unknown>[]) => es.filter((e) => e['event'] !== 'progress');
  assert.equal(stopped.code, PREEMPTED_EXIT_CODE, JSON.stringify(notProgress(first.events)));
  const p = stopped.result as Preempted;
  assert.equal(p.preempted, true);
  assert.equal(p.checkpointed, true);
  assert.ok(p.globalStep >= after, `stopped at step ${p.globalStep}, after the request at ${after}`);
  assert.ok(existsSync(p.checkpoint), 'the checkpoint written at the stop exists');
  assert.ok(existsSync(join(p.checkpointDir, 'preempted.json')), 'the preemption is recorded');
  assert.ok(first.events.some((e) => e['event'] === 'preempted'));

  const second = train(args);
  const resumed = await second.done;
  assert.equal(resumed.code, 0, JSON.stringify(notProgress(second.events)));
  const r = resumed.result as Trained;
  assert.equal(r.resumedFrom, p.checkpoint, 'resumed from the preemption checkpoint');
  assert.ok(second.events.some((e) => e['event'] === 'resuming-after-preemption'));
  // The resumed run starts at the checkpoint's step, not at 0: its first progress is past the stop.
  const firstProgress = second.events.find((e) => e['event'] === 'progress');
  assert.ok(
    Number(firstProgress?.['done']) > p.stepInEpoch,
    `first progress ${JSON.stringify(firstProgress)} after a stop at step ${p.stepInEpoch}`,
  );
  assert.ok(!existsSync(join(p.checkpointDir, 'preempted.json')), 'a finished job clears the record');
  return { p, r };
}

describe('distml train: preemption and elastic resize', { timeout: 40 * 60_000 }, () => {
  it(
    'a preempted training (1 worker) checkpoints, exits 75, resumes there and reaches 0.83 after one epoch',
    { skip: !hasData && 'dataset-fashion-mnist not installed' },
    async (t) => {
      // One thread, as each of the 2-worker test's workers has: all cores' threads on a shared machine crawl.
      const args = ['--model', 'cnn', '--epochs', '1', '--threads', '1', '--out', join(tmp.dir, 'one')];
      const { p, r } = await preemptThenResume(args, 150);
      assert.equal(p.epoch, 0);
      assert.equal(r.steps, 937, 'one epoch of steps in all, none twice');
      t.diagnostic(`preempted at step ${p.globalStep}; test accuracy ${r.testAccuracy}`);
      assert.ok(r.testAccuracy >= 0.83, `test accuracy ${r.testAccuracy}`);
    },
  );

  it(
    'a preempted 2-worker training checkpoints at one agreed step, exits 75, resumes there and reaches 0.83',
    { skip: !hasData && 'dataset-fashion-mnist not installed' },
    async (t) => {
      // Global batch 2 x 32 = the single run's 64: the same 937 steps per epoch.
      const args = [
        '--model',
        'cnn',
        '--epochs',
        '1',
        '--workers',
        '2',
        '--batch-size',
        '32',
        '--out',
        join(tmp.dir, 'two'),
      ];
      const { p, r } = await preemptThenResume(args, 150);
      assert.equal(r.steps, 937);
      assert.equal(r.worldSizeAtEnd, 2);
      t.diagnostic(`preempted at step ${p.globalStep}; test accuracy ${r.testAccuracy}`);
      assert.ok(r.testAccuracy >= 0.83, `test accuracy ${r.testAccuracy}`);
    },
  );

  it('grows 1 -> 2 and shrinks 2 -> 1 while training, through the control file, and finishes', async () => {
    const data = join(tmp.dir, 'data');
    mkdirSync(data, { recursive: true });
    writeDataset(data, 400, 50);
    const out = join(tmp.dir, 'elastic');
    const control = controlFileFor(out);
    let asked = 0;
    const { events, done } = train(
      [
        '--model',
        'cnn',
        '--epochs',
        '2',
        '--steps-per-epoch',
        '3000',
        '--batch-size',
        '16',
        '--source',
        data,
        '--threads',
        '1',
        '--workers',
        '1',
        '--min-workers',
        '1',
        '--max-workers',
        '2',
        '--out',
        out,
      ],
      (e) => {
        // Grow once training is under way; shrink once the second worker has trained in the group.
        if (asked === 0 && e['event'] === 'progress' && Number(e['done']) >= 20) {
          asked = 1;
          void requestWorkers(control, 2);
        }
        if (asked === 1 && e['event'] === 'membership' && e['to'] === 2) {
          asked = 2;
          // A later mtime than the grow request's, so the launcher sees a new request.
          setTimeout(() => void requestWorkers(control, 1), 3000);
        }
      },
    );
    const { code, result } = await done;
    const changesSeen = events.filter((e) =>
      ['membership', 'resize', 'worker-left'].includes(String(e['event'])),
    );
    assert.equal(code, 0, JSON.stringify(changesSeen));
    const r = result as Trained;
    assert.equal(r.epochs, 2);
    assert.equal(r.steps, 6000);
    const changes = r.membershipChanges ?? [];
    const grew = changes.find((c) => c.from === 1 && c.to === 2);
    assert.ok(grew, `grew 1 -> 2: ${JSON.stringify(changes)}`);
    assert.match(grew.reason, /joined/);
    const shrank = changes.find((c) => c.from === 2 && c.to === 1);
    assert.ok(shrank, `shrank 2 -> 1: ${JSON.stringify(changes)}`);
    assert.match(shrank.reason, /shrink to 1 requested/);
    assert.equal(r.worldSizeAtEnd, 1);
    assert.ok(
      events.some((e) => e['event'] === 'worker-left'),
      'the dismissed worker left cleanly',
    );
    assert.ok(!events.some((e) => e['event'] === 'worker-replaced'), 'a dismissed worker is not replaced');
    assert.deepEqual(
      readdirSync(tmp.dir).filter((f) => f.endsWith('.control.json')),
      ['elastic.control.json'],
    );
  });
});
