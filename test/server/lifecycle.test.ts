// `distml server start|status|stop`, and the server `distml run` starts on demand: one per workspace, gone
// after its idle timeout, and `server stop` leaves no process of it or of its runs.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isRunning, processRef } from '../../src/process/index.js';
import {
  api,
  cli,
  gone,
  oneStep,
  processesOf,
  sandbox,
  serverInfo,
  serverRef,
  startCli,
  startServer,
  stopServer,
  until,
} from './helpers.js';

describe('distml server', { timeout: 300_000 }, () => {
  it('start, status and stop; a second start is refused while one runs', async () => {
    const box = sandbox();
    try {
      const none = await cli(['server', 'status', '--json', `--workspace=${box.ws}`]);
      assert.deepEqual(JSON.parse(none.stdout), { running: false });
      const info = await startServer(box.ws, ['--cores=1']);
      const again = await cli(['server', 'start', `--workspace=${box.ws}`]);
      assert.equal(again.code, 1);
      assert.match(again.stderr, new RegExp(`a server already runs for .*pid ${info.pid}`));
      const st = await cli(['server', 'status', `--workspace=${box.ws}`]);
      assert.equal(st.code, 0, st.stderr);
      assert.match(st.stdout, new RegExp(`server ${info.url} \\(pid ${info.pid}\\), up \\d+ s`));
      assert.match(st.stdout, /cores: 1 of 1 free/);
      await stopServer(box.ws);
      assert.equal(isRunning(serverRef(info)), false);
      assert.equal(existsSync(join(box.ws, 'server', 'server.json')), false, 'its address file is gone');
    } finally {
      box.cleanup();
    }
  });

  it('`server stop` ends every run and every process of them, detached or followed', async () => {
    const box = sandbox();
    try {
      const info = await startServer(box.ws);
      const file = box.file('hold.yaml', oneStep('hold', 'sleep 600 & sleep 600'));
      const detached = await cli(['run', file, '--detach', '--json', `--workspace=${box.ws}`]);
      assert.equal(detached.code, 0, detached.stderr);
      const run1 = (JSON.parse(detached.stdout) as { run: string }).run;
      const followed = startCli(['run', file, '--json', `--workspace=${box.ws}`]);
      const run2 = await until('the followed run', 60_000, async () => {
        const runs = (await api(box.ws, 'GET', '/api/v1/runs')).json as unknown as { name: string }[];
        return runs.find((r) => r.name !== run1)?.name;
      });
      const procs = await until('both runs to have their step processes', 60_000, () => {
        const all = [...processesOf(run1), ...processesOf(run2)];
        return processesOf(run1).length >= 2 && processesOf(run2).length >= 2 ? all : undefined;
      });
      await stopServer(box.ws);
      await gone([serverRef(info), ...procs], 'the server and every step process to exit');
      assert.deepEqual([...processesOf(run1), ...processesOf(run2)], []);
      const r = await followed.done;
      assert.equal(r.code, 1, 'the followed run was stopped');
      assert.match(r.stdout, /RUN_FAILED/);
    } finally {
      box.cleanup();
    }
  });

  it('`distml run` starts a server when none runs, and the next run uses it', async () => {
    const box = sandbox();
    try {
      const file = box.file('quick.yaml', oneStep('quick', 'echo done'));
      const r = await cli(['run', file, `--workspace=${box.ws}`]);
      assert.equal(r.code, 0, r.stderr);
      const info = serverInfo(box.ws);
      assert.ok(processRef(info.pid), 'the server outlives the run that started it');
      const second = await cli(['run', file, '--json', `--workspace=${box.ws}`]);
      assert.equal(second.code, 0, second.stderr);
      assert.equal(serverInfo(box.ws).pid, info.pid, 'the next run uses the same server');
      const st = await api(box.ws, 'GET', '/api/v1/status');
      assert.equal(st.json['idleTimeoutMs'], 300_000, 'a server started on demand stops after 5 min idle');
      await stopServer(box.ws);
      await gone([serverRef(info)], 'the server to stop');
    } finally {
      box.cleanup();
    }
  });

  it('a server started on demand stops by itself after its idle timeout', async () => {
    const box = sandbox();
    try {
      const file = box.file('quick.yaml', oneStep('quick', 'echo done'));
      const r = await cli(['run', file, '--idle-timeout=1s', `--workspace=${box.ws}`]);
      assert.equal(r.code, 0, r.stderr);
      const info = serverInfo(box.ws);
      await gone([serverRef(info)], 'the idle server to stop');
      assert.equal(existsSync(join(box.ws, 'server', 'server.json')), false);
      assert.match(readFileSync(join(box.ws, 'server', 'server.log'), 'utf8'), /stopping: idle for \d+ s/);
    } finally {
      box.cleanup();
    }
  });
});
