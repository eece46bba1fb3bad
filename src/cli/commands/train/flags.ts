import { z } from 'zod';
import { MODEL_NAMES } from '../../../models/index.js';
import { DEFAULT_PREEMPT_GRACE_MS } from '../../../train/index.js';
import { cacheFlag, dataSourceFlags } from '../../data-source-flags.js';

const positiveInt = (what = 'a positive integer') =>
  z.coerce
    .number({ message: `must be ${what}` })
    .int(`must be ${what}`)
    .positive(`must be ${what}`);

/** The flags of `distml train`, parsed at the edge. */
export const trainFlags = z.object({
  ...dataSourceFlags,
  model: z.enum(MODEL_NAMES, { message: `must be one of ${MODEL_NAMES.join(', ')}` }),
  epochs: positiveInt(),
  'steps-per-epoch': positiveInt().optional(),
  'batch-size': positiveInt().default(64),
  threads: positiveInt().max(256, 'must be at most 256').optional(),
  seed: z.coerce
    .number({ message: 'must be an integer' })
    .int('must be an integer')
    .min(0, 'must be 0 or more')
    .default(1),
  lr: z.coerce
    .number({ message: 'must be a number' })
    .positive('must be positive')
    .max(10, 'must be at most 10')
    .default(0.001),
  'lr-schedule': z.enum(['book', 'constant'], { message: 'must be book or constant' }).default('book'),
  out: z
    .string({ message: 'is required: the directory for the trained model package' })
    .min(1, 'must name a directory'),
  'checkpoint-dir': z.string().min(1, 'must name a directory').optional(),
  'checkpoint-every': positiveInt().optional(),
  resume: z.boolean().default(false),
  'early-stopping': positiveInt('a positive integer (epochs of patience)').optional(),
  cache: cacheFlag,
  workers: positiveInt().max(64, 'must be at most 64').optional(),
  'min-workers': positiveInt().optional(),
  'max-workers': positiveInt().max(64, 'must be at most 64').optional(),
  'master-port': z.coerce
    .number({ message: 'must be a port number' })
    .int('must be a port number')
    .min(0, 'must be a port number')
    .max(65535, 'must be a port number')
    .default(0),
  'master-addr': z
    .string()
    .min(1, 'must name an address of this host')
    .refine(
      (a) => !['0.0.0.0', '::', '[::]'].includes(a),
      'must be an address of this host that the other hosts reach, not a wildcard: workers hand it to their peers',
    )
    .default('127.0.0.1'),
  'heartbeat-timeout': z.coerce
    .number({ message: 'must be a number of seconds' })
    .positive('must be positive')
    .default(10),
  'comm-timeout': z.coerce
    .number({ message: 'must be a number of seconds' })
    .positive('must be positive')
    .default(30),
  'max-restarts': z.coerce
    .number({ message: 'must be an integer' })
    .int('must be an integer')
    .min(0, 'must be 0 or more')
    .optional(),
  'preempt-grace': z.coerce
    .number({ message: 'must be a number of seconds' })
    .positive('must be positive')
    .default(DEFAULT_PREEMPT_GRACE_MS / 1000),
  'control-file': z.string().min(1, 'must name a file').optional(),
  strategy: z
    .enum(['allreduce', 'parameter-server'], { message: 'must be allreduce or parameter-server' })
    .default('allreduce'),
  ps: positiveInt().max(64, 'must be at most 64').optional(),
  staleness: z.coerce
    .number({ message: 'must be an integer' })
    .int('must be an integer')
    .min(0, 'must be 0 or more')
    .optional(),
});

export type TrainFlags = z.infer<typeof trainFlags>;
