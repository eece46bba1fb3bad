import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { DEBIAN_DIR } from '../../src/data/index.js';
import { byName, cli, getRun, runName, sandbox } from './helpers.js';

const PIPELINE = fileURLToPath(new URL('../../../examples/book-pipeline.yaml', import.meta.url));
const hasData = existsSync(join(DEBIAN_DIR, 'train-images-idx3-ubyte.gz'));

describe(
  "the book's pipeline, shortened, end to end",
  { skip: !hasData && 'dataset-fashion-mnist not installed', timeout: 900_000 },
  () => {
    const box = sandbox();
    after(box.cleanup);
    const args = () => [
      'run',
      PIPELINE,
      '--json',
      '--show',
      'summary',
      `--workspace=${box.ws}`,
      // As on the 2-core machines the pipeline is written for, whatever machine runs the test.
      '--cores=2',
      '-p',
      'epochs=1',
      '-p',
      'steps=10',
      '-p',
      'threshold=0',
      '-p',
      `repo=${join(box.dir, 'repo')}`,
    ];

    it('trains with 2 workers each, answers predictions before the slowest training ends, ensembles the top 2', async () => {
      const r = await cli(args(), { cwd: box.dir });
      assert.equal(r.code, 0, r.stderr.slice(-3000));
      const run = runName(r);
      const { status } = await getRun(box.ws, run);
      assert.equal(status.phase, 'Succeeded');
      const nodes = status.nodes;
      for (const n of [
        'ingest',
        'train-cnn',
        'train-dropout',
        'train-batch-norm',
        'serve',
        'select-top-2',
        'ensemble',
        'predict',
        'predict-ensemble',
        'summary',
      ]) {
        assert.equal(byName(nodes, n)?.phase, 'Succeeded', `${n}: ${byName(nodes, n)?.message ?? 'missing'}`);
      }
      assert.equal(byName(nodes, 'hold')?.phase, 'Skipped', 'hold only on a terminal');
      // Asynchronous steps (book 5.3): the server starts with the trainings, the first published model answers
      // while a training still runs. The trainings take the pool's 2 cores each, so they run one after another;
      // the server and the short publish/predict steps take no cores and never queue behind them. Which
      // training ends first is not fixed (a retried one goes to the back of the queue): predict follows
      // whichever model is published first.
      const at = (n: string, k: 'startedAt' | 'finishedAt') => Date.parse(byName(nodes, n)?.[k] ?? '');
      const timeline = Object.values(nodes)
        .map(
          (n) => `${n.displayName} ${n.phase} r${n.retries} ${n.startedAt ?? '-'} → ${n.finishedAt ?? '-'}`,
        )
        .join('\n');
      const firstPublish = Math.min(
        ...['publish-cnn', 'publish-dropout', 'publish-batch-norm']
          .filter((n) => byName(nodes, n)?.phase === 'Succeeded')
          .map((n) => at(n, 'finishedAt')),
      );
      assert.ok(at('predict', 'finishedAt') >= firstPublish, `predict waited for a model\n${timeline}`);
      const lastTrainingEnd = Math.max(
        ...['train-cnn', 'train-dropout', 'train-batch-norm'].map((n) => at(n, 'finishedAt')),
      );
      assert.ok(
        at('predict', 'finishedAt') < lastTrainingEnd,
        `answered before the slowest training finished\n${timeline}`,
      );
      const predicted = byName(nodes, 'predict')?.outputs?.parameters.find((p) => p.name === 'count')?.value;
      assert.equal(predicted, '8');
      // --show printed the summary with both URLs and a curl line.
      assert.match(r.stdout, /test accuracy after training: cnn=0\.\d+ dropout=0\.\d+ batch_norm=0\.\d+/);
      assert.match(r.stdout, /serving fashion-mnist \(autoscaled\): http:\/\/127\.0\.0\.1:\d+/);
      assert.match(r.stdout, /curl -s http:\/\/127\.0\.0\.1:\d+\/v1\/models\/ensemble:predict/);
      assert.ok(
        existsSync(join(box.dir, 'repo', 'fashion-mnist-1')) &&
          existsSync(join(box.dir, 'repo', 'fashion-mnist-2')),
      );
    });

    it('a second run finds ingestion and training memoized', async () => {
      const r = await cli(args(), { cwd: box.dir });
      assert.equal(r.code, 0, r.stderr.slice(-3000));
      const { status } = await getRun(box.ws, runName(r));
      for (const n of ['ingest', 'train-cnn', 'train-dropout', 'train-batch-norm']) {
        assert.equal(byName(status.nodes, n)?.memoizationStatus?.hit, true, `${n} memoized`);
      }
    });
  },
);
