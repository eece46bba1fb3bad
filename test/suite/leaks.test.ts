// The suite's own guards: the leak check sees a marked orphan, its port and a temp entry, and removes them;
// the runner fails a run that leaks and stops a run that passes its deadline, naming the file.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { cleanUp, describeLeaks, findLeaks, SUITE_MARKER } from './leaks.js';

const RUN = fileURLToPath(new URL('./run.js', import.meta.url));

// A detached process that listens on a free loopback port and prints it: an orphan once its parent is gone.
const ORPHAN = `const s = require('net').createServer().listen(0, '127.0.0.1', () => console.log(s.address().port));`;

/** Running, not a zombie waiting for init to reap it. */
const alive = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
};

/** Pids whose command line names `file`. */
function running(file: string): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'latin1').split('\0').includes(file);
      } catch {
        return false;
      }
    })
    .map(Number);
}

async function until(what: string, cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function runSuite(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, [RUN, ...args], { env: { ...process.env, ...env } });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, out })));
}

describe('suite leak check', { timeout: 120_000 }, () => {
  it('reports a marked orphan with its listening port and a temp entry, then removes both', async () => {
    const marker = randomBytes(8).toString('hex');
    const temp = mkdtempSync(join(tmpdir(), 'distml-leak-test-'));
    let orphan: ChildProcess | undefined;
    try {
      mkdirSync(join(temp, 'distml-left-behind'));
      orphan = spawn(process.execPath, ['-e', ORPHAN], {
        env: { ...process.env, [SUITE_MARKER]: marker },
        detached: true,
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      const port = await new Promise<number>((resolve, reject) => {
        orphan!.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
        orphan!.once('exit', (c) => reject(new Error(`the orphan exited (${c})`)));
      });
      const leaks = findLeaks(marker, temp);
      assert.deepEqual(
        leaks.processes.map((p) => [p.pid, p.ports]),
        [[orphan.pid, [port]]],
      );
      assert.deepEqual(leaks.tempEntries, ['distml-left-behind']);
      const report = describeLeaks(leaks, temp);
      assert.match(report, new RegExp(`process ${orphan.pid} listening on port ${port}: .*node`));
      assert.match(report, /temp entry .*distml-left-behind/);
      assert.deepEqual(findLeaks(randomBytes(8).toString('hex')).processes, [], 'another marker sees none');

      await cleanUp(marker, temp);
      await until('the orphan to be gone', () => !alive(orphan!.pid!));
      assert.deepEqual(findLeaks(marker, temp), { processes: [], tempEntries: [] });
    } finally {
      if (orphan?.pid && alive(orphan.pid)) orphan.kill('SIGKILL');
      rmSync(temp, { recursive: true, force: true });
    }
  });

  it('fails a run whose test leaves a process and a temp dir, naming them, and leaves nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'distml-leak-run-'));
    const pidFile = join(dir, 'orphan.pid');
    try {
      const fixture = join(dir, 'leaky.test.js');
      writeFileSync(
        fixture,
        `const { it } = require('node:test');
const { spawn } = require('node:child_process');
const fs = require('node:fs'); const os = require('node:os'); const path = require('node:path');
it('leaks', async () => {
  fs.mkdtempSync(path.join(os.tmpdir(), 'left-by-leaky-'));
  const c = spawn(process.execPath, ['-e', ${JSON.stringify(ORPHAN)}], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise((r) => c.stdout.once('data', r));
  fs.writeFileSync(process.env.PID_FILE, String(c.pid));
});
`,
      );
      // A listening orphan never exits by itself: a short grace is enough to see it reported.
      const r = await runSuite(['--grace-seconds=1', fixture], { PID_FILE: pidFile, TMPDIR: dir });
      assert.equal(r.code, 1, r.out);
      const pid = Number(readFileSync(pidFile, 'utf8'));
      assert.match(r.out, /leak check FAILED/);
      assert.match(r.out, new RegExp(`process ${pid} listening on port \\d+`));
      assert.match(r.out, /temp entry .*left-by-leaky-/);
      await until('the runner to have removed the orphan', () => !alive(pid));
      assert.deepEqual(readdirSync(dir).sort(), ['leaky.test.js', 'orphan.pid'], 'its temp dir is gone');
    } finally {
      if (existsSync(pidFile)) {
        const pid = Number(readFileSync(pidFile, 'utf8'));
        if (alive(pid)) process.kill(pid, 'SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ends a run whose file keeps a handle open after its tests pass (--test-force-exit)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'distml-leak-open-'));
    try {
      const fixture = join(dir, 'open.test.js');
      writeFileSync(fixture, `require('node:test').it('passes', () => void setInterval(() => {}, 1000));\n`);
      // Without force-exit the file never ends and the runner waits for it until the deadline (124).
      const r = await runSuite(['--deadline-minutes=5', fixture], { TMPDIR: dir });
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /leak check passed/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stops a run that passes its deadline and names the file still running', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'distml-leak-hang-'));
    try {
      const fixture = join(dir, 'hangs.test.js');
      writeFileSync(
        fixture,
        `require('node:test').it('never ends', () => new Promise(() => setInterval(() => {}, 1000)));\n`,
      );
      // 12 s: ample for the runner to start the file even on a busy machine.
      const r = await runSuite(['--deadline-minutes=0.2', fixture], { TMPDIR: dir });
      assert.equal(r.code, 124, r.out);
      assert.match(r.out, /passed its deadline of 0\.2 min; still running: .*hangs\.test\.js/);
      assert.deepEqual(running(fixture), [], 'the hanging file was stopped');
      assert.deepEqual(readdirSync(dir), ['hangs.test.js']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
