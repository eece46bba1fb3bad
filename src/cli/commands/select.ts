import { resolve } from 'node:path';
import { z } from 'zod';
import { select, SELECTION_METRICS, type SelectReport } from '../../registry/index.js';
import { setNumThreads, threadBudget } from '../../engine/index.js';
import { flag, flagSet, parseFlags, type Command } from '../command.js';
import { cacheFlag, dataSourceFlags, threadsFlag } from '../data-source-flags.js';
import { table } from '../output.js';
import { processEnv } from '../env.js';

const selectFlags = flagSet({
  candidates: flag(
    z
      .array(z.string().min(1, 'must name a directory'), {
        message: 'is required: one or more model package directories',
      })
      .min(1, 'is required: one or more model package directories'),
    'model package directories to compare (repeatable)',
    { valueName: 'DIR' },
  ),
  repo: flag(
    z.string({ message: 'is required: the model repository directory' }).min(1, 'must name a directory'),
    'model repository directory',
    { valueName: 'REPO' },
  ),
  name: flag(
    z.string({ message: 'is required: the model name in the repository' }).min(1, 'must name a model'),
    'model name in the repository',
    { valueName: 'NAME' },
  ),
  metric: flag(
    z
      .enum(SELECTION_METRICS, { message: `must be one of ${SELECTION_METRICS.join(', ')}` })
      .default('accuracy'),
    'rank by test accuracy (higher wins) or test loss (lower wins)',
  ),
  'top-k': flag(
    z.coerce
      .number({ message: 'must be a positive integer' })
      .int('must be a positive integer')
      .positive('must be a positive integer')
      .max(100, 'must be at most 100')
      .default(1),
    'how many models to publish',
    { valueName: 'K' },
  ),
  'min-accuracy': flag(
    z.coerce
      .number({ message: 'must be a number in [0, 1]' })
      .min(0, 'must be a number in [0, 1]')
      .max(1, 'must be a number in [0, 1]')
      .default(0),
    'never publish a model whose test accuracy is below X',
    { valueName: 'X' },
  ),
  threads: threadsFlag,
  're-evaluate': flag(
    z.boolean().default(false),
    'evaluate every candidate, even one whose package records its score on this test data',
  ),
  'only-if-better': flag(
    z.boolean().default(false),
    'publish only if the best candidate beats the newest published version (scored on the same test data)',
  ),
  cache: cacheFlag,
  ...dataSourceFlags,
});

export const selectCommand: Command = {
  path: ['select'],
  summary:
    'evaluate candidate models on the test split and publish the best as the next version in a repository',
  usage: '--candidates DIR... --repo REPO --name NAME',
  details: [
    'The repository is laid out as TF Serving expects: REPO/NAME/<version>/ with integer versions, the newest',
    'served. Each published version is a copy of the candidate package whose model.json lineage records the',
    'selection (metric, scores, rank, all candidates) and where it came from.',
    'With --top-k 1 the best candidate becomes the next version of NAME. With --top-k K > 1 the i-th best',
    '(among candidates that reach --min-accuracy) becomes the next version of NAME-i, for i = 1..K, which is',
    'what an ensemble serves. Candidates below --min-accuracy are never published; if none reaches it the',
    'command fails and publishes nothing.',
    'A package whose model.json records test figures for its own weights (weightsSha256) on this same test',
    'data (lineage.testFingerprint) — what `distml train` writes — is scored from that record ("recorded");',
    'others are evaluated now. --re-evaluate evaluates every one.',
    'Repeat --candidates or give several directories after it: --candidates a b c.',
  ].join('\n'),
  options: selectFlags.options,
  async run({ values, positionals, global, out }) {
    // `--candidates a b c`: directories after the flag arrive as positionals.
    const given = [...((values.candidates as string[] | undefined) ?? []), ...positionals];
    const f = parseFlags(selectFlags, { ...values, candidates: given.length ? given : undefined });
    setNumThreads(f.threads ?? threadBudget(processEnv()));
    const progress = out.progress('evaluate');
    const report = await select({
      candidates: f.candidates,
      repo: resolve(f.repo),
      name: f.name,
      metric: f.metric,
      topK: f['top-k'],
      minAccuracy: f['min-accuracy'],
      workspace: global.workspace,
      source: f.source,
      urlBase: f['url-base'],
      cache: f.cache,
      onlyIfBetter: f['only-if-better'],
      reEvaluate: f['re-evaluate'],
      onEvaluated: (done, total, c) =>
        progress.update(done, total, `${c.path}: accuracy ${c.accuracy.toFixed(4)} (${c.scoredFrom})`),
    });
    out.result(report, () => render(report));
  },
};

function render(r: SelectReport): string {
  const rows: (string | number)[][] = [
    ['rank', 'accuracy', 'loss', 'scored', 'model', 'candidate', 'published'],
  ];
  for (const c of r.candidates) {
    const pub = c.published ? `${c.published.name} v${c.published.version}` : c.passed ? '-' : 'below min';
    rows.push([c.rank, c.accuracy.toFixed(4), c.loss.toFixed(4), c.scoredFrom, c.model, c.path, pub]);
  }
  const lines = r.published.map((p) => `published ${p.name} version ${p.version} at ${p.path}`);
  if (r.incumbent?.kept) {
    lines.push(
      `kept version ${r.incumbent.version} (accuracy ${r.incumbent.accuracy.toFixed(4)}): no candidate beats it`,
    );
  }
  return [table(rows), ...lines].join('\n');
}
