// One control plane per workspace: it holds the workspace's server lock, owns the machine's resource pool,
// runs every run's engine in this process (steps are children that die with it), answers the API, and
// stops — every run and process with it — on request, on its idle timeout, or when its workspace is removed.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { acquireLock, type HeldLock } from '../durable/index.js';
import { JobStore, MetadataStore } from '../metadata/index.js';
import { startTimeOf } from '../process/index.js';
import { appliedQueueConfig, persistTo, ResourcePool } from '../scheduler/index.js';
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
import type { Api } from './api.js';
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

/** Starts the workspace's server: lock, reconciliation, then the API; resolves once it answers. */
export async function startServer(o: ServerOptions): Promise<RunningServer> {
  ensureServerDir(o.workspace);
  const lock = await takeLock(o.workspace);
  const plane = new ControlPlane(o, lock);
  try {
    await plane.listen();
  } catch (err) {
    await plane.stop(`could not start: ${(err as Error).message}`);
    throw err;
  }
  return { info: plane.info!, stop: (why) => plane.stop(why), done: plane.done };
}

class ControlPlane {
  readonly store: MetadataStore;
  readonly pool: ResourcePool;
  readonly runs: Runs;
  readonly http: Server;
  readonly startedAt = Date.now();
  readonly secret = randomBytes(32).toString('hex');
  info: ServerInfo | undefined;
  private lastRequest = Date.now();
  private stopping: Promise<void> | undefined;
  private watch: NodeJS.Timeout | undefined;
  private markDone: () => void = () => undefined;
  readonly done = new Promise<void>((resolve) => (this.markDone = resolve));

  constructor(
    private readonly o: ServerOptions,
    private readonly lock: HeldLock,
  ) {
    this.store = MetadataStore.open(o.workspace);
    // The workspace's queue file (read at start; `distml queue apply` swaps it live through the API) and its
    // job table (`distml jobs`).
    const jobs = new JobStore(this.store.db);
    this.pool = new ResourcePool({
      cores: o.cores,
      memory: o.memory,
      config: appliedQueueConfig(jobs),
      onCycle: persistTo(jobs),
    });
    const { store, pool } = this;
    this.runs = new Runs({ store, workspace: o.workspace, pool, distmlCommand: o.distmlCommand, log: o.log });
    const api: Api = {
      store,
      jobs,
      pool,
      runs: this.runs,
      status: () => statusOf(this.info!, this.runs, pool, o),
      shutdown: () => void this.stop('asked by the API'),
    };
    this.http = createServer((req, res) => {
      this.lastRequest = Date.now();
      void handle(api, this.secret, req, res, o.log);
    });
  }

  /** Reconciles what a previous server left, listens, and writes the address file. */
  async listen(): Promise<void> {
    const { o } = this;
    const fixed = await reconcile(this.store, o.workspace, this.runs, o.log);
    if (fixed.resumed.length + fixed.failed.length) o.log(`reconciled: ${JSON.stringify(fixed)}`);
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(o.port ?? 0, o.host ?? '127.0.0.1', resolve);
    });
    const addr = this.http.address() as AddressInfo;
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    this.info = {
      url: `http://${host}:${addr.port}`,
      secret: this.secret,
      pid: process.pid,
      startTime: startTimeOf(process.pid) ?? 0,
      startedAt: this.startedAt,
      auto: o.auto,
    };
    await writeServerInfo(o.workspace, this.info);
    this.watch = setInterval(() => this.tick(), WATCH_MS);
    o.log(`listening on ${this.info.url} (pid ${process.pid}, ${o.cores} cores)`);
  }

  /** Stops when the workspace (or the address file) is gone, or after the idle timeout. */
  private tick(): void {
    if (readServerInfo(this.o.workspace)?.pid !== process.pid)
      void this.stop('its workspace or server file was removed');
    const idle = Date.now() - Math.max(this.runs.idleSince, this.lastRequest);
    if (this.o.idleTimeoutMs > 0 && this.runs.active().length === 0 && idle > this.o.idleTimeoutMs)
      void this.stop(`idle for ${Math.round(idle / 1000)} s`);
  }

  /** Stops every run (their processes end), closes the API, releases the workspace; once. */
  stop(why: string): Promise<void> {
    this.stopping ??= (async () => {
      this.o.log(`stopping: ${why}`);
      clearInterval(this.watch);
      this.http.close();
      await this.runs.stopAll();
      this.http.closeAllConnections();
      this.pool.close();
      this.store.close();
      await removeServerInfo(this.o.workspace);
      await this.lock.release();
      this.o.log('stopped');
      this.markDone();
    })();
    return this.stopping;
  }
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
      cores: pool.poolOptions.cores,
      memory: pool.poolOptions.memory,
      available: pool.available,
      waiting: pool.waiting,
    },
  };
}
