// State that survives a crash: processes saving a package, publishing it and checkpointing are SIGKILLed at
// random moments, again and again. Afterwards everything on disk either loads or is passed over with a
// message — nothing is corrupt, and no half-written version is ever visible to a server.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createModel } from '../../src/engine/index.js';
import { bookModelSpec, readPackage } from '../../src/models/index.js';
import { listVersions, versionPath } from '../../src/registry/index.js';
import { ModelVersions, type VersionEvent } from '../../src/serve/index.js';
import { restoreCheckpoint, resumeLatest, type SkippedCheckpoint } from '../../src/train/index.js';
import { tempDir } from '../data/fixtures.js';
import { makePackage } from '../serve/fixtures.js';

const CHILD = fileURLToPath(new URL('./crash-child.js', import.meta.url));
const KILLS = 50;
const SLOTS = 5; // writers at once, on the same package and repository (each with its own checkpoints)

/** Starts a writer, lets it work for a random moment once it is ready, then SIGKILLs it. */
async function killAtRandom(root: string, slot: number, live: Set<ChildProcess>): Promise<void> {
  const child = spawn(process.execPath, [CHILD, root, String(slot)], { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      child.once('exit', (code) =>
        reject(new Error(`writer exited (${code}) before it was ready: ${stderr}`)),
      );
    });
    await sleep(Math.random() * 400);
    assert.equal(child.exitCode, null, `the writer died by itself: ${stderr}`);
    child.kill('SIGKILL');
    await exit;
  } finally {
    live.delete(child);
  }
}

describe('state that survives a crash', () => {
  const tmp = tempDir('distml-crash-');
  const live = new Set<ChildProcess>();
  after(() => {
    for (const c of live) c.kill('SIGKILL');
    tmp.cleanup();
  });

  it(
    `after ${KILLS} SIGKILLs during save, publish and checkpoint, everything loads or is passed over`,
    { timeout: 400_000 },
    async () => {
      const root = tmp.dir;
      await makePackage(join(root, 'pkg'), 1); // a package exists from the start: it must never go missing
      for (let round = 0; round < KILLS / SLOTS; round++) {
        await Promise.all(Array.from({ length: SLOTS }, (_, slot) => killAtRandom(root, slot, live)));
        await readPackage(join(root, 'pkg')); // loadable after every round, whatever the kills interrupted
      }

      const repo = join(root, 'repo');
      const versions = await listVersions(repo, 'm');
      assert.ok(versions.length > 0, 'the writers got some publishes done');
      for (const v of versions) await readPackage(versionPath(repo, 'm', v));

      const spec = bookModelSpec('cnn');
      const model = createModel(spec, { seed: 9 });
      await model.setOptimizer({ type: 'adam', learningRate: 0.001 });
      try {
        for (let slot = 0; slot < SLOTS; slot++) {
          const dir = join(root, `ck-${slot}`);
          const skipped: SkippedCheckpoint[] = [];
          const resumed = await resumeLatest(dir, model, { spec, onSkip: (s) => skipped.push(s) });
          for (const s of skipped) assert.ok(s.reason.length > 0, `${s.path} passed over with a message`);
          const ckpts = readdirSync(dir).filter((f) => /^ckpt-\d+$/.test(f));
          assert.ok(resumed && ckpts.length > 0, `slot ${slot} resumes from a checkpoint`);
          // Visible checkpoints are whole: written in a temp folder, removed by renaming aside first.
          for (const c of ckpts) await restoreCheckpoint(join(dir, c), model, spec);
        }
      } finally {
        await model.dispose();
      }

      // A server loads every version it is asked to keep: none was visible half-written.
      const events: VersionEvent[] = [];
      const served = new ModelVersions({ repo, name: 'm', keep: 3, onEvent: (e) => events.push(e) });
      try {
        await served.start();
        assert.deepEqual(
          events.filter((e) => e.event === 'version-failed'),
          [],
        );
        assert.equal(served.latest()?.version, versions.at(-1));
      } finally {
        await served.close();
      }
    },
  );
});
