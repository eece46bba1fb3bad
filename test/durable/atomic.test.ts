import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createDirAtomic, replaceDirAtomic, resolveDir, writeFileAtomic } from '../../src/durable/index.js';
import { tempDir } from '../data/fixtures.js';

/** A pid that certainly belongs to no process: one that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(r.stdout.toString());
}

describe('atomic writes', () => {
  const tmp = tempDir('distml-durable-');
  after(() => tmp.cleanup());

  it('a reader never finds a replaced folder missing or mixing two contents', async () => {
    const dir = join(tmp.dir, 'pkg');
    await replaceDirAtomic(dir, { a: '0', b: '0' });
    let writing = true;
    const writer = (async () => {
      try {
        for (let i = 1; i <= 150; i++) await replaceDirAtomic(dir, { a: String(i), b: String(i) });
      } finally {
        writing = false;
      }
    })();
    let reads = 0;
    const reader = (async () => {
      while (writing) {
        const real = await resolveDir(dir);
        const [a, b] = await Promise.all([
          readFile(join(real, 'a'), 'utf8'),
          readFile(join(real, 'b'), 'utf8'),
        ]);
        assert.equal(a, b, 'both files come from one content');
        reads++;
      }
    })();
    await Promise.all([writer, reader]);
    assert.ok(reads > 0);
    assert.equal(readFileSync(join(dir, 'a'), 'utf8'), '150');
    assert.equal(readdirSync(tmp.dir).filter((f) => f.startsWith('.pkg.')).length, 2);
  });

  it('creates a folder once: a second writer of the same name fails instead of mixing', async () => {
    const dir = join(tmp.dir, 'v1');
    await createDirAtomic(dir, { x: 'first' });
    await assert.rejects(createDirAtomic(dir, { x: 'second' }), /ENOTEMPTY|EEXIST/);
    assert.equal(readFileSync(join(dir, 'x'), 'utf8'), 'first');
    assert.deepEqual(
      readdirSync(tmp.dir).filter((f) => f.startsWith('.v1.')),
      [],
    );
  });

  it('replaces a file in one step and leaves no temp file', async () => {
    const file = join(tmp.dir, 'sub', 'latest');
    await writeFileAtomic(file, 'one');
    await writeFileAtomic(file, 'two');
    assert.equal(readFileSync(file, 'utf8'), 'two');
    assert.deepEqual(readdirSync(join(tmp.dir, 'sub')), ['latest']);
  });

  it("sweeps what a dead writer left, but not a live writer's work", async () => {
    const dead = deadPid();
    const left = join(tmp.dir, `.v2.tmp-${dead}-0badc0de`);
    const live = join(tmp.dir, `.v2.tmp-${process.ppid}-0badc0de`);
    mkdirSync(left);
    mkdirSync(live);
    await createDirAtomic(join(tmp.dir, 'v2'), { x: '1' });
    assert.ok(!existsSync(left), 'a dead writer’s temp folder is removed');
    assert.ok(existsSync(live), 'a live writer’s temp folder is kept');
  });
});
