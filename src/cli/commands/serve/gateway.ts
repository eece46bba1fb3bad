// The gateway side of `distml serve`: replica processes behind a load balancer, and --hash-key.
import { describeListening } from './listening.js';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  anonymousOnly,
  Gateway,
  hashKey,
  loadAccessConfig,
  type AccessConfig,
  type GatewayEvent,
  type GatewayOptions,
} from '../../../serve/index.js';
import { UsageError, type CommandContext } from '../../command.js';
import type { Output } from '../../output.js';
import type { ServeFlags } from './flags.js';
import { stopOnSignal } from './signals.js';
import { reportServing } from './stats.js';

/** Prints SHA-256(key) for a keys file, reading the key from stdin for `-` (keeps it out of `ps`). */
export async function printKeyHash(arg: string, out: Output): Promise<void> {
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

/** A replica's command line: `distml serve` for one model, with the model server's flags passed through. */
function replicaCommand(f: ServeFlags, repo: string): GatewayOptions['replicaCommand'] {
  const main = fileURLToPath(new URL('../../main.js', import.meta.url));
  return (model) => [
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
    '--local',
  ];
}

/** The gateway's options from its flags (all but where its events go). */
function gatewayOptions(
  f: ServeFlags,
  repo: string,
  models: string[],
  workspace: string,
): Omit<GatewayOptions, 'onEvent'> {
  const access = accessConfig(f);
  return {
    models,
    replicaCommand: replicaCommand(f, repo),
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
    auditLog: access ? resolve(f['audit-log'] ?? join(workspace, 'logs', 'gateway-audit.jsonl')) : undefined,
    shardThreshold: f['shard-threshold'],
    shards: f.shards,
    ensembleName: f['ensemble-name'],
    maxBody: f['max-body'],
    maxInFlight: f['max-in-flight'],
    maxConnections: f['max-connections'],
  };
}

/** `distml serve` as a gateway in front of replica processes; returns when stopped by a signal. */
export async function runGateway(
  f: ServeFlags,
  repoFlag: string,
  { out, global }: CommandContext,
): Promise<void> {
  const repo = resolve(repoFlag);
  const models = f.ensemble ?? (f.model ? [f.model] : []);
  if (models.length === 0)
    throw new UsageError('--model: is required: the model name in the repository (got nothing)');
  const opts: GatewayOptions = {
    ...gatewayOptions(f, repo, models, global.workspace),
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
  const listening = { event: 'listening', url, gateway: true, models, repo };
  out.result(listening, () => describeListening(listening));
  const stopReport = reportServing(out, url, true);
  const signals = stopOnSignal({
    // SIGHUP: its terminal closed; the replicas are the gateway's to stop, as on SIGTERM.
    signals: ['SIGTERM', 'SIGINT', 'SIGHUP'],
    stop: (signal) => {
      out.info(`${signal}: draining requests in flight and stopping replicas`);
      return gw.stop();
    },
    again: () => gw.killReplicas(),
  });
  await signals.stopped;
  signals.dispose();
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
export function unknownEvent(e: never): string {
  return `event ${JSON.stringify(e)}`;
}
