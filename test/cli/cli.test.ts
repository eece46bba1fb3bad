import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DEBIAN_DIR } from '../../src/data/index.js';
import { tempDir, writeDataset } from '../data/fixtures.js';
import { runCli } from './run-cli.js';

const tmp = tempDir();
after(tmp.cleanup);
const hasDebianData = existsSync(join(DEBIAN_DIR, 'train-images-idx3-ubyte.gz'));

describe('distml CLI', { timeout: 900_000 }, () => {
  it('prints its version and help', async () => {
    const v = await runCli(['--version']);
    assert.equal(v.code, 0);
    assert.match(v.stdout, /^\d+\.\d+\.\d+\n$/);
    const h = await runCli(['--help']);
    assert.equal(h.code, 0);
    assert.match(h.stdout, /data prepare/);
    const sub = await runCli(['data', 'prepare', '--help']);
    assert.equal(sub.code, 0);
    assert.match(sub.stdout, /--cache memory\|disk\|none/);
  });

  it('exits 2 with one clear line on usage errors', async () => {
    for (const args of [
      ['data', 'prepare', '--cache', 'bogus'],
      ['data', 'prepare', '--nope'],
      ['frobnicate'],
      ['data', 'show', '--index', '-1'],
    ]) {
      const r = await runCli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /^distml: /);
      assert.doesNotMatch(r.stderr, /\n\s+at .*:\d+:\d+/, 'no stack trace');
    }
    const noCmd = await runCli([]);
    assert.equal(noCmd.code, 2);
    assert.match(noCmd.stderr, /Usage: distml/);
  });

  it('reports failures as exit 1 with a JSON error under --json', async () => {
    const r = await runCli(['data', 'prepare', '--source', join(tmp.dir, 'nowhere'), '--json']);
    assert.equal(r.code, 1);
    const err = JSON.parse(r.stdout) as { error: { code: string; message: string } };
    assert.equal(err.error.code, 'DATA_NOT_FOUND');
    assert.match(err.error.message, /nowhere \(missing/);
  });

  it('data prepare and show work on a user directory, honouring --workspace', async () => {
    const dir = join(tmp.dir, 'small');
    await import('node:fs').then((fs) => fs.mkdirSync(dir));
    writeDataset(dir, 30, 10);
    const ws = join(tmp.dir, 'ws');
    const r = await runCli(['data', 'prepare', '--source', dir, '--workspace', ws, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const rep = JSON.parse(r.stdout) as { train: { count: number }; cache: { kind: string } };
    assert.equal(rep.train.count, 30);
    assert.equal(rep.cache.kind, 'disk');
    assert.ok(existsSync(join(ws, 'cache', 'data')));
    const show = await runCli(['data', 'show', '--source', dir, '--index', '7', '--split', 'test']);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /test\[7\]: 7 sneaker/);
    const past = await runCli(['data', 'show', '--source', dir, '--index', '99']);
    assert.equal(past.code, 1);
    assert.match(past.stderr, /past the end of the train split \(30 images\); use 0-29/);
  });

  it("data prepare --out copies the dataset files (a workflow step's dataset artifact) that --source reads back", async () => {
    const dir = join(tmp.dir, 'small-out');
    await import('node:fs').then((fs) => fs.mkdirSync(dir));
    writeDataset(dir, 20, 10);
    const out = join(tmp.dir, 'dataset-artifact');
    const r = await runCli([
      'data',
      'prepare',
      '--source',
      dir,
      '--workspace',
      join(tmp.dir, 'ws-out'),
      '--out',
      out,
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const fs = await import('node:fs');
    assert.equal(fs.readdirSync(out).length, 4, 'the four IDX files');
    const again = await runCli(['data', 'prepare', '--source', out, '--cache', 'none', '--json']);
    assert.equal(again.code, 0, again.stderr);
    const [a, b] = [r, again].map((x) => (JSON.parse(x.stdout) as { fingerprint: string }).fingerprint);
    assert.equal(a, b, 'the same data');
  });

  it(
    'data prepare --json reports the real Fashion-MNIST',
    { skip: !hasDebianData && 'dataset-fashion-mnist not installed', timeout: 600_000 },
    async () => {
      const r = await runCli(['data', 'prepare', '--json', '--cache', 'none'], {
        DISTML_HOME: join(tmp.dir, 'ws-real'),
      });
      assert.equal(r.code, 0, r.stderr);
      const rep = JSON.parse(r.stdout) as {
        train: { count: number; classes: number; labelHistogram: number[] };
        test: { count: number };
        fingerprint: string;
      };
      assert.equal(rep.train.count, 60000);
      assert.equal(rep.test.count, 10000);
      assert.equal(rep.train.classes, 10);
      assert.deepEqual(rep.train.labelHistogram, new Array(10).fill(6000));
      assert.match(rep.fingerprint, /^[0-9a-f]{64}$/);
      assert.ok(existsSync(join(tmp.dir, 'ws-real')), 'DISTML_HOME names the workspace');
    },
  );
});
