import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli } from '../cli/run-cli.js';
import { writeDataset } from '../data/fixtures.js';
import { makePackage, tempDir } from '../serve/fixtures.js';

describe('distml select', { timeout: 900_000 }, () => {
  const tmp = tempDir('distml-select-cli-');
  after(() => tmp.cleanup());

  it('takes several --candidates and prints candidates with accuracy, loss, rank and published', async () => {
    const data = join(tmp.dir, 'data');
    await mkdir(data);
    writeDataset(data, 10, 30);
    const a = await makePackage(join(tmp.dir, 'a'), 1);
    const b = await makePackage(join(tmp.dir, 'b'), 2);
    const repo = join(tmp.dir, 'repo');
    const common = ['--repo', repo, '--source', data, '--cache', 'none', '--workspace', join(tmp.dir, 'ws')];
    const r = await runCli(['select', '--candidates', a, b, '--name', 'fm', '--json', ...common]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as {
      candidates: { path: string; accuracy: number; loss: number; rank: number; published?: unknown }[];
      published: { name: string; version: number; path: string }[];
    };
    assert.deepEqual(out.candidates.map((c) => c.rank).sort(), [1, 2]);
    assert.deepEqual(out.published, [{ name: 'fm', version: 1, path: join(repo, 'fm', '1') }]);
    const human = await runCli([
      'select',
      '--candidates',
      a,
      '--candidates',
      b,
      '--name',
      'fm',
      '--top-k',
      '2',
      ...common,
    ]);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /rank\s+accuracy\s+loss/);
    assert.match(human.stdout, /published fm-1 version 1/);
    assert.match(human.stdout, /published fm-2 version 1/);
  });

  it('exits 2 naming the flag when --repo is missing, 1 when nothing passes', async () => {
    const r = await runCli(['select', '--candidates', tmp.dir, '--name', 'x']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--repo/);
    const bad = await runCli([
      'select',
      '--candidates',
      tmp.dir,
      '--name',
      'x',
      '--repo',
      join(tmp.dir, 'r2'),
      '--min-accuracy',
      '2',
    ]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--min-accuracy/);
  });
});
