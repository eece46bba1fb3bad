import { resolve } from 'node:path';
import { z } from 'zod';
import { setNumThreads } from '../../engine/index.js';
import { DEFAULT_MAX_BODY, ModelServer } from '../../serve/index.js';
import { parseFlags, type Command } from '../command.js';

const int = (min: number, what: string) =>
  z.coerce
    .number({ message: `must be ${what}` })
    .int(`must be ${what}`)
    .min(min, `must be ${what}`);

const serveFlags = z.object({
  repo: z.string({ message: 'is required: the model repository directory' }).min(1, 'must name a directory'),
  model: z.string({ message: 'is required: the model name in the repository' }).min(1, 'must name a model'),
  host: z.string().min(1, 'must name an address').default('127.0.0.1'),
  port: int(0, 'a port number in [0, 65535]').max(65535, 'must be a port number in [0, 65535]').default(8080),
  'max-batch': int(1, 'a positive integer').max(4096, 'must be at most 4096').default(64),
  'max-delay-ms': int(0, 'a whole number of milliseconds (0 or more)')
    .max(10_000, 'must be at most 10000')
    .default(0),
  'max-body': int(1024, 'a number of bytes, at least 1024').default(DEFAULT_MAX_BODY),
  'keep-versions': int(1, 'a positive integer').max(100, 'must be at most 100').default(2),
  threads: int(1, 'a positive integer').max(256, 'must be at most 256').optional(),
});

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
    'up to --max-delay-ms for company). Prints one line once listening (with --json:',
    '{"event":"listening","url":...}); ready (GET /v2/health/ready = 200) once a version is loaded.',
    'SIGTERM or SIGINT: stop accepting, answer requests in flight, exit 0.',
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
    'keep-versions': {
      type: 'string',
      valueName: 'K',
      defaultText: '2',
      description: 'newest versions kept loaded and reachable by /versions/V',
    },
    threads: {
      type: 'string',
      valueName: 'T',
      defaultText: 'all cores',
      description: 'libtorch intra-op threads',
    },
  },
  async run({ values, out }) {
    const f = parseFlags(serveFlags, values);
    if (f.threads) setNumThreads(f.threads);
    const server = new ModelServer({
      repo: resolve(f.repo),
      name: f.model,
      host: f.host,
      port: f.port,
      maxBatch: f['max-batch'],
      maxDelayMs: f['max-delay-ms'],
      maxBody: f['max-body'],
      keepVersions: f['keep-versions'],
      onEvent: (e) => (out.json ? out.event(e) : out.info(describe(e))),
    });
    const url = await server.listen();
    out.result(
      { event: 'listening', url, model: f.model, repo: resolve(f.repo) },
      () => `listening on ${url} (model ${f.model} from ${resolve(f.repo)})`,
    );
    await new Promise<void>((done) => {
      const stop = (signal: string) => {
        process.off('SIGTERM', onTerm);
        process.off('SIGINT', onInt);
        out.info(`${signal}: draining requests in flight`);
        void server.stop().then(done, done);
      };
      const onTerm = () => stop('SIGTERM');
      const onInt = () => stop('SIGINT');
      process.on('SIGTERM', onTerm);
      process.on('SIGINT', onInt);
    });
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
