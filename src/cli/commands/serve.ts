import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { setNumThreads, threadBudget } from '../../engine/index.js';
import {
  anonymousOnly,
  BALANCE_POLICIES,
  DEFAULT_ANONYMOUS,
  DEFAULT_MAX_BODY,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_DECODE_BYTES,
  DEFAULT_MAX_DECODE_PIXELS,
  DEFAULT_MAX_IN_FLIGHT,
  DEFAULT_MAX_QUEUE,
  Gateway,
  hashKey,
  loadAccessConfig,
  ModelServer,
  type AccessConfig,
  type GatewayOptions,
} from '../../serve/index.js';
import { parseFlags, UsageError, type Command, type CommandContext } from '../command.js';
import { durationFlag } from '../duration-flag.js';
import type { Output } from '../output.js';
import { reportServing } from './serve-stats.js';
import { checkRepository, watchModelWait } from './serve-wait.js';

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

const serveFlags = z.object({
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

type ServeFlags = z.infer<typeof serveFlags>;

const GATEWAY_OPTIONS: Command['options'] = {
  replicas: {
    type: 'string',
    valueName: 'N',
    description: 'gateway: run N replica processes behind a load balancer',
  },
  autoscale: {
    type: 'boolean',
    description: 'gateway: scale replicas on concurrency between --min and --max (KServe/Knative KPA)',
  },
  min: {
    type: 'string',
    valueName: 'N',
    defaultText: '1',
    description: 'autoscale: fewest replicas (0 = scale to zero)',
  },
  max: { type: 'string', valueName: 'N', defaultText: '5', description: 'autoscale: most replicas' },
  'target-concurrency': {
    type: 'string',
    valueName: 'C',
    defaultText: '1',
    description: 'autoscale: requests in flight per replica to aim for (KServe scaleTarget)',
  },
  'stable-window': {
    type: 'string',
    valueName: 'DUR',
    defaultText: '60s',
    description: 'autoscale: averaging window for normal decisions (e.g. 60s, 5s, 800ms)',
  },
  'panic-window': {
    type: 'string',
    valueName: 'DUR',
    defaultText: '10% of stable',
    description: 'autoscale: short window that scales up fast in a burst',
  },
  'panic-threshold': {
    type: 'string',
    valueName: 'X',
    defaultText: '2',
    description: 'autoscale: panic when panic-window concurrency is X times what ready replicas take',
  },
  'scale-down-delay': {
    type: 'string',
    valueName: 'DUR',
    defaultText: '0s',
    description: 'autoscale: hold the highest recommendation this long before scaling down',
  },
  'scale-interval': {
    type: 'string',
    valueName: 'DUR',
    defaultText: '1s',
    description: 'autoscale: decision tick',
  },
  'queue-timeout': {
    type: 'string',
    valueName: 'DUR',
    defaultText: '60s',
    description: 'gateway: longest a request waits for a ready replica (e.g. from zero) before 503',
  },
  'probe-interval': {
    type: 'string',
    valueName: 'DUR',
    defaultText: '500ms',
    description: 'gateway: readiness probe period per replica',
  },
  balance: {
    type: 'string',
    valueName: 'POLICY',
    defaultText: 'least-connections',
    description: `gateway: ${BALANCE_POLICIES.join(' | ')}`,
  },
  'hash-header': {
    type: 'string',
    valueName: 'H',
    defaultText: 'x-session-id',
    description: 'consistent-hash key header (else the client address)',
  },
  'replica-threads': {
    type: 'string',
    valueName: 'T',
    defaultText: '1',
    description: 'gateway: libtorch threads per replica',
  },
  'api-keys': {
    type: 'string',
    valueName: 'FILE',
    description: 'gateway: rate-limit tiers and SHA-256 key hashes (YAML/JSON); turns on rate limits',
  },
  'rate-limit': { type: 'boolean', description: 'gateway: rate-limit anonymous clients (no keys file)' },
  'anon-concurrency': {
    type: 'string',
    valueName: 'N',
    defaultText: String(DEFAULT_ANONYMOUS.concurrency),
    description: 'rate limit: requests at once per anonymous client',
  },
  'anon-rps': {
    type: 'string',
    valueName: 'R',
    defaultText: String(DEFAULT_ANONYMOUS.rps),
    description: 'rate limit: requests/s per anonymous client (token bucket, burst 2R)',
  },
  'anon-queue': {
    type: 'string',
    valueName: 'N',
    defaultText: String(DEFAULT_ANONYMOUS.queue),
    description: 'rate limit: requests an anonymous client may have waiting before 429',
  },
  'audit-log': {
    type: 'string',
    valueName: 'FILE',
    defaultText: 'WORKSPACE/logs/gateway-audit.jsonl',
    description: 'rate limit: per-client request counts (JSON lines, hashed ids)',
  },
  'shard-threshold': {
    type: 'string',
    valueName: 'N',
    description: 'gateway: split requests of more than N examples across replicas',
  },
  shards: {
    type: 'string',
    valueName: 'S',
    defaultText: 'ready replicas',
    description: 'sub-requests per split',
  },
  ensemble: {
    type: 'string',
    valueName: 'A,B',
    description: 'gateway: serve several models and average them at /v1/models/ensemble:predict',
  },
  'ensemble-name': {
    type: 'string',
    valueName: 'NAME',
    defaultText: 'ensemble',
    description: 'model name of the averaging endpoint',
  },
  'max-in-flight': {
    type: 'string',
    valueName: 'N',
    defaultText: String(DEFAULT_MAX_IN_FLIGHT),
    description: 'gateway: model requests worked on at once; beyond, 503 with Retry-After',
  },
  'max-connections': {
    type: 'string',
    valueName: 'N',
    defaultText: String(DEFAULT_MAX_CONNECTIONS),
    description: 'gateway: open client connections; beyond, new ones are closed',
  },
  'exit-with-parent': { type: 'boolean', description: 'exit when stdin closes (replicas of a gateway)' },
  'hash-key': {
    type: 'string',
    valueName: 'KEY',
    description: 'print the SHA-256 of an API key for --api-keys and exit (- reads it from stdin)',
  },
};

export const serveCommand: Command = {
  path: ['serve'],
  summary: 'serve the newest version of a model over TF Serving REST (KServe V1) and KServe V2',
  usage: '--repo REPO --model NAME',
  details: [
    'Serves REPO/NAME/<version>/ (integer versions, newest first), picking up new versions without a restart:',
    'a new version is loaded and warmed up, then takes the traffic; the newest --keep-versions stay reachable',
    'by path. Endpoints:',
    '  POST /v1/models/NAME[/versions/V]:predict   {"instances": [...]} -> {"predictions": [[10 probabilities]]}',
    '                                              ({"inputs": ...} columnar -> {"outputs": ...})',
    '  GET  /v1/models/NAME[/versions/V][/metadata]  status / signature, class names, lineage',
    '  POST /v2/models/NAME[/versions/V]/infer      Open Inference Protocol',
    '  GET  /v2/models/NAME[/versions/V][/ready], /v2/health/live, /v2/health/ready, /metrics (Prometheus)',
    'An example is {"image_bytes": {"b64": "<JPEG or PNG>"}} (the book\'s request; decoded to grayscale,',
    'resized to 28x28, scaled to [0, 1]), {"b64": ...}, or pixels in [0, 1] shaped [28,28], [28,28,1] or',
    '[784]. V2 also takes FP32 [N,28,28,1] / [N,784], UINT8 0..255, or BYTES [N] of base64 images.',
    'Concurrent requests are batched into one forward pass (up to --max-batch examples; an idle model waits',
    'up to --max-delay-ms for company). Limits against hostile input: --max-body (413), a decode budget per',
    'request checked from image headers before decoding (--max-decode-pixels, --max-decode-bytes: 413), a',
    'bounded queue (--max-queue, --queue-deadline: 503 with Retry-After); images decode off the event loop,',
    'so health and metrics keep answering; a request whose client has gone is dropped before it is computed.',
    'Prints one line once listening (with --json:',
    '{"event":"listening","url":...}); ready (GET /v2/health/ready = 200) once a version is loaded.',
    'SIGTERM or SIGINT: stop accepting, answer requests in flight, exit 0.',
    '',
    'Gateway (--replicas N, --autoscale or --ensemble A,B): one process in front of `distml serve` replicas',
    '(each on its own port, --replica-threads libtorch threads), speaking the same paths. Only replicas whose',
    '/v2/health/ready answers 200 get traffic (--balance); a request that fails on a dying replica is retried on',
    'another; a crashed replica is replaced. --autoscale follows KServe/Knative: average requests in flight per',
    'replica vs --target-concurrency over --stable-window, a --panic-window that scales up fast in bursts;',
    '--min 0 scales to zero and queues the next request while a replica starts. Rate limits (--api-keys FILE or',
    '--rate-limit): per client, a concurrency cap and a token bucket; over them a request waits in a short',
    'queue, then gets 429 with Retry-After. --shard-threshold N splits larger requests across replicas;',
    '--ensemble averages the models at /v1/models/ensemble:predict and /v2/models/ensemble/infer.',
    "GET /gateway/status lists replicas and autoscaler decisions; /metrics has the gateway's own metrics.",
    'The gateway reads bodies with the same --max-body as a replica, answers 503 with Retry-After above',
    '--max-in-flight model requests, closes connections above --max-connections, and cancels the forwarded',
    'request of a client that has gone.',
  ].join('\n'),
  options: {
    repo: { type: 'string', valueName: 'REPO', description: 'model repository directory' },
    model: { type: 'string', valueName: 'NAME', description: 'model name (folder) in the repository' },
    host: {
      type: 'string',
      valueName: 'ADDR',
      defaultText: '127.0.0.1',
      description: 'address to listen on',
    },
    port: {
      type: 'string',
      valueName: 'P',
      defaultText: '8080',
      description: 'port to listen on (0 picks a free one)',
    },
    'max-batch': {
      type: 'string',
      valueName: 'N',
      defaultText: '64',
      description: 'most examples per forward pass',
    },
    'max-delay-ms': {
      type: 'string',
      valueName: 'MS',
      defaultText: '0',
      description: 'longest an idle model waits to fill a batch',
    },
    'max-body': {
      type: 'string',
      valueName: 'BYTES',
      defaultText: String(DEFAULT_MAX_BODY),
      description: 'largest request body (413 beyond)',
    },
    'max-decode-pixels': {
      type: 'string',
      valueName: 'PX',
      defaultText: String(DEFAULT_MAX_DECODE_PIXELS),
      description: "a request's images, width x height summed, read from their headers (413 beyond)",
    },
    'max-decode-bytes': {
      type: 'string',
      valueName: 'BYTES',
      defaultText: String(DEFAULT_MAX_DECODE_BYTES),
      description: "bytes the decoders may write for one request's images (413 beyond)",
    },
    'decode-threads': {
      type: 'string',
      valueName: 'N',
      defaultText: '1',
      description: 'PNG decode threads (JPEG decodes on the libuv pool), so the event loop keeps answering',
    },
    'max-queue': {
      type: 'string',
      valueName: 'N',
      defaultText: String(DEFAULT_MAX_QUEUE),
      description: 'examples waiting for the model; beyond, 503 with Retry-After',
    },
    'queue-deadline': {
      type: 'string',
      valueName: 'DUR',
      defaultText: '30s',
      description: 'longest a request waits for the model to start on it; beyond, 503 with Retry-After',
    },
    'keep-versions': {
      type: 'string',
      valueName: 'K',
      defaultText: '2',
      description: 'newest versions kept loaded and reachable by /versions/V',
    },
    threads: {
      type: 'string',
      valueName: 'T',
      defaultText: 'one less than $DISTML_THREADS or the cores, at least 1',
      description: 'libtorch intra-op threads (one core is left to the event loop: HTTP, JSON, decoding)',
    },
    'wait-for-model': {
      type: 'string',
      valueName: 'DUR',
      description:
        'start even if REPO does not exist yet and wait this long (e.g. 10m) for a loadable version; else exit 1',
    },
    ...GATEWAY_OPTIONS,
  },
  async run(ctx) {
    const f = parseFlags(serveFlags, ctx.values);
    const { out } = ctx;
    if (f['hash-key'] !== undefined) return printKeyHash(f['hash-key'], out);
    const gateway = checkGatewayFlags(f, ctx.values);
    const repo = f.repo;
    if (!repo) throw new UsageError('--repo: is required: the model repository directory (got nothing)');
    checkRepository(resolve(repo), f['wait-for-model']);
    if (gateway) return runGateway(f, repo, ctx);
    if (!f.model)
      throw new UsageError('--model: is required: the model name in the repository (got nothing)');
    // Under load the event loop needs a core of its own: on 2 cores with the load generator beside it, the book
    // CNN served 5,100 requests/s with 1 libtorch thread and 4,300 with 2 (bench/serve).
    setNumThreads(f.threads ?? Math.max(1, threadBudget() - 1));
    const server = new ModelServer({
      repo: resolve(repo),
      name: f.model,
      host: f.host,
      port: f.port,
      maxBatch: f['max-batch'],
      maxDelayMs: f['max-delay-ms'],
      maxBody: f['max-body'],
      maxDecodePixels: f['max-decode-pixels'],
      maxDecodeBytes: f['max-decode-bytes'],
      decodeThreads: f['decode-threads'],
      maxQueue: f['max-queue'],
      queueDeadlineMs: f['queue-deadline'],
      keepVersions: f['keep-versions'],
      onEvent: (e) => (out.json ? out.event(e) : out.info(describe(e))),
    });
    const url = await server.listen();
    out.result(
      { event: 'listening', url, model: f.model, repo: resolve(repo) },
      () => `listening on ${url} (model ${f.model} from ${resolve(repo)})`,
    );
    // A gateway's replica is reported on by its gateway.
    const stopReport = f['exit-with-parent'] ? () => {} : reportServing(out, url, false);
    const waiting = watchModelWait(server, out, {
      repo: resolve(repo),
      model: f.model,
      deadlineMs: f['wait-for-model'],
    });
    if (f['exit-with-parent']) {
      // A replica of a gateway: when the gateway dies, its end of our stdin closes and we go too.
      process.stdin.on('end', () => process.kill(process.pid, 'SIGTERM'));
      process.stdin.resume();
    }
    let onTerm = () => {};
    let onInt = () => {};
    try {
      await Promise.race([
        waiting.expired,
        new Promise<void>((done) => {
          const stop = (signal: string) => {
            process.off('SIGTERM', onTerm);
            process.off('SIGINT', onInt);
            out.info(`${signal}: draining requests in flight`);
            void server.stop().then(done, done);
          };
          onTerm = () => stop('SIGTERM');
          onInt = () => stop('SIGINT');
          process.on('SIGTERM', onTerm);
          process.on('SIGINT', onInt);
        }),
      ]);
    } catch (err) {
      // --wait-for-model ran out: nothing is served, so stop and fail.
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      await server.stop();
      throw err;
    } finally {
      stopReport();
      waiting.close();
      if (f['exit-with-parent']) process.stdin.destroy(); // else the open pipe keeps the process alive
    }
    if (out.json) out.event({ event: 'stopped' });
    else out.info('stopped');
  },
};

function describe(e: { event: string } & Record<string, unknown>): string {
  switch (e.event) {
    case 'version_loaded':
      return `loaded ${String(e.model)} version ${String(e.version)} (${Number(e.seconds).toFixed(2)} s); serving it`;
    case 'version_unloaded':
      return `unloaded ${String(e.model)} version ${String(e.version)}`;
    case 'version_failed':
      return `cannot load ${String(e.model)} version ${String(e.version)}: ${String(e.error)}`;
    default:
      return `${e.event}: ${String(e.error ?? '')}`;
  }
}

/** True when the flags ask for the gateway; rejects gateway flags that would be silently ignored. */
function checkGatewayFlags(f: ServeFlags, given: Record<string, unknown>): boolean {
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

/** Prints SHA-256(key) for a keys file, reading the key from stdin for `-` (keeps it out of `ps`). */
async function printKeyHash(arg: string, out: Output): Promise<void> {
  let key = arg;
  if (arg === '-') {
    const parts: Buffer[] = [];
    for await (const c of process.stdin) parts.push(c as Buffer);
    key = Buffer.concat(parts)
      .toString('utf8')
      .replace(/\r?\n$/, '');
  }
  if (!key) throw new UsageError('--hash-key: the key is empty');
  const sha256 = hashKey(key);
  out.result({ sha256 }, () => sha256);
}

function accessConfig(f: ServeFlags): AccessConfig | undefined {
  const anon = {
    ...(f['anon-concurrency'] !== undefined ? { concurrency: f['anon-concurrency'] } : {}),
    ...(f['anon-rps'] !== undefined
      ? { rps: f['anon-rps'], burst: Math.max(1, Math.ceil(f['anon-rps'] * 2)) }
      : {}),
    ...(f['anon-queue'] !== undefined ? { queue: f['anon-queue'] } : {}),
  };
  if (f['api-keys']) {
    const a = loadAccessConfig(resolve(f['api-keys']));
    return { ...a, anonymous: { ...a.anonymous, ...anon } };
  }
  if (f['rate-limit'] || Object.keys(anon).length > 0) return anonymousOnly(anon);
  return undefined;
}

/** `distml serve` as a gateway in front of replica processes; returns when stopped by a signal. */
async function runGateway(f: ServeFlags, repoFlag: string, { out, global }: CommandContext): Promise<void> {
  const repo = resolve(repoFlag);
  const models = f.ensemble ?? (f.model ? [f.model] : []);
  if (models.length === 0)
    throw new UsageError('--model: is required: the model name in the repository (got nothing)');
  const access = accessConfig(f);
  const main = fileURLToPath(new URL('../main.js', import.meta.url));
  const opts: GatewayOptions = {
    models,
    replicaCommand: (model) => [
      process.execPath,
      main,
      'serve',
      ...['--repo', repo, '--model', model, '--threads', String(f['replica-threads'])],
      ...['--max-batch', String(f['max-batch']), '--max-delay-ms', String(f['max-delay-ms'])],
      ...['--max-body', String(f['max-body']), '--keep-versions', String(f['keep-versions'])],
      ...['--max-decode-pixels', String(f['max-decode-pixels'])],
      ...['--max-decode-bytes', String(f['max-decode-bytes'])],
      ...['--decode-threads', String(f['decode-threads']), '--max-queue', String(f['max-queue'])],
      ...['--queue-deadline', `${f['queue-deadline']}ms`],
      ...(f['wait-for-model'] !== undefined ? [`--wait-for-model=${f['wait-for-model']}ms`] : []),
      '--exit-with-parent',
    ],
    host: f.host,
    port: f.port,
    replicas: f.replicas ?? 1,
    autoscale: f.autoscale
      ? {
          min: f.min,
          max: f.max,
          target: f['target-concurrency'],
          stableWindowMs: f['stable-window'],
          panicWindowMs: f['panic-window'],
          panicThreshold: f['panic-threshold'],
          scaleDownDelayMs: f['scale-down-delay'],
        }
      : undefined,
    balance: f.balance as GatewayOptions['balance'],
    hashHeader: f['hash-header'],
    tickMs: f['scale-interval'],
    queueTimeoutMs: f['queue-timeout'],
    probeMs: f['probe-interval'],
    access,
    auditLog: access
      ? resolve(f['audit-log'] ?? join(global.workspace, 'logs', 'gateway-audit.jsonl'))
      : undefined,
    shardThreshold: f['shard-threshold'],
    shards: f.shards,
    ensembleName: f['ensemble-name'],
    maxBody: f['max-body'],
    maxInFlight: f['max-in-flight'],
    maxConnections: f['max-connections'],
    onEvent: (e) => (out.json ? out.event(e) : out.info(describeGateway(e))),
  };
  const gw = new Gateway(opts);
  let url: string;
  try {
    url = await gw.listen();
  } catch (err) {
    await gw.stop();
    throw err;
  }
  out.result(
    { event: 'listening', url, gateway: true, models, repo },
    () => `gateway listening on ${url} (${models.join(', ')} from ${repo}); status at ${url}/gateway/status`,
  );
  const stopReport = reportServing(out, url, true);
  await new Promise<void>((done) => {
    let signals = 0;
    const stop = (signal: string) => {
      if (++signals > 1) {
        gw.killReplicas();
        return;
      }
      out.info(`${signal}: draining requests in flight and stopping replicas`);
      void gw.stop().then(done, done);
    };
    const onTerm = () => stop('SIGTERM');
    const onInt = () => stop('SIGINT');
    // Its terminal closed: the replicas are the gateway's to stop, as on SIGTERM.
    const onHup = () => stop('SIGHUP');
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
    process.on('SIGHUP', onHup);
  });
  stopReport();
  if (out.json) out.event({ event: 'stopped' });
  else out.info('stopped');
}

function describeGateway(e: { event: string } & Record<string, unknown>): string {
  switch (e.event) {
    case 'scale':
      return `${String(e.model)}: ${String(e.from)} -> ${String(e.to)} replicas (${String(e.reason)})`;
    case 'replica_crashed':
      return `${String(e.model)}: replica ${String(e.id)} exited (${String(e.signal ?? e.exitCode)}); replacing it`;
    default:
      return `${String(e.model ?? '')} ${e.event} ${e.id !== undefined ? `replica ${String(e.id)}` : ''} ${String(e.url ?? '')}`.trim();
  }
}
