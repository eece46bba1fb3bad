import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  isRunning,
  OWNER_ENV,
  ownerGone,
  ownerToken,
  processRef,
  signalProcess,
  spawnOwned,
  startTimeOf,
  terminate,
} from '../../src/process/index.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const linux = process.platform === 'linux';

describe('owned processes', { timeout: 120_000 }, () => {
  it('never signals a pid whose start time differs (a reused pid)', { skip: !linux }, async () => {
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    try {
      const ref = processRef(child.pid)!;
      assert.ok(ref && isRunning(ref));
      assert.equal(signalProcess({ pid: ref.pid, startTime: ref.startTime + 1 }, 'SIGKILL'), false);
      assert.ok(isRunning(ref), 'still alive');
      await terminate([ref], { graceMs: 30_000 });
      assert.equal(isRunning(ref), false);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('terminate escalates to SIGKILL when SIGTERM is ignored', { skip: !linux }, async () => {
    const child = spawn(
      process.execPath,
      ['-e', "process.on('SIGTERM', () => {}); console.log('ok'); setInterval(() => {}, 1000)"],
      {
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    );
    try {
      await once(child.stdout, 'data'); // its SIGTERM handler is installed
      const ref = processRef(child.pid)!;
      await terminate([ref], { graceMs: 200 });
      assert.equal(isRunning(ref), false);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('an owner is gone only when its pid no longer has its start time', { skip: !linux }, () => {
    assert.equal(ownerGone(ownerToken(), process.pid), false, 'the parent itself');
    assert.equal(ownerGone(ownerToken(), 1), false, 'alive, through an intermediate');
    const start = startTimeOf(process.pid)!;
    assert.equal(ownerGone(`${process.pid}:${start + 1}`, 1), true, 'same pid, another process');
    assert.equal(ownerGone('not-a-token', 1), false);
  });

  it('a distml started for an owner that has already exited stops at once', { skip: !linux }, async () => {
    // A short-lived process stands for an owner that died before the child's parent-death signal was armed.
    const gone = spawn(process.execPath, ['-e', '0']);
    await once(gone, 'exit');
    const token = `${gone.pid}:1`;
    const child = spawn(process.execPath, [CLI, '--version'], {
      env: { ...process.env, [OWNER_ENV]: token },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const [code] = (await once(child, 'exit')) as [number];
    assert.equal(code, 1);
    assert.match(stderr, /the process that started this one \(\d+\) has exited; stopping/);
  });

  it('a child started with spawnOwned dies when its owner is SIGKILLed', { skip: !linux }, async () => {
    // The owner starts an owned child, prints its pid, then waits to be killed.
    const ownerScript = `import(${JSON.stringify(new URL('../../src/process/index.js', import.meta.url).href)}).then(({ spawnOwned }) => { const c = spawnOwned(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' }); console.log(c.pid); setInterval(() => {}, 1000); })`;
    const owner = spawn(process.execPath, ['-e', ownerScript], { stdio: ['ignore', 'pipe', 'inherit'] });
    let ref: ReturnType<typeof processRef> = null;
    try {
      const [line] = (await once(owner.stdout, 'data')) as [Buffer];
      ref = processRef(Number(line.toString().trim()));
      assert.ok(ref, 'the owned child runs');
      owner.kill('SIGKILL');
      const deadline = Date.now() + 30_000;
      while (isRunning(ref) && Date.now() < deadline) await sleep(50);
      assert.equal(isRunning(ref), false, 'the owned child died with its owner');
    } finally {
      owner.kill('SIGKILL');
      if (ref) signalProcess(ref, 'SIGKILL');
    }
  });

  it('a command that cannot be found fails as spawn reports it (ENOENT), not through the wrapper', async () => {
    const child = spawnOwned('distml-no-such-command', [], { stdio: 'ignore' });
    const [err] = (await once(child, 'error')) as [NodeJS.ErrnoException];
    assert.equal(err.code, 'ENOENT');
  });
});
