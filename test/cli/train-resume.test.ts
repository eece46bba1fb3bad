import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { tempDir, writeDataset } from '../data/fixtures.js';
import { runCli } from './run-cli.js';

const tmp = tempDir('distml-train-resume-');
after(tmp.cleanup);

describe('distml train --resume', () => {
  it('passes over a damaged newest checkpoint, says so, and refuses another model’s checkpoints', async () => {
    const data = join(tmp.dir, 'data');
    mkdirSync(data);
    writeDataset(data, 100, 20);
    const ws = join(tmp.dir, 'ws');
    const out = join(tmp.dir, 'exp', 'm');
    const common = ['--steps-per-epoch', '3', '--batch-size', '16', '--source', data, '--workspace', ws];
    const train = (model: string, epochs: string, ...extra: string[]) =>
      runCli([
        'train',
        '--local',
        '--model',
        model,
        '--epochs',
        epochs,
        '--out',
        out,
        '--threads',
        '1',
        ...common,
        ...extra,
      ]);

    const first = await train('cnn', '2', '--json');
    assert.equal(first.code, 0, first.stderr);
    const [ckptDir, ...others] = readdirSync(join(ws, 'checkpoints'));
    assert.deepEqual(others, []);
    assert.match(ckptDir ?? '', /^m-cnn-seed\d+-[0-9a-f]{12}$/);
    const dir = join(ws, 'checkpoints', ckptDir as string);
    const newest = join(dir, readFileSync(join(dir, 'latest'), 'utf8'));
    const weights = join(newest, 'weights.safetensors');
    const bytes = readFileSync(weights);
    bytes.writeUInt8((bytes.at(-1) ?? 0) ^ 0xff, bytes.length - 1);
    writeFileSync(weights, bytes);

    const resumed = await train('cnn', '3', '--resume', '--json');
    assert.equal(resumed.code, 0, resumed.stderr);
    const rep = JSON.parse(resumed.stdout) as { resumedFrom: string; skippedCheckpoints: { path: string }[] };
    assert.match(rep.resumedFrom, /ckpt-00000003$/);
    assert.deepEqual(
      rep.skippedCheckpoints.map((s) => s.path),
      [newest],
    );
    assert.match(resumed.stderr, /"event":"checkpoint-skipped".*SHA-256/);

    const other = await train('dropout', '3', '--resume', '--checkpoint-dir', dir);
    assert.equal(other.code, 1);
    assert.match(other.stderr, /another model spec/);
  });
});
