// The flags of `distml serve`, declared once: the model server's, then the gateway's (replicas, autoscaling,
// rate limits, shards, ensemble: active with --replicas, --autoscale or --ensemble; see src/serve/gateway/),
// and the rules between them.
import { z } from 'zod';
import {
  BALANCE_POLICIES,
  DEFAULT_ANONYMOUS,
  DEFAULT_MAX_BODY,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_DECODE_BYTES,
  DEFAULT_MAX_DECODE_PIXELS,
  DEFAULT_MAX_IN_FLIGHT,
  DEFAULT_MAX_QUEUE,
} from '../../../serve/index.js';
import { flag, flagSet, type FlagValues } from '../../command.js';
import { durationFlag } from '../../duration-flag.js';
import { submitFlags } from '../submit.js';

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

const serverFlags = {
  repo: flag(
    z
      .string({ message: 'is required: the model repository directory' })
      .min(1, 'must name a directory')
      .optional(),
    'model repository directory',
    { valueName: 'REPO' },
  ),
  model: flag(
    z
      .string({ message: 'is required: the model name in the repository' })
      .min(1, 'must name a model')
      .optional(),
    'model name (folder) in the repository',
    { valueName: 'NAME' },
  ),
  host: flag(z.string().min(1, 'must name an address').default('127.0.0.1'), 'address to listen on', {
    valueName: 'ADDR',
  }),
  port: flag(
    int(0, 'a port number in [0, 65535]').max(65535, 'must be a port number in [0, 65535]').default(8080),
    'port to listen on (0 picks a free one)',
    { valueName: 'P' },
  ),
  'max-batch': flag(
    int(1, 'a positive integer').max(4096, 'must be at most 4096').default(64),
    'most examples per forward pass',
    { valueName: 'N' },
  ),
  'max-delay-ms': flag(
    int(0, 'a whole number of milliseconds (0 or more)').max(10_000, 'must be at most 10000').default(0),
    'longest an idle model waits to fill a batch',
    { valueName: 'MS' },
  ),
  'max-body': flag(
    int(1024, 'a number of bytes, at least 1024').default(DEFAULT_MAX_BODY),
    'largest request body (413 beyond)',
    { valueName: 'BYTES' },
  ),
  'max-decode-pixels': flag(
    int(1, 'a positive number of pixels').default(DEFAULT_MAX_DECODE_PIXELS),
    "a request's images, width x height summed, read from their headers (413 beyond)",
    { valueName: 'PX' },
  ),
  'max-decode-bytes': flag(
    int(1024, 'a number of bytes, at least 1024').default(DEFAULT_MAX_DECODE_BYTES),
    "bytes the decoders may write for one request's images (413 beyond)",
    { valueName: 'BYTES' },
  ),
  'decode-threads': flag(
    int(1, 'a positive integer').max(64, 'must be at most 64').default(1),
    'PNG decode threads (JPEG decodes on the libuv pool), so the event loop keeps answering',
    { valueName: 'N' },
  ),
  'max-queue': flag(
    int(1, 'a positive integer').max(1_000_000, 'must be at most 1000000').default(DEFAULT_MAX_QUEUE),
    'examples waiting for the model; beyond, 503 with Retry-After',
    { valueName: 'N' },
  ),
  'queue-deadline': flag(
    duration(1, 3_600_000, '30s'),
    'longest a request waits for the model to start on it; beyond, 503 with Retry-After',
    { valueName: 'DUR' },
  ),
  'keep-versions': flag(
    int(1, 'a positive integer').max(100, 'must be at most 100').default(2),
    'newest versions kept loaded and reachable by /versions/V',
    { valueName: 'K' },
  ),
  threads: flag(
    int(1, 'a positive integer').max(256, 'must be at most 256').optional(),
    'libtorch intra-op threads (one core is left to the event loop: HTTP, JSON, decoding)',
    { valueName: 'T', defaultText: 'one less than $DISTML_THREADS or the cores, at least 1' },
  ),
  'wait-for-model': flag(
    durationFlag(0).optional(),
    'start even if REPO does not exist yet and wait this long (e.g. 10m) for a loadable version; else exit 1',
    { valueName: 'DUR' },
  ),
};

const gatewayFlags = {
  replicas: flag(
    int(1, 'a positive integer').max(64, 'must be at most 64').optional(),
    'gateway: run N replica processes behind a load balancer',
    { valueName: 'N' },
  ),
  autoscale: flag(
    z.boolean().default(false),
    'gateway: scale replicas on concurrency between --min and --max (KServe/Knative KPA)',
  ),
  min: flag(
    int(0, 'a whole number (0 or more)').max(64, 'must be at most 64').default(1),
    'autoscale: fewest replicas (0 = scale to zero)',
    { valueName: 'N' },
  ),
  max: flag(
    int(1, 'a positive integer').max(64, 'must be at most 64').default(5),
    'autoscale: most replicas',
    { valueName: 'N' },
  ),
  'target-concurrency': flag(
    positive('a positive number').default(1),
    'autoscale: requests in flight per replica to aim for (KServe scaleTarget)',
    { valueName: 'C' },
  ),
  'stable-window': flag(
    duration(100, 3_600_000, '60s'),
    'autoscale: averaging window for normal decisions (e.g. 60s, 5s, 800ms)',
    { valueName: 'DUR' },
  ),
  'panic-window': flag(
    durationFlag(10, 3_600_000).optional(),
    'autoscale: short window that scales up fast in a burst',
    { valueName: 'DUR', defaultText: '10% of stable' },
  ),
  'panic-threshold': flag(
    z.coerce
      .number({ message: 'must be a number of at least 1' })
      .min(1, 'must be a number of at least 1')
      .max(100, 'must be at most 100')
      .default(2),
    'autoscale: panic when panic-window concurrency is X times what ready replicas take',
    { valueName: 'X' },
  ),
  'scale-down-delay': flag(
    duration(0, 3_600_000, '0s'),
    'autoscale: hold the highest recommendation this long before scaling down',
    { valueName: 'DUR' },
  ),
  'scale-interval': flag(duration(10, 60_000, '1s'), 'autoscale: decision tick', { valueName: 'DUR' }),
  'queue-timeout': flag(
    duration(1, 3_600_000, '60s'),
    'gateway: longest a request waits for a ready replica (e.g. from zero) before 503',
    { valueName: 'DUR' },
  ),
  'probe-interval': flag(duration(10, 60_000, '500ms'), 'gateway: readiness probe period per replica', {
    valueName: 'DUR',
  }),
  balance: flag(
    z
      .enum(BALANCE_POLICIES as [string, ...string[]], {
        message: `must be one of ${BALANCE_POLICIES.join(', ')}`,
      })
      .default('least-connections'),
    `gateway: ${BALANCE_POLICIES.join(' | ')}`,
    { valueName: 'POLICY' },
  ),
  'hash-header': flag(
    z.string().min(1, 'must name a header').default('x-session-id'),
    'consistent-hash key header (else the client address)',
    { valueName: 'H' },
  ),
  'replica-threads': flag(
    int(1, 'a positive integer').max(256, 'must be at most 256').default(1),
    'gateway: libtorch threads per replica',
    { valueName: 'T' },
  ),
  'api-keys': flag(
    z.string().min(1, 'must name a file').optional(),
    'gateway: rate-limit tiers and SHA-256 key hashes (YAML/JSON); turns on rate limits',
    { valueName: 'FILE' },
  ),
  'rate-limit': flag(z.boolean().default(false), 'gateway: rate-limit anonymous clients (no keys file)'),
  'anon-concurrency': flag(
    int(1, 'a positive integer').max(100_000, 'must be at most 100000').optional(),
    'rate limit: requests at once per anonymous client',
    { valueName: 'N', defaultText: String(DEFAULT_ANONYMOUS.concurrency) },
  ),
  'anon-rps': flag(
    positive('a positive number of requests per second').optional(),
    'rate limit: requests/s per anonymous client (token bucket, burst 2R)',
    { valueName: 'R', defaultText: String(DEFAULT_ANONYMOUS.rps) },
  ),
  'anon-queue': flag(
    int(0, 'a whole number (0 or more)').max(100_000, 'must be at most 100000').optional(),
    'rate limit: requests an anonymous client may have waiting before 429',
    { valueName: 'N', defaultText: String(DEFAULT_ANONYMOUS.queue) },
  ),
  'audit-log': flag(
    z.string().min(1, 'must name a file').optional(),
    'rate limit: per-client request counts (JSON lines, hashed ids)',
    { valueName: 'FILE', defaultText: 'WORKSPACE/logs/gateway-audit.jsonl' },
  ),
  'shard-threshold': flag(
    int(1, 'a positive integer').max(1_000_000, 'must be at most 1000000').optional(),
    'gateway: split requests of more than N examples across replicas',
    { valueName: 'N' },
  ),
  shards: flag(
    int(2, 'an integer of at least 2').max(64, 'must be at most 64').optional(),
    'sub-requests per split',
    { valueName: 'S', defaultText: 'ready replicas' },
  ),
  ensemble: flag(
    z
      .string()
      .transform((v) => v.split(',').map((m) => m.trim()))
      .refine((ms) => ms.length >= 2 && ms.every((m) => m.length > 0) && new Set(ms).size === ms.length, {
        message: 'must list at least two different model names separated by commas',
      })
      .optional(),
    'gateway: serve several models and average them at /v1/models/ensemble:predict',
    { valueName: 'A,B' },
  ),
  'ensemble-name': flag(
    z.string().min(1, 'must name the endpoint').default('ensemble'),
    'model name of the averaging endpoint',
    { valueName: 'NAME' },
  ),
  'max-in-flight': flag(
    int(1, 'a positive integer').max(1_000_000, 'must be at most 1000000').default(DEFAULT_MAX_IN_FLIGHT),
    'gateway: model requests worked on at once; beyond, 503 with Retry-After',
    { valueName: 'N' },
  ),
  'max-connections': flag(
    int(1, 'a positive integer').max(1_000_000, 'must be at most 1000000').default(DEFAULT_MAX_CONNECTIONS),
    'gateway: open client connections; beyond, new ones are closed',
    { valueName: 'N' },
  ),
  'exit-with-parent': flag(z.boolean().default(false), 'exit when stdin closes (replicas of a gateway)'),
  'hash-key': flag(
    z.string().min(1, 'must be a key, or - to read it from stdin').optional(),
    'print the SHA-256 of an API key for --api-keys and exit (- reads it from stdin)',
    { valueName: 'KEY' },
  ),
};

const declarations = { ...serverFlags, ...gatewayFlags, ...submitFlags };
type Values = FlagValues<typeof declarations>;

/** True when the flags ask for the gateway (replicas in front of `distml serve` processes). */
export const isGateway = (f: Values) => f.replicas !== undefined || f.autoscale || f.ensemble !== undefined;

/** Gateway flags other than the two a replica or `--hash-key` use: set without a gateway, they would be ignored. */
const GATEWAY_ONLY = Object.keys(gatewayFlags).filter((k) => k !== 'exit-with-parent' && k !== 'hash-key');

/** `--hash-key` prints a hash and exits: the rules about serving do not apply to it. */
const serving =
  (rule: (f: Values, given: Record<string, unknown>) => string | undefined) =>
  (f: Values, given: Record<string, unknown>) => (f['hash-key'] !== undefined ? undefined : rule(f, given));

export const serveFlags = flagSet(declarations, [
  serving((f) =>
    f.replicas !== undefined && f.autoscale
      ? '--replicas: fixes the replica count; leave it out with --autoscale (use --min/--max)'
      : undefined,
  ),
  serving((f) =>
    f.autoscale && f.min > f.max ? `--min: must be at most --max (${f.max}) (got ${f.min})` : undefined,
  ),
  serving((f) =>
    f.ensemble && f.model ? '--model: leave it out with --ensemble, which names the models' : undefined,
  ),
  serving((f) =>
    isGateway(f) && f.threads !== undefined ? '--threads: use --replica-threads with a gateway' : undefined,
  ),
  serving((f, given) => {
    const set = isGateway(f) ? undefined : GATEWAY_ONLY.find((k) => given[k] !== undefined);
    return set && `--${set}: is a gateway flag; add --replicas N, --autoscale or --ensemble A,B`;
  }),
]);

export type ServeFlags = Values;
