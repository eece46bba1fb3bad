// `distml serve`'s flags as validated values: the model server's, the gateway's, and the rules between them.
import { z } from 'zod';
import {
  BALANCE_POLICIES,
  DEFAULT_MAX_BODY,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_DECODE_BYTES,
  DEFAULT_MAX_DECODE_PIXELS,
  DEFAULT_MAX_IN_FLIGHT,
  DEFAULT_MAX_QUEUE,
} from '../../../serve/index.js';
import { UsageError } from '../../command.js';
import { durationFlag } from '../../duration-flag.js';
import { GATEWAY_OPTIONS } from './gateway-help.js';

const int = (min: number, what: string) =>
  z.coerce
    .number({ message: `must be ${what}` })
    .int(`must be ${what}`)
    .min(min, `must be ${what}`);

const duration = (min: number, max: number, fallback: string) => durationFlag(min, max).default(fallback);

const positive = (what: string) =>
  z.coerce
    .number({ message: `must be ${what}` })
    .positive(`must be ${what}`)
    .max(1e6, 'must be at most 1000000');

// The gateway (replicas, autoscaling, rate limits, shards, ensemble): active with --replicas, --autoscale or
// --ensemble; see src/serve/gateway/.
const gatewayFlags = {
  replicas: int(1, 'a positive integer').max(64, 'must be at most 64').optional(),
  autoscale: z.boolean().default(false),
  min: int(0, 'a whole number (0 or more)').max(64, 'must be at most 64').default(1),
  max: int(1, 'a positive integer').max(64, 'must be at most 64').default(5),
  'target-concurrency': positive('a positive number').default(1),
  'stable-window': duration(100, 3_600_000, '60s'),
  'panic-window': durationFlag(10, 3_600_000).optional(),
  'panic-threshold': z.coerce
    .number({ message: 'must be a number of at least 1' })
    .min(1, 'must be a number of at least 1')
    .max(100, 'must be at most 100')
    .default(2),
  'scale-down-delay': duration(0, 3_600_000, '0s'),
  'scale-interval': duration(10, 60_000, '1s'),
  'queue-timeout': duration(1, 3_600_000, '60s'),
  'probe-interval': duration(10, 60_000, '500ms'),
  balance: z
    .enum(BALANCE_POLICIES as [string, ...string[]], {
      message: `must be one of ${BALANCE_POLICIES.join(', ')}`,
    })
    .default('least-connections'),
  'hash-header': z.string().min(1, 'must name a header').default('x-session-id'),
  'replica-threads': int(1, 'a positive integer').max(256, 'must be at most 256').default(1),
  'api-keys': z.string().min(1, 'must name a file').optional(),
  'rate-limit': z.boolean().default(false),
  'anon-concurrency': int(1, 'a positive integer').max(100_000, 'must be at most 100000').optional(),
  'anon-rps': positive('a positive number of requests per second').optional(),
  'anon-queue': int(0, 'a whole number (0 or more)').max(100_000, 'must be at most 100000').optional(),
  'audit-log': z.string().min(1, 'must name a file').optional(),
  'shard-threshold': int(1, 'a positive integer').max(1_000_000, 'must be at most 1000000').optional(),
  shards: int(2, 'an integer of at least 2').max(64, 'must be at most 64').optional(),
  ensemble: z
    .string()
    .transform((v) => v.split(',').map((m) => m.trim()))
    .refine((ms) => ms.length >= 2 && ms.every((m) => m.length > 0) && new Set(ms).size === ms.length, {
      message: 'must list at least two different model names separated by commas',
    })
    .optional(),
  'ensemble-name': z.string().min(1, 'must name the endpoint').default('ensemble'),
  'max-in-flight': int(1, 'a positive integer')
    .max(1_000_000, 'must be at most 1000000')
    .default(DEFAULT_MAX_IN_FLIGHT),
  'max-connections': int(1, 'a positive integer')
    .max(1_000_000, 'must be at most 1000000')
    .default(DEFAULT_MAX_CONNECTIONS),
  'exit-with-parent': z.boolean().default(false),
  'hash-key': z.string().min(1, 'must be a key, or - to read it from stdin').optional(),
};

export const serveFlags = z.object({
  repo: z
    .string({ message: 'is required: the model repository directory' })
    .min(1, 'must name a directory')
    .optional(),
  model: z
    .string({ message: 'is required: the model name in the repository' })
    .min(1, 'must name a model')
    .optional(),
  host: z.string().min(1, 'must name an address').default('127.0.0.1'),
  port: int(0, 'a port number in [0, 65535]').max(65535, 'must be a port number in [0, 65535]').default(8080),
  'max-batch': int(1, 'a positive integer').max(4096, 'must be at most 4096').default(64),
  'max-delay-ms': int(0, 'a whole number of milliseconds (0 or more)')
    .max(10_000, 'must be at most 10000')
    .default(0),
  'max-body': int(1024, 'a number of bytes, at least 1024').default(DEFAULT_MAX_BODY),
  'max-decode-pixels': int(1, 'a positive number of pixels').default(DEFAULT_MAX_DECODE_PIXELS),
  'max-decode-bytes': int(1024, 'a number of bytes, at least 1024').default(DEFAULT_MAX_DECODE_BYTES),
  'decode-threads': int(1, 'a positive integer').max(64, 'must be at most 64').default(1),
  'max-queue': int(1, 'a positive integer')
    .max(1_000_000, 'must be at most 1000000')
    .default(DEFAULT_MAX_QUEUE),
  'queue-deadline': duration(1, 3_600_000, '30s'),
  'keep-versions': int(1, 'a positive integer').max(100, 'must be at most 100').default(2),
  threads: int(1, 'a positive integer').max(256, 'must be at most 256').optional(),
  'wait-for-model': durationFlag(0).optional(),
  ...gatewayFlags,
});

export type ServeFlags = z.infer<typeof serveFlags>;

/** True when the flags ask for the gateway; rejects gateway flags that would be silently ignored. */
export function checkGatewayFlags(f: ServeFlags, given: Record<string, unknown>): boolean {
  const gateway = f.replicas !== undefined || f.autoscale || f.ensemble !== undefined;
  if (f.replicas !== undefined && f.autoscale)
    throw new UsageError(
      '--replicas: fixes the replica count; leave it out with --autoscale (use --min/--max)',
    );
  if (f.autoscale && f.min > f.max)
    throw new UsageError(`--min: must be at most --max (${f.max}) (got ${f.min})`);
  if (f.ensemble && f.model)
    throw new UsageError('--model: leave it out with --ensemble, which names the models');
  if (gateway && f.threads !== undefined)
    throw new UsageError('--threads: use --replica-threads with a gateway');
  if (!gateway) {
    const set = Object.keys(GATEWAY_OPTIONS).filter(
      (k) => k !== 'exit-with-parent' && k !== 'hash-key' && given[k] !== undefined,
    );
    if (set.length > 0)
      throw new UsageError(`--${set[0]}: is a gateway flag; add --replicas N, --autoscale or --ensemble A,B`);
  }
  return gateway;
}
