import { resolve } from 'node:path';
import { resolveFashionMnist, scaledSplit } from '../../data/index.js';
import { setNumThreads, threadBudget } from '../../engine/index.js';
import { loadModel } from '../../models/index.js';
import { wholeSplit } from '../../train/index.js';
import { flagSet, parseFlags, UsageError, type Command } from '../command.js';
import { cacheFlag, dataSourceFlags, threadsFlag } from '../data-source-flags.js';
import { processEnv } from '../env.js';

const evalFlags = flagSet({
  threads: threadsFlag,
  cache: cacheFlag,
  ...dataSourceFlags,
});

export const evaluate: Command = {
  path: ['evaluate'],
  summary: 'evaluate a model package on the Fashion-MNIST test split',
  usage: 'PATH',
  options: evalFlags.options,
  async run({ values, positionals, global, out }) {
    const f = parseFlags(evalFlags, values);
    if (positionals.length !== 1) throw new UsageError('evaluate needs one model package directory');
    setNumThreads(f.threads ?? threadBudget(processEnv()));
    const dir = resolve(positionals[0] as string);
    const t0 = performance.now();
    const { model, manifest } = await loadModel(dir);
    try {
      const src = await resolveFashionMnist({
        source: f.source,
        urlBase: f['url-base'],
        workspace: global.workspace,
      });
      const test = await wholeSplit(
        scaledSplit('test', src.test, { cache: f.cache, workspace: global.workspace }),
      );
      const r = await model.evaluate(test.images, test.labels);
      const report = {
        path: dir,
        model: manifest.name,
        testAccuracy: r.accuracy,
        testLoss: r.loss,
        count: r.count,
        seconds: (performance.now() - t0) / 1000,
      };
      out.result(
        report,
        () =>
          `${manifest.name} at ${dir}: test accuracy ${r.accuracy.toFixed(4)}, loss ${r.loss.toFixed(4)} on ${r.count} images`,
      );
    } finally {
      await model.dispose();
    }
  },
};
