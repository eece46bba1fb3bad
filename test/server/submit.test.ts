// `distml train` and `distml serve` typed at a shell are jobs of the workspace's server (issue 13): they run as
// a one-step run it owns and schedules, the CLI follows it (progress, result, Ctrl-C), and `--local` keeps
// today's in-process command.
import assert from 'node:assert/strict';
import { cpSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isRunning } from '../../src/process/index.js';
import {
  api,
  cli,
  gone,
  hasData,
  processesOf,
  sandbox,
  serverInfo,
  serverRef,
  startCli,
  until,
} from './helpers.js';

interface JobRow {
  id: string;
  user: string;
  queue: string;
  state: string;
}

describe(
  'train and serve submitted to the server',
  { timeout: 600_000, skip: !hasData && 'no Fashion-MNIST' },
  () => {
    const box = sandbox();
    const ws = box.ws;
    const model = join(box.dir, 'm-cnn');
    after(async () => {
      try {
        if (existsSync(join(ws, 'server', 'server.json'))) {
          const info = serverInfo(ws);
          await cli(['server', 'stop', `--workspace=${ws}`]);
          await gone([serverRef(info)], 'the server to stop');
        }
      } finally {
        box.cleanup();
      }
    });

    it('a bad flag is refused before anything is submitted (no server starts)', async () => {
      const r = await cli(['train', '--model', 'cnn', '--epochs', '0', '--out', model, `--workspace=${ws}`]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /--epochs: must be a positive integer/);
      assert.equal(existsSync(join(ws, 'server', 'server.json')), false);
    });

    it('`distml train` runs as a scheduled job of its user, streams its progress and prints its result', async () => {
      const r = await cli([
        'train',
        ...['--model', 'cnn', '--epochs', '1', '--steps-per-epoch', '20', '--out', model],
        ...['--user', 'alice', `--workspace=${ws}`],
      ]);
      assert.equal(r.code, 0, r.stderr);
      const run = /Training as run (train-\w+)/.exec(r.stderr)?.[1];
      assert.ok(run, r.stderr);
      assert.match(r.stderr, /epoch 1\/1 .*20\/20/, 'the step’s progress is relayed');
      assert.match(r.stdout, /trained cnn \(93,322 params\): 1 epochs, 20 steps/);
      assert.match(r.stdout, new RegExp(`model package: ${model}`));
      assert.ok(existsSync(join(model, 'model.json')), 'the package is where --out said');
      const jobs = await cli(['jobs', '--json', `--workspace=${ws}`]);
      const rows = JSON.parse(jobs.stdout) as JobRow[];
      const mine = rows.filter((j) => j.id.startsWith(`${run}/`));
      assert.equal(mine.length, 1, jobs.stdout);
      assert.equal(mine[0]!.user, 'alice');
      assert.equal(mine[0]!.queue, 'default');
      assert.equal(processesOf(run).length, 0, 'nothing of the training is left');
      const unknown = await cli([
        'train',
        ...['--model', 'cnn', '--epochs', '1', '--out', model, '--queue', 'nope', `--workspace=${ws}`],
      ]);
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /queue "nope" is not in the workspace's queue file \(queues: default\)/);
      const huge = await cli([
        'train',
        ...['--model', 'cnn', '--epochs', '1', '--out', model, '--threads', '256', `--workspace=${ws}`],
      ]);
      assert.equal(huge.code, 1);
      assert.match(huge.stderr, /asks for 256 cores .*more than the pool has.*--local/);
      assert.equal((await api(ws, 'GET', '/api/v1/health')).status, 200, 'the server stays up');
    });

    it('`distml serve` serves from a server step until Ctrl-C, then nothing of it is left', async () => {
      const repo = join(box.dir, 'repo');
      cpSync(model, join(repo, 'fmnist', '1'), { recursive: true, dereference: true });
      const served = startCli(['serve', '--repo', repo, '--model', 'fmnist', `--workspace=${ws}`]);
      let stdout = '';
      served.child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
      const url = await until(
        'serve to print where it listens',
        120_000,
        () => /listening on (\S+)/.exec(stdout)?.[1],
      );
      const run = (await until('the serve run', 60_000, async () => {
        const runs = (await api(ws, 'GET', '/api/v1/runs')).json as unknown as {
          name: string;
          phase: string;
        }[];
        return runs.find((x) => x.name.startsWith('serve-') && x.phase === 'Running')?.name;
      }))!;
      const ready = await until('the model to load', 120_000, async () => {
        const res = await fetch(`${url}/v2/models/fmnist/ready`);
        return res.status === 200 ? true : undefined;
      });
      assert.equal(ready, true);
      const res = await fetch(`${url}/v1/models/fmnist:predict`, {
        method: 'POST',
        body: JSON.stringify({ instances: [Array(784).fill(0)] }),
      });
      assert.equal(res.status, 200);
      const { predictions } = (await res.json()) as { predictions: number[][] };
      assert.equal(predictions[0]!.length, 10);
      const procs = processesOf(run);
      assert.ok(procs.length >= 1, 'the model server is a process of the run');
      served.child.kill('SIGINT');
      const done = await served.done;
      assert.equal(done.code, 0, done.stderr);
      await gone(procs, 'the model server to stop');
      assert.equal(procs.some(isRunning), false);
    });

    it('`distml serve --detach` returns with the URL; `distml stop` ends it', async () => {
      const repo = join(box.dir, 'repo');
      const r = await cli([
        'serve',
        '--repo',
        repo,
        '--model',
        'fmnist',
        '--detach',
        '--json',
        `--workspace=${ws}`,
      ]);
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as { run: string; serving: { step: string; url: string }[] };
      assert.equal(out.serving.length, 1);
      await until('the detached server to answer', 60_000, async () => {
        const res = await fetch(`${out.serving[0]!.url}/v2/health/live`).catch(() => undefined);
        return res?.status === 200 ? true : undefined;
      });
      const procs = processesOf(out.run);
      const stop = await cli(['stop', out.run, `--workspace=${ws}`]);
      assert.equal(stop.code, 0, stop.stderr);
      await gone(procs, 'the detached model server to stop');
    });
  },
);
