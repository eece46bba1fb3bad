// A server killed with SIGKILL takes every step process with it (parent-death signal); the next server
// resumes the detached run and marks the followed one Failed, and nothing of the dead one is left.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { commandLineOf, isRunning, type ProcessRef } from '../../src/process/index.js';
import {
  api,
  cli,
  gone,
  oneStep,
  processesOf,
  sandbox,
  serverRef,
  startCli,
  startServer,
  status,
  stopServer,
  until,
} from './helpers.js';

describe('a restarted server reconciles', { timeout: 300_000 }, () => {
  it('after SIGKILL: steps die with it, the detached run is resumed, the followed one marked', async () => {
    const box = sandbox();
    try {
      const first = await startServer(box.ws);
      // The step is the shell's exec'd sleep (a direct child of the server: the parent-death signal covers
      // it); the followed run's step also leaves a grandchild, which only the next server's reconciliation ends.
      const file = box.file('hold.yaml', oneStep('hold', 'exec sleep 600'));
      const leaky = box.file('leaky.yaml', oneStep('leaky', 'sleep 700 & exec sleep 600'));
      const d = await cli(['run', file, '--detach', '--json', `--workspace=${box.ws}`]);
      assert.equal(d.code, 0, d.stderr);
      const detached = (JSON.parse(d.stdout) as { run: string }).run;
      const follower = startCli(['run', leaky, '--json', `--workspace=${box.ws}`]);
      const followed = await until('the followed run', 60_000, async () => {
        const runs = (await api(box.ws, 'GET', '/api/v1/runs')).json as unknown as { name: string }[];
        return runs.find((r) => r.name !== detached)?.name;
      });
      const steps = () => [...processesOf(detached), ...processesOf(followed)];
      const isStep = (p: ProcessRef) => commandLineOf(p.pid).includes('sleep 600');
      const before = await until('both steps and the grandchild to run', 60_000, () =>
        steps().filter(isStep).length === 2 && steps().length === 3 ? steps() : undefined,
      );
      const grandchild = before.filter((p) => !isStep(p));
      process.kill(first.pid, 'SIGKILL');
      await gone([serverRef(first), ...before.filter(isStep)], 'the server and its steps to die');
      assert.deepEqual(steps(), grandchild, 'only the grandchild outlives the server');
      const lost = await follower.done;
      assert.equal(lost.code, 1);
      assert.match(lost.stdout, /SERVER_GONE/);

      const second = await startServer(box.ws);
      assert.notEqual(second.pid, first.pid);
      assert.equal((await status(box.ws, detached)).phase, 'Running');
      const marked = await status(box.ws, followed);
      assert.equal(marked.phase, 'Failed');
      assert.match(
        marked.message ?? '',
        new RegExp(`its engine \\(pid ${first.pid}\\) died with the server; \`distml resume ${followed}\``),
      );
      const again = await until('the detached run to run its step again', 60_000, () =>
        processesOf(detached).some(isStep) ? processesOf(detached) : undefined,
      );
      assert.ok(again.every((p) => !before.some((b) => b.pid === p.pid && b.startTime === p.startTime)));
      await gone(grandchild, 'the grandchild to be reaped by the reconciliation');
      assert.deepEqual(processesOf(followed), []);
      await stopServer(box.ws);
      await gone([serverRef(second), ...again], 'the second server and its steps to exit');
      assert.equal(isRunning(serverRef(second)), false);
    } finally {
      await cli(['server', 'stop', `--workspace=${box.ws}`]);
      box.cleanup();
    }
  });
});
