import { z } from 'zod';
import { flag } from './flags.js';

/** --source and --url-base, shared by every command that reads Fashion-MNIST. */
export const dataSourceFlags = {
  source: flag(
    z.string().min(1, 'must name auto, debian, url or a directory').default('auto'),
    "where the data comes from: auto tries Debian's dataset-fashion-mnist, then an earlier download in the workspace, then the canonical URL (SHA-256 pinned)",
    { valueName: 'auto|debian|url|DIR' },
  ),
  'url-base': flag(
    z.string().url('must be an http(s) URL').optional(),
    'download from this mirror instead of the canonical URL (it must serve the canonical .gz files)',
    { valueName: 'URL' },
  ),
};

/** --cache, shared by every command that reads the preprocessed data. */
export const cacheFlag = flag(
  z.enum(['memory', 'disk', 'none'], { message: 'must be memory, disk or none' }).default('disk'),
  'keep the preprocessed data: disk persists across runs in the workspace',
);

/** --threads of the commands that compute on the data without training (evaluate, select). */
export const threadsFlag = flag(
  z.coerce
    .number({ message: 'must be a positive integer' })
    .int('must be a positive integer')
    .positive('must be a positive integer')
    .optional(),
  'libtorch intra-op threads',
  { valueName: 'T', defaultText: '$DISTML_THREADS, else all cores' },
);
