// One control plane per workspace: it holds the workspace's server lock, owns the machine's resource pool,
// runs every run's engine in this process (steps are children that die with it), answers the API, and
// stops — every run and process with it — on request, on its idle timeout, or when its workspace is removed.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { acquireLock, type HeldLock } from '../durable/index.js';
import { MetadataStore } from '../metadata/index.js';
import { startTimeOf } from '../process/index.js';
import { ResourcePool } from '../scheduler/index.js';
import { ServerError } from './errors.js';
import {
  ensureServerDir,
  readServerInfo,
  removeServerInfo,
  serverPaths,
  writeServerInfo,
  type ServerInfo,
} from './files.js';
import { handle } from './http.js';
import { reconcile } from './reconcile.js';
import type { Api } from './routes.js';
import { Runs } from './runs.js';

export interface ServerOptions {
  workspace: string;
  /** Address to bind; default 127.0.0.1. */
  host?: string;
  /** Port; default 0 (the OS picks one). */
  port?: number;
  cores: number;
  memory: number;
  /** argv prefix that runs the distml CLI (built-in steps). */
  distmlCommand: string[];
  /** Stop after this long without an active run or request; 0 never. */
  idleTimeoutMs: number;
  /** Started on demand by a CLI. */
  auto: boolean;
  log: (line: string) => void;
}

export interface RunningServer {
  info: ServerInfo;
  /** Stops every run and process, then the server; resolves when it is down. */
  stop(why: string): Promise<void>;
  /** Resolves once the server is down (whatever stopped it). */
  done: Promise<void>;
}

/** How often the idle timeout and the workspace's presence are checked. */
const WATCH_MS = 1000;

async function takeLock(workspace: string): Promise<HeldLock> {
  try {
    return await acquireLock(serverPaths(workspace).lock, { timeoutMs: 300 });
  } catch (err) {
    const other = readServerInfo(workspace);
    throw new ServerError(
      'SERVER_RUNNING',
      `a server already runs for ${workspace}${other ? ` (pid ${other.pid}, ${other.url})` : ''}: \`distml server status\` shows it, \`distml server stop\` stops it (${(err as Error).message})`,
    );
  }
}

export async function startServer(o: ServerOptions): Promise<RunningServer> {
  ensureServerDir(o.workspace);
  const lock = await takeLock(o.workspace);
  const store = MetadataStore.open(o.workspace);
  const pool = new ResourcePool({ cores: o.cores, memory: o.memory });
  const runs = new Runs({ store, workspace: o.workspace, pool, distmlCommand: o.distmlCommand, log: o.log });
  const startedAt = Date.now();
  let lastRequest = startedAt;
  let stopping: Promise<void> | undefined;
  let info: ServerInfo | undefined;
  const secret = randomBytes(32).toString('hex');
  const api: Api = {
    store,
    runs,
    status: () => statusOf(info!, runs, pool, o),
    shutdown: () => void stop('asked by the API'),
  };
  const http: Server = createServer((req, res) => {
    lastRequest = Date.now();
    void handle(api, secret, req, res, o.log);
  });
  let watch: NodeJS.Timeout | undefined;
  let markDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (markDone = resolve));
  const stop = (why: string): Promise<void> =>
    (stopping ??= (async () => {
      o.log(`stopping: ${why}`);
      clearInterval(watch);
      http.close();
      await runs.stopAll();
      http.closeAllConnections();
      store.close();
      await removeServerInfo(o.workspace);
      await lock.release();
      o.log('stopped');
      markDone();
    })());
  try {
    const fixed = await reconcile(store, o.workspace, runs, o.log);
    if (fixed.resumed.length + fixed.failed.length) o.log(`reconciled: ${JSON.stringify(fixed)}`);
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(o.port ?? 0, o.host ?? '127.0.0.1', resolve);
    });
  } catch (err) {
    await runs.stopAll();
    store.close();
    await lock.release();
    throw err;
  }
  const addr = http.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  info = {
    url: `http://${host}:${addr.port}`,
    secret,
    pid: process.pid,
    startTime: startTimeOf(process.pid) ?? 0,
    startedAt,
    auto: o.auto,
  };
  await writeServerInfo(o.workspace, info);
  watch = setInterval(() => {
    if (readServerInfo(o.workspace)?.pid !== process.pid)
      void stop('its workspace or server file was removed');
    const idle = Date.now() - Math.max(runs.idleSince, lastRequest);
    if (o.idleTimeoutMs > 0 && runs.active().length === 0 && idle > o.idleTimeoutMs)
      void stop(`idle for ${Math.round(idle / 1000)} s`);
  }, WATCH_MS);
  o.log(`listening on ${info.url} (pid ${process.pid}, ${o.cores} cores)`);
  return { info, stop, done };
}

function statusOf(
  info: ServerInfo,
  runs: Runs,
  pool: ResourcePool,
  o: ServerOptions,
): Record<string, unknown> {
  return {
    url: info.url,
    pid: info.pid,
    workspace: o.workspace,
    startedAt: new Date(info.startedAt).toISOString(),
    uptimeMs: Date.now() - info.startedAt,
    auto: info.auto,
    idleTimeoutMs: o.idleTimeoutMs,
    runs: runs.active().map((name) => ({ name, ...runs.describe(name) })),
    resources: {
      cores: pool.options.cores,
      memory: pool.options.memory,
      available: pool.available,
      waiting: pool.waiting,
    },
  };
}
