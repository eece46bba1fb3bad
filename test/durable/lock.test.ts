import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DurableError, processStartTime, withLock } from '../../src/durable/index.js';
import { tempDir } from '../data/fixtures.js';

const CHILD = fileURLToPath(new URL('./lock-child.js', import.meta.url));

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

describe('lock files', () => {
  const tmp = tempDir('distml-lock-');
  const children: ChildProcess[] = [];
  after(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    tmp.cleanup();
  });

  it('parallel processes take turns: no update under the lock is lost', async () => {
    const lock = join(tmp.dir, 'count.lock');
    const file = join(tmp.dir, 'count');
    writeFileSync(file, '0');
    const procs = [1, 2, 3, 4].map(() => spawn(process.execPath, [CHILD, 'count', lock, file, '15']));
    children.push(...procs);
    assert.deepEqual(await Promise.all(procs.map(exited)), [0, 0, 0, 0]);
    assert.equal(readFileSync(file, 'utf8'), '60');
  });

  it('breaks a lock whose holder was SIGKILLed', async () => {
    const lock = join(tmp.dir, 'killed.lock');
    const holder = spawn(process.execPath, [CHILD, 'hold', lock], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(holder);
    await new Promise<void>((resolve, reject) => {
      holder.stdout?.on('data', (d: Buffer) => d.toString().includes('held') && resolve());
      holder.once('exit', () => reject(new Error('holder exited before taking the lock')));
    });
    assert.match(readFileSync(lock, 'utf8'), new RegExp(`"pid":${holder.pid}`));
    holder.kill('SIGKILL');
    await exited(holder);
    assert.equal(await withLock(lock, async () => 'taken', { timeoutMs: 60_000 }), 'taken');
  });

  it('treats a lock whose pid now belongs to another process (other start time) as stale', async () => {
    const lock = join(tmp.dir, 'reused.lock');
    writeFileSync(lock, JSON.stringify({ pid: process.pid, start: '1', since: 'long ago' }));
    assert.equal(await withLock(lock, async () => 'taken', { timeoutMs: 60_000 }), 'taken');
  });

  it('waits for a live holder and then fails naming it', async () => {
    const lock = join(tmp.dir, 'live.lock');
    const start = processStartTime(process.pid) ?? '';
    writeFileSync(lock, JSON.stringify({ pid: process.pid, start, since: 'now' }));
    await assert.rejects(
      withLock(lock, async () => 'taken', { timeoutMs: 300 }),
      (e: unknown) =>
        e instanceof DurableError &&
        e.code === 'DURABLE_LOCK_TIMEOUT' &&
        e.message.includes(`process ${process.pid}`),
    );
    assert.equal(JSON.parse(readFileSync(lock, 'utf8')).since, 'now', 'a live lock is left alone');
  });
});
