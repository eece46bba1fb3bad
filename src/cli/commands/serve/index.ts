// `distml serve`: the model server, or with --replicas/--autoscale/--ensemble the gateway in front of
// replicas. This file is the command's face (help and dispatch); server.ts and gateway.ts run the two.
import { resolve } from 'node:path';
import { parseFlags, UsageError, type Command } from '../../command.js';
import { isGateway, serveFlags, type ServeFlags } from './flags.js';
import { printKeyHash, runGateway } from './gateway.js';
import { describeListening } from './listening.js';
import { runServer } from './server.js';
import { checkRepository } from './wait.js';
import { runsHere, submitCommand } from '../submit.js';

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
    '',
    "Submitted to the workspace's server (started on demand) as a run that serves until stopped: a scheduler",
    'job of --user in --queue at --priority. Ctrl-C (or `distml stop RUN`) stops it; --detach returns once it',
    'listens, printing the run name and URL. --local serves from this process instead, unscheduled.',
  ].join('\n'),
  options: serveFlags.options,
  async run(ctx) {
    const f = parseFlags(serveFlags, ctx.values);
    if (f['hash-key'] !== undefined) return printKeyHash(f['hash-key'], ctx.out);
    const repo = f.repo;
    if (!repo) throw new UsageError('--repo: is required: the model repository directory (got nothing)');
    checkRepository(resolve(repo), f['wait-for-model']);
    if (!f.model && !f.ensemble)
      throw new UsageError('--model: is required: the model name in the repository (got nothing)');
    if (!runsHere(f))
      return submitCommand(ctx, {
        kind: 'serve',
        flags: f,
        cores: servingCores(f),
        describe: describeListening,
      });
    if (isGateway(f)) return runGateway(f, repo, ctx);
    return runServer(f, repo, f.model!, ctx);
  },
};

/**
 * Cores a submitted `serve` asks the scheduler for: its --threads (one by default: requests are batched), or
 * for a gateway its replicas' threads at the replica count it starts with.
 */
function servingCores(f: ServeFlags): number {
  if (!isGateway(f)) return f.threads ?? 1;
  const replicas = f.replicas ?? (f.autoscale ? Math.max(1, f.min) : (f.ensemble?.length ?? 1));
  return replicas * f['replica-threads'];
}
