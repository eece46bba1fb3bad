import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DEBIAN_DIR } from '../../src/data/index.js';
import { tempDir } from '../data/fixtures.js';
import { CLI, owned, runCli } from './run-cli.js';
import { INTRUSIONS, rawExchange, type RawReply } from '../engine/store-client.js';

const tmp = tempDir();
const procs: ChildProcess[] = [];
/** Workers the tests froze or killed themselves: a frozen one outlives its launcher unless killed here. */
const victims: number[] = [];
after(() => {
  for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
  for (const pid of victims) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  tmp.cleanup();
});
/** The secret a job spanning processes started by hand shares (set in the launcher's environment too). */
const JOIN_SECRET = 'join-test-secret';
const hasData = existsSync(join(DEBIAN_DIR, 'train-images-idx3-ubyte.gz'));

interface Result {
  epochs: number;
  steps: number;
  testAccuracy: number;
  worldSizeAtEnd: number;
  replicaChecks: { identical: boolean }[];
  membershipChanges: { from: number; to: number; reason: string; at: string }[];
  workers: { id: string; steps: number; computeSeconds: number; commSeconds: number; bytesSent: number }[];
  path: string;
}

/** Starts `distml train --workers …` and follows its JSON-line events. */
function launch(
  args: string[],
  onEvent: (e: Record<string, unknown>, child: ChildProcess) => void = () => undefined,
  env: NodeJS.ProcessEnv = {},
) {
  const child = owned(
    spawn(
      process.execPath,
      [CLI, 'train', '--local', '--json', '--workspace', join(tmp.dir, 'ws'), ...args],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, ...env },
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
  const done = new Promise<{ code: number | null; result: Result }>((resolve) =>
    child.on('close', (code) => resolve({ code, result: (stdout ? JSON.parse(stdout) : {}) as Result })),
  );
  return { child, events, done };
}

/** PIDs of the worker processes a launcher started. */
function workerPids(launcherPid: number): number[] {
  const { execFileSync } = require_('node:child_process') as typeof import('node:child_process');
  const out = execFileSync('pgrep', ['-P', String(launcherPid)], { encoding: 'utf8' });
  return out.trim().split('\n').filter(Boolean).map(Number);
}
import { createRequire } from 'node:module';
const require_ = createRequire(import.meta.url);

/** Ends a launcher that is still running: SIGTERM (it kills its workers), then SIGKILL after 30 s. */
async function stopLauncher(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const closed = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await closed;
  clearTimeout(timer);
}

describe(
  'distml train --workers (allreduce over Gloo)',
  { skip: !hasData && 'dataset-fashion-mnist not installed' },
  () => {
    it('2 workers train in sync: identical replicas, disjoint shards, per-worker compute/communication split', async () => {
      const out = join(tmp.dir, 'two');
      // While the job runs, an intruder without the secret tries to abort it, join it, and write its result.
      let intruded: Promise<RawReply[]> | undefined;
      const { done } = launch(
        ['--model', 'cnn', '--epochs', '2', '--steps-per-epoch', '20', '--workers', '2', '--out', out],
        (e) => {
          if (e['event'] === 'rendezvous') intruded ??= rawExchange(Number(e['masterPort']), INTRUSIONS);
        },
      );
      const { code, result } = await done;
      assert.equal(code, 0);
      const replies = await intruded;
      assert.match(replies?.[0]?.message ?? '', /refused/, 'the intruder was refused');
      assert.equal(replies?.length, 1);
      assert.equal(result.steps, 40);
      assert.equal(result.worldSizeAtEnd, 2);
      assert.deepEqual(
        result.replicaChecks.map((c) => c.identical),
        [true, true],
      );
      assert.equal(result.workers.length, 2);
      for (const w of result.workers) {
        assert.equal(w.steps, 40);
        assert.ok(w.computeSeconds > 0 && w.commSeconds > 0 && w.bytesSent > 0);
      }
      assert.ok(existsSync(join(out, 'model.json')), 'the chief saved the model');
    });

    it(
      'survives SIGKILL of one of 3 workers mid-epoch, finishes with 2, reaches 0.88 after 3 epochs',
      { timeout: 1_800_000 },
      async (t) => {
        let killed = false;
        const { done } = launch(
          [
            '--model',
            'cnn',
            '--epochs',
            '3',
            // Global batch 3 x 32, then 2 x 32: enough optimizer steps in 3 epochs for the book's CNN.
            '--batch-size',
            '32',
            '--workers',
            '3',
            '--min-workers',
            '2',
            // This test is about going on smaller; replacing the worker is the next test's.
            '--max-restarts',
            '0',
            '--out',
            join(tmp.dir, 'kill'),
          ],
          (e, child) => {
            if (!killed && e['event'] === 'progress' && Number(e['done']) >= 100) {
              killed = true;
              const victim = workerPids(child.pid as number)[1];
              if (victim) process.kill(victim, 'SIGKILL');
            }
          },
        );
        const { code, result } = await done;
        assert.equal(code, 0);
        assert.ok(killed);
        assert.equal(result.worldSizeAtEnd, 2);
        assert.equal(result.epochs, 3);
        t.diagnostic(`test accuracy ${result.testAccuracy}, ${result.steps} steps`);
        assert.ok(result.testAccuracy >= 0.88, `test accuracy ${result.testAccuracy}`);
        assert.equal(result.membershipChanges.length, 1);
        assert.equal(result.membershipChanges[0]?.from, 3);
        assert.equal(result.membershipChanges[0]?.to, 2);
        assert.match(result.membershipChanges[0]?.reason ?? '', /killed by SIGKILL/);
        assert.ok(result.replicaChecks.every((c) => c.identical));
      },
    );

    it(
      'replaces a SIGKILLed worker of 3 (no other flags): finishes with 3, records the loss and the join',
      { timeout: 10 * 60_000 },
      async () => {
        let victim = 0;
        const { child, done, events } = launch(
          [
            '--model',
            'cnn',
            '--epochs',
            '2',
            '--steps-per-epoch',
            '30',
            '--workers',
            '3',
            '--out',
            join(tmp.dir, 'replace'),
          ],
          (e, launcher) => {
            // Mid-epoch: once the chief has reported a few steps of the first epoch.
            if (!victim && e['event'] === 'progress' && Number(e['done']) >= 5) {
              victim = workerPids(launcher.pid as number)[1] ?? 0;
              if (victim) process.kill(victim, 'SIGKILL');
            }
          },
        );
        try {
          const { code, result } = await done;
          assert.equal(code, 0, `events: ${JSON.stringify(events.filter((e) => e['event'] !== 'progress'))}`);
          assert.ok(victim, 'a worker was killed');
          assert.equal(result.epochs, 2);
          assert.equal(result.steps, 60);
          assert.equal(result.worldSizeAtEnd, 3);
          const changes = result.membershipChanges;
          assert.equal(changes[0]?.from, 3, JSON.stringify(changes));
          assert.ok(
            changes.some((c) => /lost \(.*killed by SIGKILL/.test(c.reason)),
            `the loss is recorded: ${JSON.stringify(changes)}`,
          );
          const joined = changes.find((c) => /joined/.test(c.reason));
          assert.ok(joined, `the join is recorded: ${JSON.stringify(changes)}`);
          assert.equal(joined.to, 3);
          assert.equal(changes.at(-1)?.to, 3);
          const replaced = events.find((e) => e['event'] === 'worker-replaced');
          assert.ok(replaced, 'the launcher said it started a replacement');
          assert.ok(joined.reason.includes(String(replaced['by'])), 'the replacement is the one that joined');
          assert.equal(result.workers.length, 3);
          assert.ok(
            result.workers.some((w) => w.id === replaced['by'] && w.steps > 0),
            'the replacement trained',
          );
          assert.ok(result.replicaChecks.every((c) => c.identical));
        } finally {
          await stopLauncher(child);
        }
      },
    );

    it('drops a frozen (SIGSTOP) worker within 30 s and goes on', async () => {
      let stoppedAt = 0;
      let stoppedPid = 0;
      const { done, events } = launch(
        [
          '--model',
          'cnn',
          '--epochs',
          '2',
          '--steps-per-epoch',
          '60',
          '--workers',
          '3',
          '--min-workers',
          '2',
          '--heartbeat-timeout',
          '5',
          '--max-restarts',
          '0',
          '--out',
          join(tmp.dir, 'frozen'),
        ],
        (e, child) => {
          if (!stoppedAt && e['event'] === 'progress' && Number(e['done']) >= 10) {
            stoppedPid = workerPids(child.pid as number)[2] ?? 0;
            victims.push(stoppedPid);
            process.kill(stoppedPid, 'SIGSTOP');
            stoppedAt = Date.now();
          }
        },
      );
      const { code, result } = await done;
      if (stoppedPid) {
        try {
          process.kill(stoppedPid, 'SIGKILL');
        } catch {
          /* already gone: the agent killed it */
        }
      }
      assert.equal(code, 0);
      const change = events.find((e) => e['event'] === 'membership' && Number(e['generation']) === 1);
      assert.ok(change, 'a new generation formed');
      assert.match(String(change['reason']), /missed heartbeats/);
      assert.ok(Date.parse(String(change['at'])) - stoppedAt < 30_000, 'dropped within 30 s');
      assert.equal(result.worldSizeAtEnd, 2);
    });

    it('admits a worker started later by hand (MASTER_ADDR/MASTER_PORT) and trains it', async () => {
      let joiner: ChildProcess | undefined;
      let port = 0;
      const { done, events } = launch(
        [
          '--model',
          'cnn',
          '--epochs',
          '2',
          '--steps-per-epoch',
          '80',
          '--workers',
          '2',
          '--max-workers',
          '3',
          '--out',
          join(tmp.dir, 'join'),
        ],
        (e) => {
          if (e['event'] === 'rendezvous') port = Number(e['masterPort']);
          // Join once training is under way, so the newcomer is admitted at a step boundary.
          if (!joiner && e['event'] === 'progress' && Number(e['done']) >= 10) {
            joiner = spawn(
              process.execPath,
              [
                CLI,
                'train',
                '--local',
                '--json',
                '--workspace',
                join(tmp.dir, 'ws'),
                '--model',
                'cnn',
                '--epochs',
                '2',
                '--steps-per-epoch',
                '80',
                '--out',
                join(tmp.dir, 'join'),
                '--threads',
                '1',
              ],
              {
                env: {
                  ...process.env,
                  MASTER_ADDR: '127.0.0.1',
                  MASTER_PORT: String(port),
                  DISTML_ELASTIC: '1',
                  DISTML_JOB_SECRET: JOIN_SECRET,
                },
                stdio: 'ignore',
              },
            );
            procs.push(joiner);
          }
        },
        { DISTML_JOB_SECRET: JOIN_SECRET },
      );
      const { code, result } = await done;
      assert.equal(code, 0);
      const grew = result.membershipChanges.find((c) => c.to === 3);
      assert.ok(
        grew,
        `the group grew to 3: ${JSON.stringify(events.filter((e) => e['event'] === 'membership'))}`,
      );
      assert.match(grew.reason, /joined/);
      assert.equal(result.worldSizeAtEnd, 3);
      assert.ok(
        result.workers.length === 3 && result.workers.every((w) => w.steps > 0),
        'the newcomer trained',
      );
    });

    it('rejects inconsistent worker counts', async () => {
      const r = await runCli([
        'train',
        '--local',
        '--model',
        'cnn',
        '--epochs',
        '1',
        '--out',
        'x',
        '--workers',
        '3',
        '--min-workers',
        '4',
      ]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /--min-workers <= --workers <= --max-workers/);
    });
  },
);
