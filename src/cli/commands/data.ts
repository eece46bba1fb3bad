import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import {
  CLASS_NAMES,
  DataError,
  FILE_NAMES,
  IMAGE_HEIGHT,
  IMAGE_WIDTH,
  prepareFashionMnist,
  resolveFashionMnist,
  splitDataset,
  type PrepareReport,
} from '../../data/index.js';
import { parseFlags, type Command } from '../command.js';
import { cacheFlag, cacheOption, dataSourceFlags, dataSourceOptions } from '../data-source-flags.js';
import { table } from '../output.js';
import { renderImage } from '../render-image.js';

const prepareFlags = z.object({
  ...dataSourceFlags,
  cache: cacheFlag,
  'on-corrupt': z.enum(['skip', 'fail'], { message: 'must be skip or fail' }).default('skip'),
  out: z.string().min(1, 'must name a directory').optional(),
});

export const dataPrepare: Command = {
  path: ['data', 'prepare'],
  summary: 'find Fashion-MNIST, decode and scale it, fill the cache, and report counts and fingerprint',
  options: {
    ...dataSourceOptions,
    cache: cacheOption,
    'on-corrupt': {
      type: 'string',
      valueName: 'skip|fail',
      defaultText: 'skip',
      description: 'a record that cannot be decoded is skipped and counted, or fails the command',
    },
    out: {
      type: 'string',
      valueName: 'DIR',
      description:
        "also copy the dataset's four IDX files there (a workflow step's dataset artifact; --source DIR reads them back)",
    },
  },
  async run({ values, global, out }) {
    const flags = parseFlags(prepareFlags, values);
    const download = out.progress('download');
    const decode = out.progress('decode');
    const report = await prepareFashionMnist({
      source: flags.source,
      urlBase: flags['url-base'],
      workspace: global.workspace,
      cache: flags.cache,
      onCorrupt: flags['on-corrupt'],
      onDownload: (p) => download.update(p.received, p.total, p.file.split('/').pop()),
      onProgress: (p) => decode.update(p.done, p.total, p.split),
    });
    if (flags.out !== undefined) copyDataset(report.source.dir, flags.out);
    out.result(report, () => humanReport(report));
  },
};

/** The four IDX files of `dir` (each raw or .gz, as found) copied into `out`. */
function copyDataset(dir: string, out: string): void {
  mkdirSync(out, { recursive: true });
  for (const split of Object.values(FILE_NAMES))
    for (const base of Object.values(split)) {
      const name = [`${base}.gz`, base].find((n) => existsSync(join(dir, n)));
      if (name === undefined) throw new DataError('DATA_NOT_FOUND', `${base} is not in ${dir}`);
      copyFileSync(join(dir, name), join(out, name));
    }
}

function humanReport(r: PrepareReport): string {
  const rows: (string | number)[][] = [['split', 'images', 'skipped', ...CLASS_NAMES]];
  for (const s of ['train', 'test'] as const)
    rows.push([s, r[s].count, r[s].skipped, ...r[s].labelHistogram]);
  const cache =
    r.cache.kind === 'none' ? 'no cache' : `${r.cache.kind} cache ${r.cache.hit ? 'hit' : 'filled'}`;
  return [
    `Fashion-MNIST from ${r.source.dir} (${r.source.kind})`,
    table(rows),
    `fingerprint ${r.fingerprint}`,
    `${cache}, ${r.seconds.toFixed(2)} s`,
  ].join('\n');
}

const showFlags = z.object({
  ...dataSourceFlags,
  split: z.enum(['train', 'test'], { message: 'must be train or test' }).default('train'),
  index: z.coerce
    .number({ message: 'must be a number' })
    .int('must be an integer')
    .min(0, 'must be 0 or more')
    .default(0),
});

export const dataShow: Command = {
  path: ['data', 'show'],
  summary: 'draw one image in the terminal with its class name',
  options: {
    ...dataSourceOptions,
    split: { type: 'string', valueName: 'train|test', defaultText: 'train', description: 'which split' },
    index: {
      type: 'string',
      valueName: 'I',
      defaultText: '0',
      description: 'record number within the split',
    },
  },
  async run({ values, global, out }) {
    const flags = parseFlags(showFlags, values);
    const resolved = await resolveFashionMnist({
      source: flags.source,
      urlBase: flags['url-base'],
      workspace: global.workspace,
    });
    const ds = splitDataset(flags.split, resolved[flags.split], { onCorrupt: 'fail' });
    let found: { image: Uint8Array; label: number } | undefined;
    let count = 0;
    for await (const e of ds) {
      count++;
      if (e.index === flags.index) {
        found = { image: e.image, label: e.label };
        break;
      }
    }
    if (!found) {
      throw new DataError(
        'DATA_BAD_OPTION',
        `--index ${flags.index} is past the end of the ${flags.split} split (${count} images); use 0-${count - 1}`,
      );
    }
    const img = found;
    const className = CLASS_NAMES[img.label] ?? '?';
    const color = Boolean(process.stdout.isTTY) && !process.env['NO_COLOR'];
    out.result(
      { split: flags.split, index: flags.index, label: img.label, className, pixels: Array.from(img.image) },
      () =>
        `${renderImage(img.image, IMAGE_WIDTH, IMAGE_HEIGHT, color)}\n${flags.split}[${flags.index}]: ${img.label} ${className}`,
    );
  },
};
