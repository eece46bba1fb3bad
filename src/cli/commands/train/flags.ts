import { z } from 'zod';
import { MODEL_NAMES } from '../../../models/index.js';
import { flag, flagSet, type FlagValues } from '../../command.js';
import { DEFAULT_PREEMPT_GRACE_MS } from '../../../train/index.js';
import { cacheFlag, dataSourceFlags } from '../../data-source-flags.js';
import { submitFlags } from '../submit.js';

const positiveInt = (what = 'a positive integer') =>
  z.coerce
    .number({ message: `must be ${what}` })
    .int(`must be ${what}`)
    .positive(`must be ${what}`);

const wholeNumber = () =>
  z.coerce.number({ message: 'must be an integer' }).int('must be an integer').min(0, 'must be 0 or more');

const seconds = () =>
  z.coerce.number({ message: 'must be a number of seconds' }).positive('must be positive');

const declarations = {
  model: flag(
    z.enum(MODEL_NAMES, { message: `must be one of ${MODEL_NAMES.join(', ')}` }),
    "which of the book's models",
  ),
  epochs: flag(positiveInt(), 'number of epochs', { valueName: 'E' }),
  'steps-per-epoch': flag(positiveInt().optional(), 'steps per epoch (the book uses 70)', {
    valueName: 'S',
    defaultText: 'one pass over the data',
  }),
  'batch-size': flag(positiveInt().default(64), 'examples per step', { valueName: 'N' }),
  threads: flag(positiveInt().max(256, 'must be at most 256').optional(), 'libtorch intra-op threads', {
    valueName: 'T',
    defaultText: '$DISTML_THREADS, else all cores',
  }),
  seed: flag(wholeNumber().default(1), 'seeds initialisation, dropout and shuffling', { valueName: 'N' }),
  lr: flag(
    z.coerce
      .number({ message: 'must be a number' })
      .positive('must be positive')
      .max(10, 'must be at most 10')
      .default(0.001),
    'base learning rate (used by --lr-schedule constant)',
    { valueName: 'RATE' },
  ),
  'lr-schedule': flag(
    z.enum(['book', 'constant'], { message: 'must be book or constant' }).default('book'),
    'learning-rate schedule',
  ),
  out: flag(
    z
      .string({ message: 'is required: the directory for the trained model package' })
      .min(1, 'must name a directory'),
    'where to write the model package (model.json + weights.safetensors)',
    { valueName: 'DIR' },
  ),
  'checkpoint-dir': flag(z.string().min(1, 'must name a directory').optional(), 'where checkpoints go', {
    valueName: 'DIR',
    defaultText: '<workspace>/checkpoints/<out name>-<model>-seed<seed>-<hash of the out path>',
  }),
  'checkpoint-every': flag(positiveInt().optional(), 'also checkpoint every N steps', { valueName: 'N' }),
  resume: flag(
    z.boolean().default(false),
    'continue from the newest checkpoint that validates (damaged ones are skipped, with a note)',
  ),
  'early-stopping': flag(
    positiveInt('a positive integer (epochs of patience)').optional(),
    'stop after P epochs without validation-accuracy gain',
    { valueName: 'P' },
  ),
  cache: cacheFlag,
  workers: flag(
    positiveInt().max(64, 'must be at most 64').optional(),
    'data-parallel worker processes (allreduce over Gloo); global batch = N x --batch-size',
    { valueName: 'N' },
  ),
  'min-workers': flag(positiveInt().optional(), 'elastic: keep training while at least M workers live', {
    valueName: 'M',
    defaultText: '--workers',
  }),
  'max-workers': flag(
    positiveInt().max(64, 'must be at most 64').optional(),
    'elastic: admit workers that join later or are asked for (--control-file), up to X',
    { valueName: 'X', defaultText: '--workers' },
  ),
  'master-port': flag(
    z.coerce
      .number({ message: 'must be a port number' })
      .int('must be a port number')
      .min(0, 'must be a port number')
      .max(65535, 'must be a port number')
      .default(0),
    "rendezvous store port (remote workers join with MASTER_ADDR/MASTER_PORT, DISTML_ELASTIC=1 and the job's DISTML_JOB_SECRET)",
    { valueName: 'PORT', defaultText: '0 (any free port)' },
  ),
  'master-addr': flag(
    z
      .string()
      .min(1, 'must name an address of this host')
      .refine(
        (a) => !['0.0.0.0', '::', '[::]'].includes(a),
        'must be an address of this host that the other hosts reach, not a wildcard: workers hand it to their peers',
      )
      .default('127.0.0.1'),
    'address the rendezvous store and parameter servers listen on; a job spanning hosts names one the ' +
      'other hosts reach (they also need the same DISTML_JOB_SECRET in their environment)',
    { valueName: 'ADDR', defaultText: '127.0.0.1 (this host only)' },
  ),
  'heartbeat-timeout': flag(seconds().default(10), 'a worker silent this long is dropped', {
    valueName: 'SECONDS',
  }),
  'comm-timeout': flag(
    seconds().default(30),
    'bounds rendezvous and each allreduce (a stalled network is retried, then a failure)',
    { valueName: 'SECONDS' },
  ),
  'max-restarts': flag(
    wholeNumber().optional(),
    'replace a local worker that dies, N times per job; survivors go on, the newcomer gets their state',
    { valueName: 'N', defaultText: '--workers' },
  ),
  'preempt-grace': flag(
    seconds().default(DEFAULT_PREEMPT_GRACE_MS / 1000),
    'SIGTERM preempts: checkpoint at the next step boundary within this, exit 75; the same command resumes',
    { valueName: 'SECONDS' },
  ),
  'control-file': flag(
    z.string().min(1, 'must name a file').optional(),
    'elastic: write {"workers": N} here (then SIGUSR2, or wait 0.5 s) to grow or shrink the running job',
    { valueName: 'FILE', defaultText: '<out>.control.json' },
  ),
  strategy: flag(
    z
      .enum(['allreduce', 'parameter-server'], { message: 'must be allreduce or parameter-server' })
      .default('allreduce'),
    'with --workers: synchronous allreduce over Gloo, or asynchronous workers around parameter servers',
  ),
  ps: flag(
    positiveInt().max(64, 'must be at most 64').default(1),
    'parameter-server processes; each holds 1/P of the parameters and their Adam state',
    { valueName: 'P' },
  ),
  staleness: flag(
    wholeNumber().optional(),
    'parameter server: a worker may run at most S steps ahead of the slowest',
    { valueName: 'S', defaultText: 'unbounded' },
  ),
  ...dataSourceFlags,
  ...submitFlags,
};

/** The flags of `distml train`, declared once: validation, help and the rules between them. */
/** Flags the parameter-server strategy does not take, and why. */
const NOT_WITH_PS: [keyof typeof declarations, string][] = [
  ['min-workers', 'elastic membership is an allreduce feature'],
  ['max-workers', 'elastic membership is an allreduce feature'],
  ['early-stopping', 'it needs one worker'],
  ['resume', 'parameter-server jobs do not checkpoint yet'],
  ['checkpoint-every', 'parameter-server jobs do not checkpoint yet'],
];

// Every rule is checked before anything starts, so a submitted training is refused here (exit 2), not by
// its step on the server.
export const trainFlags = flagSet(declarations, [
  (f, given) =>
    f.strategy !== 'parameter-server' && (given['ps'] !== undefined || f.staleness !== undefined)
      ? '--ps and --staleness configure --strategy parameter-server; add it or drop them'
      : undefined,
  (f) => {
    if (f.strategy !== 'parameter-server') return undefined;
    const set = NOT_WITH_PS.find(([k]) => f[k] !== undefined && f[k] !== false);
    return set && `--${set[0]}: not available with --strategy parameter-server (${set[1]})`;
  },
  (f) =>
    f['early-stopping'] &&
    ((f.workers ?? 1) > 1 || f['min-workers'] !== undefined || f['max-workers'] !== undefined)
      ? '--early-stopping works with one worker only (not with --workers or a cluster environment)'
      : undefined,
  (f) => {
    const workers = f.workers ?? f['min-workers'] ?? 1;
    const min = f['min-workers'] ?? workers;
    const max = f['max-workers'] ?? Math.max(workers, min);
    return min > workers || workers > max
      ? `need --min-workers <= --workers <= --max-workers (got ${min} <= ${workers} <= ${max})`
      : undefined;
  },
]);

export type TrainFlags = FlagValues<typeof declarations>;
