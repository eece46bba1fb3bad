import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setNumThreads } from '../../../src/engine/index.js';
import { bookModelSpec } from '../../../src/models/index.js';
import { constantLr } from '../../../src/train/index.js';
import { partitionParameters, runPsWorker, startShardServer } from '../../../src/train/ps/index.js';
import { tempDir } from '../../data/fixtures.js';
import { learnable } from '../learnable.js';

const tmp = tempDir('distml-ps-worker-');
after(() => tmp.cleanup());

describe('parameter-server workers (in one process, over real sockets)', () => {
  it(
    'two asynchronous workers and two servers train the CNN: loss falls, the chief saves the model',
    { timeout: 600_000 },
    async () => {
      setNumThreads(1);
      const spec = bookModelSpec('cnn');
      const partition = partitionParameters([{ name: 'all', size: 93322 }], 2);
      const servers = await Promise.all(
        [0, 1].map((index) =>
          startShardServer({
            spec,
            seed: 1,
            partition,
            index,
            workers: 2,
            host: '127.0.0.1',
            baseLr: 1e-3,
            schedule: constantLr,
            staleness: 2,
            secret: 'worker-test-secret',
          }),
        ),
      );
      try {
        const common = {
          workers: 2,
          servers: servers.map((s) => ({ host: '127.0.0.1', port: s.port })),
          partition,
          name: 'cnn',
          spec,
          classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
          train: learnable(640),
          epochs: 2,
          batchSize: 32,
          seed: 1,
          baseLr: 1e-3,
          schedule: constantLr,
          outDir: join(tmp.dir, 'model'),
          lineage: {},
          secret: 'worker-test-secret',
        };
        const [chief, other] = await Promise.all([
          runPsWorker({ ...common, rank: 0, test: learnable(200, 2) }),
          runPsWorker({ ...common, rank: 1 }),
        ]);
        const r = chief.result;
        assert.ok(r, 'the chief reports the job');
        assert.equal(other.result, undefined);
        assert.equal(r.epochs, 2);
        assert.ok(
          r.history[1]!.loss < r.history[0]!.loss,
          `loss falls: ${r.history.map((h) => h.loss).join(' -> ')}`,
        );
        assert.ok((r.testAccuracy ?? 0) > 0.8, `test accuracy ${r.testAccuracy}`);
        assert.equal(
          chief.metrics.steps + other.metrics.steps >= 40,
          true,
          '2 epochs of 640 examples in batches of 32',
        );
        const stats = await Promise.all(servers.map((s) => s.server.snapshot()));
        assert.ok(
          stats.every((s) => s.version >= 40 && s.maxStaleness <= 5),
          JSON.stringify(stats.map((s) => s.maxStaleness)),
        );
        assert.ok(existsSync(join(tmp.dir, 'model', 'model.json')));
      } finally {
        await Promise.all(servers.map((s) => s.stop()));
      }
    },
  );
});
