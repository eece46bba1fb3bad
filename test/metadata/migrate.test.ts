import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MetadataStore } from '../../src/metadata/index.js';
import { tempDir } from '../data/fixtures.js';

const CHILD = fileURLToPath(new URL('./open-child.js', import.meta.url));
const PROCESSES = 6;

describe('schema migration', () => {
  const tmp = tempDir('distml-migrate-');
  const children: ChildProcess[] = [];
  after(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    tmp.cleanup();
  });

  /** Starts the processes, lets them all open `ws` at the same moment, and checks every one succeeded. */
  async function openTogether(ws: string, go: string): Promise<void> {
    const results = Array.from({ length: PROCESSES }, (_, i) => {
      const child = spawn(process.execPath, [CHILD, ws, go, `run-${i}`], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      let stderr = '';
      child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      const ready = new Promise<void>((resolve) => child.stdout?.on('data', () => resolve()));
      const done = new Promise<{ code: number | null; stderr: string }>((resolve) =>
        child.once('exit', (code) => resolve({ code, stderr })),
      );
      return { ready, done };
    });
    await Promise.race([
      Promise.all(results.map((r) => r.ready)),
      Promise.all(results.map((r) => r.done)), // a child that died early shows up below
    ]);
    writeFileSync(go, ''); // all at once
    for (const { code, stderr } of await Promise.all(results.map((r) => r.done)))
      assert.equal(code, 0, stderr);
    const store = MetadataStore.open(ws);
    try {
      for (let i = 0; i < PROCESSES; i++) assert.ok(store.hasRun(`run-${i}`));
    } finally {
      store.close();
    }
  }

  it(`${PROCESSES} processes opening a new workspace at once all succeed and migrate it once`, async () => {
    // A few rounds: the race without the lock is likely in each, not certain.
    for (const round of [1, 2, 3])
      await openTogether(join(tmp.dir, `ws-${round}`), join(tmp.dir, `go-${round}`));
  });
});
