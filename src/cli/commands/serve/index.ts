// `distml serve`: the model server, or with --replicas/--autoscale/--ensemble the gateway in front of
// replicas. This file is the command's face (help and dispatch); server.ts and gateway.ts run the two.
import { resolve } from 'node:path';
import {
  DEFAULT_MAX_BODY,
  DEFAULT_MAX_DECODE_BYTES,
  DEFAULT_MAX_DECODE_PIXELS,
  DEFAULT_MAX_QUEUE,
} from '../../../serve/index.js';
import { parseFlags, UsageError, type Command } from '../../command.js';
import { checkGatewayFlags, serveFlags } from './flags.js';
import { printKeyHash, runGateway } from './gateway.js';
import { GATEWAY_OPTIONS } from './gateway-help.js';
import { runServer } from './server.js';
import { checkRepository } from './wait.js';

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
    if (f['hash-key'] !== undefined) return printKeyHash(f['hash-key'], ctx.out);
    const gateway = checkGatewayFlags(f, ctx.values);
    const repo = f.repo;
    if (!repo) throw new UsageError('--repo: is required: the model repository directory (got nothing)');
    checkRepository(resolve(repo), f['wait-for-model']);
    if (gateway) return runGateway(f, repo, ctx);
    if (!f.model)
      throw new UsageError('--model: is required: the model name in the repository (got nothing)');
    return runServer(f, repo, f.model, ctx);
  },
};
