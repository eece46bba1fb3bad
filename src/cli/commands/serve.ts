import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setNumThreads, threadBudget } from '../../engine/index.js';
import {
  anonymousOnly,
  Gateway,
  hashKey,
  loadAccessConfig,
  ModelServer,
  type AccessConfig,
  type GatewayEvent,
  type GatewayOptions,
  type ServerEvent,
} from '../../serve/index.js';
import { parseFlags, UsageError, type Command, type CommandContext } from '../command.js';
import type { Output } from '../output.js';
import { isGateway, serveFlags, type ServeFlags } from './serve-flags.js';
import { reportServing } from './serve-stats.js';
import { checkRepository, watchModelWait } from './serve-wait.js';
import { processEnv } from '../env.js';

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
  options: serveFlags.options,
  async run(ctx) {
    const f = parseFlags(serveFlags, ctx.values);
    const { out } = ctx;
    if (f['hash-key'] !== undefined) return printKeyHash(f['hash-key'], out);
    const repo = f.repo;
    if (!repo) throw new UsageError('--repo: is required: the model repository directory (got nothing)');
    checkRepository(resolve(repo), f['wait-for-model']);
    if (isGateway(f)) return runGateway(f, repo, ctx);
    if (!f.model)
      throw new UsageError('--model: is required: the model name in the repository (got nothing)');
    // Under load the event loop needs a core of its own: on 2 cores with the load generator beside it, the book
    // CNN served 5,100 requests/s with 1 libtorch thread and 4,300 with 2 (bench/serve).
    setNumThreads(f.threads ?? Math.max(1, threadBudget(processEnv()) - 1));
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

/** One line for people per model-server event; exhaustive, so a new event cannot go undescribed. */
function describe(e: ServerEvent): string {
  switch (e.event) {
    case 'version-loaded':
      return `loaded ${e.model} version ${e.version} (${e.seconds.toFixed(2)} s); serving it`;
    case 'version-unloaded':
      return `unloaded ${e.model} version ${e.version}`;
    case 'version-failed':
      return `cannot load ${e.model} version ${e.version}: ${e.error}`;
    case 'repository-error':
    case 'internal-error':
      return `${e.event}: ${e.error}`;
    default:
      return unknownEvent(e);
  }
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

/** One line for people per gateway event; exhaustive, so a new event cannot go undescribed. */
function describeGateway(e: GatewayEvent): string {
  switch (e.event) {
    case 'scale':
      return `${e.model}: ${e.from} -> ${e.to} replicas (${e.reason})`;
    case 'replica-crashed':
      return `${e.model}: replica ${e.id} exited (${String(e.signal ?? e.exitCode)}); replacing it`;
    case 'replica-started':
      return `${e.model} replica-started replica ${e.id}`;
    case 'replica-ready':
      return `${e.model} replica-ready replica ${e.id} ${e.url}`;
    case 'replica-stopped':
      return `${e.model} replica-stopped replica ${e.id}`;
    case 'audit-write-failed':
      return `audit-write-failed ${e.path}: ${e.message} (${e.lines} lines dropped)`;
    default:
      return unknownEvent(e);
  }
}

/** The `never` check of an exhaustive describer. */
function unknownEvent(e: never): string {
  return `event ${JSON.stringify(e)}`;
}
