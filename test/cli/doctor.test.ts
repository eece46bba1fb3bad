import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { tempDir, writeDataset } from '../data/fixtures.js';
import { runCli } from './run-cli.js';

const tmp = tempDir();
after(tmp.cleanup);
const ws = ['--workspace', join(tmp.dir, 'ws')];

interface Report {
  ok: boolean;
  problems: number;
  checks: { name: string; status: string; detail: string; fix?: string }[];
}

describe('distml doctor', () => {
  it('reports a missing dataset directory as a problem with its fix, exit 1', async () => {
    const missing = join(tmp.dir, 'no-data-here');
    const r = await runCli(['doctor', '--source', missing, ...ws]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stdout,
      new RegExp(`^problem +dataset +no Fashion-MNIST files in ${missing} \\(missing`, 'm'),
    );
    assert.match(r.stdout, new RegExp(`^ +fix: copy the four IDX files .* into ${missing}`, 'm'));
    assert.match(r.stdout, /^ok +libtorch +addon loaded, libtorch \d+\.\d+/m);
    assert.match(r.stdout, /^ok +workspace /m);
    assert.match(r.stdout, /1 problem: fix it and run `distml doctor` again/);

    const j = await runCli(['doctor', '--source', missing, '--json', ...ws]);
    assert.equal(j.code, 1, j.stderr);
    const rep = JSON.parse(j.stdout) as Report;
    assert.equal(rep.ok, false);
    const data = rep.checks.find((c) => c.name === 'dataset');
    assert.equal(data?.status, 'problem');
    assert.match(data?.fix ?? '', /--source debian/);
    assert.equal(rep.checks.find((c) => c.name === 'gloo')?.status, 'ok');
  });

  it('finds an intact dataset, and names a damaged file', async () => {
    const dir = join(tmp.dir, 'data');
    mkdirSync(dir);
    writeDataset(dir, 30, 10, false);
    const good = await runCli(['doctor', '--source', dir, '--json', ...ws]);
    const rep = JSON.parse(good.stdout) as Report;
    const data = rep.checks.find((c) => c.name === 'dataset');
    assert.equal(data?.status, 'ok', good.stdout);
    assert.match(data?.detail ?? '', /30 train, 10 test images/);
    assert.equal(good.code, rep.problems ? 1 : 0);

    const file = join(dir, 't10k-images-idx3-ubyte');
    writeFileSync(file, readFileSync(file).subarray(0, 500));
    const bad = await runCli(['doctor', '--source', dir, ...ws]);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /^problem +dataset +Fashion-MNIST in .* is damaged: .*t10k-images-idx3-ubyte/m);
  });
});
