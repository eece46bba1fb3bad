import { z } from 'zod';
import type { OptionSpec } from './command.js';

/** --source and --url-base, shared by every command that reads Fashion-MNIST. */
export const dataSourceOptions: Record<string, OptionSpec> = {
  source: {
    type: 'string',
    valueName: 'auto|debian|url|DIR',
    defaultText: 'auto',
    description:
      "where the data comes from: auto tries Debian's dataset-fashion-mnist, then an earlier download in the workspace, then the canonical URL (SHA-256 pinned)",
  },
  'url-base': {
    type: 'string',
    valueName: 'URL',
    description:
      'download from this mirror instead of the canonical URL (it must serve the canonical .gz files)',
  },
};

export const dataSourceFlags = {
  source: z.string().min(1, 'must name auto, debian, url or a directory').default('auto'),
  'url-base': z.string().url('must be an http(s) URL').optional(),
};

export const cacheOption: OptionSpec = {
  type: 'string',
  valueName: 'memory|disk|none',
  defaultText: 'disk',
  description: 'keep the preprocessed data: disk persists across runs in the workspace',
};

export const cacheFlag = z
  .enum(['memory', 'disk', 'none'], { message: 'must be memory, disk or none' })
  .default('disk');
