// The CLI's side of the control plane: find the workspace's server (or start one), call its API, follow a
// run's events. Failures are ServerErrors carrying the server's own code and message.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { processRef } from '../process/index.js';
import type { EngineEvent } from '../workflow/index.js';
import { ServerError } from './errors.js';
import { ensureServerDir, liveServerInfo, serverPaths, type ServerInfo } from './files.js';

/** Longest a CLI waits for a server it started to answer. */
const START_TIMEOUT_MS = 60_000;

export class ServerClient {
  constructor(readonly info: ServerInfo) {}

  private async send(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
    try {
      return await fetch(`${this.info.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.info.secret}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new ServerError(
        'SERVER_GONE',
        `the workspace's server (pid ${this.info.pid}, ${this.info.url}) does not answer: ${(err as Error).message}`,
      );
    }
  }

  /** Calls the API; a 4xx/5xx answer is thrown as a ServerError with the server's code and message. */
  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.send(method, path, body);
    const text = await res.text();
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      value = { error: text };
    }
    if (!res.ok) {
      const e = value as { error?: string; code?: string };
      throw new ServerError(e.code ?? 'SERVER_BAD_REQUEST', e.error ?? `HTTP ${res.status}`, res.status);
    }
    return value as T;
  }

  /** A streamed answer's bytes as they come (a step's log with `follow=true`); an error answer is thrown. */
  async *stream(path: string): AsyncGenerator<Uint8Array> {
    const res = await this.send('GET', path);
    if (!res.ok || !res.body) await this.call('GET', path);
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) yield chunk;
  }

  /**
   * A run's events as they happen (the ones so far first). As `owner`, this follower's disconnect stops a run
   * that was not detached. Ends when the run ends, or when the server goes away (then the last event seen
   * still says Running).
   */
  async *events(run: string, owner: boolean, signal?: AbortSignal): AsyncGenerator<EngineEvent> {
    const res = await this.send(
      'GET',
      `/api/v1/runs/${encodeURIComponent(run)}/events?owner=${owner}`,
      undefined,
      signal,
    );
    if (!res.ok || !res.body) await this.call('GET', `/api/v1/runs/${encodeURIComponent(run)}/events`);
    let buffered = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffered += Buffer.from(chunk).toString('utf8');
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        for (const line of lines) if (line.trim()) yield JSON.parse(line) as EngineEvent;
      }
    } catch {
      // the connection broke: the caller sees the run did not end
    }
  }
}

/** A client of the workspace's server when one runs and answers, else null. */
export async function connect(workspace: string): Promise<ServerClient | null> {
  const info = liveServerInfo(workspace);
  if (!info) return null;
  const client = new ServerClient(info);
  try {
    await client.call('GET', '/api/v1/health');
    return client;
  } catch {
    return null;
  }
}

/**
 * The workspace's server, started first when none runs: `argv` runs `distml server start --foreground …`;
 * it is detached (its own session and process group, output to the server log) so it outlives this CLI.
 * Two CLIs starting one at once end up with the same server (the lock lets one win).
 */
export async function ensureServer(workspace: string, argv: string[]): Promise<ServerClient> {
  const running = await connect(workspace);
  if (running) return running;
  ensureServerDir(workspace);
  const { log } = serverPaths(workspace);
  const fd = openSync(log, 'a', 0o600);
  const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  child.unref();
  let exited = false;
  child.once('exit', () => (exited = true));
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const client = await connect(workspace);
    if (client) return client;
    // Ours lost the race to another server (which still holds the lock while it starts), or failed.
    if (Date.now() > deadline || (exited && !lockHolderAlive(workspace))) break;
    await sleep(100);
  }
  const tail = existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(-15).join('\n') : '';
  throw new ServerError(
    'SERVER_START_FAILED',
    `could not start the server for ${workspace} (pid ${child.pid}); its log ${log} ends with:\n${tail}`,
  );
}

/** True while the server lock is held by a live process (a server starting up or running). */
function lockHolderAlive(workspace: string): boolean {
  try {
    const h = JSON.parse(readFileSync(serverPaths(workspace).lock, 'utf8')) as { pid: number };
    return processRef(h.pid) !== null; // a zombie holder has exited
  } catch {
    return false;
  }
}
