// The model server side of `distml serve`: one model from a repository, until a signal stops it.
import { describeListening } from './listening.js';
import { resolve } from 'node:path';
import { setNumThreads, threadBudget } from '../../../engine/index.js';
import { ModelServer, type ModelServerOptions, type ServerEvent } from '../../../serve/index.js';
import type { CommandContext } from '../../command.js';
import { processEnv } from '../../env.js';
import { unknownEvent } from './gateway.js';
import type { ServeFlags } from './flags.js';
import { stopOnSignal } from './signals.js';
import { reportServing } from './stats.js';
import { watchModelWait } from './wait.js';

/** Serves `model` from `repo` until SIGTERM/SIGINT (drained) or --wait-for-model running out (an error). */
export async function runServer(
  f: ServeFlags,
  repo: string,
  model: string,
  { out }: CommandContext,
): Promise<void> {
  // Under load the event loop needs a core of its own: on 2 cores with the load generator beside it, the book
  // CNN served 5,100 requests/s with 1 libtorch thread and 4,300 with 2 (bench/serve).
  setNumThreads(f.threads ?? Math.max(1, threadBudget(processEnv()) - 1));
  const server = new ModelServer({
    ...serverOptions(f, repo, model),
    onEvent: (e) => (out.json ? out.event(e) : out.info(describeServerEvent(e))),
  });
  const url = await server.listen();
  const listening = { event: 'listening', url, model, repo: resolve(repo) };
  out.result(listening, () => describeListening(listening));
  // A gateway's replica is reported on by its gateway.
  const stopReport = f['exit-with-parent'] ? () => {} : reportServing(out, url, false);
  const waiting = watchModelWait(server, out, {
    repo: resolve(repo),
    model,
    deadlineMs: f['wait-for-model'],
  });
  if (f['exit-with-parent']) {
    // A replica of a gateway: when the gateway dies, its end of our stdin closes and we go too.
    process.stdin.on('end', () => process.kill(process.pid, 'SIGTERM'));
    process.stdin.resume();
  }
  const signals = stopOnSignal({
    signals: ['SIGTERM', 'SIGINT'],
    stop: (signal) => {
      out.info(`${signal}: draining requests in flight`);
      return server.stop();
    },
  });
  try {
    await Promise.race([waiting.expired, signals.stopped]);
  } catch (err) {
    // --wait-for-model ran out: nothing is served, so stop and fail.
    signals.dispose();
    await server.stop();
    throw err;
  } finally {
    stopReport();
    waiting.close();
    if (f['exit-with-parent']) process.stdin.destroy(); // else the open pipe keeps the process alive
  }
  if (out.json) out.event({ event: 'stopped' });
  else out.info('stopped');
}

/** The model server's options from the flags (all but where its events go). */
function serverOptions(f: ServeFlags, repo: string, model: string): Omit<ModelServerOptions, 'onEvent'> {
  return {
    repo: resolve(repo),
    name: model,
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
  };
}

/** One line for people per model-server event; exhaustive, so a new event cannot go undescribed. */
function describeServerEvent(e: ServerEvent): string {
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
