// Long answers: a run's events (NDJSON, or Server-Sent Events when asked for), and a step's log followed
// while the step runs. Both send a heartbeat so idle-timeouts of clients and proxies do not cut them.
import { openSync, readSync, closeSync, existsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isDaemon, type EngineEvent, type WorkflowSpec } from '../workflow/index.js';
import { ServerError } from './errors.js';
import { stderrPath, stepsWithLogs } from './logs.js';
import type { Api } from './api.js';

const HEARTBEAT_MS = 15_000;
const LOG_POLL_MS = 300;

/**
 * Streams a run's events: everything so far, then live, until the run ends. `?owner=true` marks the follower
 * as the run's owner (the CLI that started it): when the last owner goes, a run that is not detached stops.
 * A run this server does not drive gets its current phase as one event.
 */
export function streamEvents(
  api: Api,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  name: string,
): undefined {
  const sse =
    url.searchParams.get('format') === 'sse' || (req.headers.accept ?? '').includes('text/event-stream');
  const owner = ['true', '1'].includes(url.searchParams.get('owner') ?? '');
  res.writeHead(200, {
    'content-type': sse ? 'text/event-stream' : 'application/x-ndjson',
    'cache-control': 'no-cache',
  });
  const write = (e: EngineEvent) =>
    res.write(sse ? `data: ${JSON.stringify(e)}\n\n` : `${JSON.stringify(e)}\n`);
  // A blank line: NDJSON readers skip it; an SSE comment is ignored by EventSource.
  const beat = setInterval(() => res.write(sse ? ':\n\n' : '\n'), HEARTBEAT_MS);
  const off = api.runs.follow(name, owner, (e) => (e ? write(e) : res.end()));
  if (!off) {
    const r = api.store.getRun(name);
    write({ event: 'run', run: name, phase: r.phase, message: r.message });
    res.end();
  }
  res.on('close', () => {
    clearInterval(beat);
    off?.();
  });
  return undefined;
}

/** A step's stdout (or `?stream=stderr`), with `?follow=true` kept open and sent as it grows until the step ends. */
export function streamNodeLog(api: Api, res: ServerResponse, url: URL, run: string, step: string): undefined {
  const which = url.searchParams.get('stream') ?? 'stdout';
  if (which !== 'stdout' && which !== 'stderr')
    throw new ServerError('SERVER_BAD_REQUEST', `stream=${which}: must be stdout or stderr`);
  const node = stepsWithLogs(api.store, run, decodeURIComponent(step))[0]!;
  const path = which === 'stdout' ? node.logPath! : stderrPath(node.logPath!);
  const follow = ['true', '1'].includes(url.searchParams.get('follow') ?? '');
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-cache' });
  let offset = 0;
  const pump = () => {
    if (!existsSync(path)) return;
    const fd = openSync(path, 'r');
    try {
      const buf = Buffer.alloc(64 * 1024);
      for (let n; (n = readSync(fd, buf, 0, buf.length, offset)) > 0; offset += n)
        res.write(buf.subarray(0, n));
    } finally {
      closeSync(fd);
    }
  };
  // A daemon (a server step) has succeeded once it is ready, and writes on until its run ends.
  const daemon = isDaemonTemplate(api, run, node.template);
  const ended = (phase: string | undefined) => phase !== 'Running' && phase !== 'Pending';
  const done = () =>
    ended(api.store.getNode(run, node.id)?.phase) && (!daemon || ended(api.store.getRun(run).phase));
  pump();
  if (!follow) {
    res.end();
    return undefined;
  }
  const timer = setInterval(() => {
    const finished = done();
    pump();
    if (finished) res.end();
  }, LOG_POLL_MS);
  res.on('close', () => clearInterval(timer));
  return undefined;
}

function isDaemonTemplate(api: Api, run: string, template: string): boolean {
  const spec = api.store.getRun(run).spec as WorkflowSpec | undefined;
  const t = spec?.spec?.templates?.find((x) => x.name === template);
  return t !== undefined && isDaemon(t);
}
