import { availableParallelism, totalmem } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { isRunning, terminate } from '../../process/index.js';
import {
  connect,
  liveServerInfo,
  serverPaths,
  ServerError,
  startServer,
  type ServerInfo,
} from '../../server/index.js';
import { durationFlag } from '../duration-flag.js';
import { flag, flagSet, parseFlags, UsageError, type Command } from '../command.js';
import { table } from '../output.js';
import { startWorkspaceServer } from '../server-client.js';
import { DISTML_COMMAND } from './run-engine.js';

const startFlags = flagSet({
  foreground: flag(z.boolean().default(false), 'run in this terminal instead of in the background'),
  host: flag(
    z.string().min(1, 'must name an address to bind, e.g. 0.0.0.0').default('127.0.0.1'),
    'address to bind',
    { valueName: 'ADDR' },
  ),
  port: flag(
    z.coerce.number({ message: 'must be a port number' }).int().min(0).max(65535).default(0),
    'port to listen on',
    { valueName: 'N', defaultText: 'picked by the OS' },
  ),
  cores: flag(
    z.coerce
      .number({ message: 'must be a positive number' })
      .positive('must be a positive number')
      .optional(),
    'cores all runs share',
    { valueName: 'N', defaultText: 'all cores' },
  ),
  'idle-timeout': flag(durationFlag(0).optional(), 'stop after this long without an active run (e.g. 5m)', {
    valueName: 'DURATION',
    defaultText: 'never',
  }),
});

export const serverStart: Command = {
  path: ['server', 'start'],
  summary: "start the workspace's control plane (HTTP API, shared resource pool, every run's engine)",
  usage: '[--foreground] [--host ADDR] [--port N] [--cores N] [--idle-timeout DURATION]',
  details: [
    'One server per workspace. It listens on 127.0.0.1 at a port the OS picks; its address and a bearer',
    'secret are in <workspace>/server/server.json (mode 0600), its log in <workspace>/server/server.log.',
    'Every request must carry `Authorization: Bearer SECRET`. `distml run` starts one on demand (it stops',
    'after --idle-timeout without runs, default 5m). Runs a previous server left are resumed when they were',
    'detached and marked Failed otherwise; processes they left are ended.',
  ].join('\n'),
  options: startFlags.options,
  async run({ values, global, out }) {
    const f = parseFlags(startFlags, values);
    if (f.foreground) {
      const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
      const server = await startServer({
        workspace: global.workspace,
        host: f.host,
        port: f.port,
        cores: f.cores ?? availableParallelism(),
        memory: totalmem(),
        distmlCommand: DISTML_COMMAND,
        idleTimeoutMs: f['idle-timeout'] ?? 0,
        auto: (f['idle-timeout'] ?? 0) > 0,
        log,
      });
      const stop = (sig: string) => void server.stop(`${sig} received`);
      for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, stop);
      await server.done;
      // Nothing may outlive a stopped server, this process included: leave even if a handle lingers.
      setTimeout(() => process.exit(0), 2000).unref();
      return;
    }
    const running = await connect(global.workspace);
    if (running)
      throw new ServerError(
        'SERVER_RUNNING',
        `a server already runs for ${global.workspace}: ${running.info.url} (pid ${running.info.pid})`,
      );
    const passed = Object.entries(values)
      .filter(([k, v]) => k in startFlags.options && k !== 'foreground' && typeof v === 'string')
      .map(([k, v]) => `--${k}=${String(v)}`);
    const client = await startWorkspaceServer(global.workspace, passed);
    out.result(
      { ...publicInfo(client.info), log: serverPaths(global.workspace).log },
      () =>
        `server for ${global.workspace} at ${client.info.url} (pid ${client.info.pid}); log: ${serverPaths(global.workspace).log}`,
    );
  },
};

const publicInfo = (i: ServerInfo) => ({
  url: i.url,
  pid: i.pid,
  startedAt: new Date(i.startedAt).toISOString(),
});

/** Longest `server stop` waits for the server to stop its runs before it is killed. */
const SERVER_STOP_MS = 120_000;

export const serverStop: Command = {
  path: ['server', 'stop'],
  summary: "stop the workspace's server: every run it drives and every process of them, then itself",
  options: {},
  async run({ positionals, global, out }) {
    if (positionals.length) throw new UsageError('server stop takes no arguments');
    const info = liveServerInfo(global.workspace);
    if (!info) {
      out.result({ stopped: false }, () => `no server runs for ${global.workspace}`);
      return;
    }
    const ref = { pid: info.pid, startTime: info.startTime };
    const client = await connect(global.workspace);
    await client?.call('POST', '/api/v1/shutdown').catch(() => undefined);
    const deadline = Date.now() + SERVER_STOP_MS;
    while (isRunning(ref) && Date.now() < deadline) await sleep(100);
    // A server that does not stop is killed; its steps die with it (parent-death signal).
    if (isRunning(ref)) await terminate([ref]);
    out.result({ stopped: true, pid: info.pid }, () => `server ${info.pid} stopped`);
  },
};

interface Status {
  url: string;
  pid: number;
  uptimeMs: number;
  idleTimeoutMs: number;
  runs: { name: string; detached: boolean; followers: number }[];
  resources: { cores: number; memory: number; available: { cores: number; memory: number }; waiting: number };
}

export const serverStatus: Command = {
  path: ['server', 'status'],
  summary: "show the workspace's server: address, pid, uptime, runs, resources",
  options: {},
  async run({ global, out }) {
    const client = await connect(global.workspace);
    if (!client) {
      out.result(
        { running: false },
        () => `no server runs for ${global.workspace}; \`distml server start\` starts one`,
      );
      return;
    }
    const s = await client.call<Status>('GET', '/api/v1/status');
    out.result({ running: true, ...s }, () =>
      [
        `server ${s.url} (pid ${s.pid}), up ${Math.round(s.uptimeMs / 1000)} s${s.idleTimeoutMs ? `, stops after ${s.idleTimeoutMs / 1000} s idle` : ''}`,
        `cores: ${s.resources.available.cores} of ${s.resources.cores} free, ${s.resources.waiting} steps waiting`,
        s.runs.length
          ? table([
              ['RUN', 'DETACHED', 'FOLLOWERS'],
              ...s.runs.map((r) => [r.name, String(r.detached), String(r.followers)]),
            ])
          : 'no active runs',
      ].join('\n'),
    );
  },
};
