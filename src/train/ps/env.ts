import { z } from 'zod';
import { TrainError } from '../errors.js';
import { JOB_SECRET_ENV } from '../distributed/env.js';
import type { ServerAddress } from './client.js';
import type { Shard } from './partition.js';

// The environment the launcher gives the processes it starts (and that a user sets to run them by hand):
//   DISTML_PS_ROLE       server | worker
//   DISTML_PS_WORKERS    number of workers in the job
//   DISTML_PS_PARTITION  JSON [{index, start, end}, …]: the contiguous shards of the flat parameter vector
//   DISTML_JOB_SECRET    the job's secret: servers refuse connections without it (never argv, never logs)
//   server: DISTML_PS_INDEX (its shard), DISTML_PS_HOST (listen address, default 127.0.0.1), DISTML_PS_PORT (0 = any)
//   worker: DISTML_PS_RANK (0 = chief), DISTML_PS_SERVERS (host:port of shard 0, 1, … comma-separated)
export const PS_ENV = {
  role: 'DISTML_PS_ROLE',
  workers: 'DISTML_PS_WORKERS',
  partition: 'DISTML_PS_PARTITION',
  index: 'DISTML_PS_INDEX',
  host: 'DISTML_PS_HOST',
  port: 'DISTML_PS_PORT',
  rank: 'DISTML_PS_RANK',
  servers: 'DISTML_PS_SERVERS',
  secret: JOB_SECRET_ENV,
} as const;

export type PsRole = { secret: string } & (
  | { role: 'server'; index: number; host: string; port: number; workers: number; shards: Shard[] }
  | { role: 'worker'; rank: number; workers: number; servers: ServerAddress[]; shards: Shard[] }
);

const int = (name: string, min: number) =>
  z.coerce
    .number({ message: `${name} must be an integer` })
    .int(`${name} must be an integer`)
    .min(min, `${name} must be at least ${min}`);

const shards = z.array(
  z.object({ index: z.number().int().min(0), start: z.number().int().min(0), end: z.number().int().min(1) }),
);

const serverEnv = z.object({
  DISTML_PS_INDEX: int('DISTML_PS_INDEX', 0),
  DISTML_PS_HOST: z.string().min(1).default('127.0.0.1'),
  DISTML_PS_PORT: int('DISTML_PS_PORT', 0).max(65535, 'DISTML_PS_PORT must be at most 65535').default(0),
  DISTML_PS_WORKERS: int('DISTML_PS_WORKERS', 1),
});

const workerEnv = z.object({
  DISTML_PS_RANK: int('DISTML_PS_RANK', 0),
  DISTML_PS_WORKERS: int('DISTML_PS_WORKERS', 1),
  DISTML_PS_SERVERS: z
    .string({ message: 'DISTML_PS_SERVERS must list the servers as host:port,…' })
    .regex(/^[^:,]+:\d+(,[^:,]+:\d+)*$/, 'DISTML_PS_SERVERS must list the servers as host:port,…'),
});

function fail(what: string): never {
  throw new TrainError('TRAIN_BAD_ENV', `parameter-server environment: ${what}`);
}

/** Reads a parameter-server role from the environment, or undefined (this process is the launcher). */
export function readPsRole(env: NodeJS.ProcessEnv): PsRole | undefined {
  const role = env[PS_ENV.role];
  if (role === undefined) return undefined;
  if (role !== 'server' && role !== 'worker') fail(`${PS_ENV.role} must be server or worker (got ${role})`);
  const secret = env[PS_ENV.secret];
  if (!secret)
    fail(
      `${PS_ENV.secret} must be set to the job's secret (one value shared by the job's servers and workers, ` +
        'e.g. from `openssl rand -hex 32`)',
    );
  let parts: Shard[];
  try {
    const r = shards.safeParse(JSON.parse(env[PS_ENV.partition] ?? ''));
    if (!r.success) fail(`${PS_ENV.partition}: ${r.error.issues[0]?.message}`);
    parts = r.data.map((s) => ({ ...s, pieces: [] }));
  } catch (err) {
    if (err instanceof TrainError) throw err;
    fail(`${PS_ENV.partition} must be the JSON list of shards`);
  }
  if (role === 'server') {
    const r = serverEnv.safeParse(env);
    if (!r.success) fail(r.error.issues[0]?.message ?? 'bad server environment');
    const e = r.data;
    if (e.DISTML_PS_INDEX >= parts.length)
      fail(`DISTML_PS_INDEX ${e.DISTML_PS_INDEX} is not a shard of ${parts.length}`);
    return {
      role,
      secret,
      index: e.DISTML_PS_INDEX,
      host: e.DISTML_PS_HOST,
      port: e.DISTML_PS_PORT,
      workers: e.DISTML_PS_WORKERS,
      shards: parts,
    };
  }
  const r = workerEnv.safeParse(env);
  if (!r.success) fail(r.error.issues[0]?.message ?? 'bad worker environment');
  const e = r.data;
  if (e.DISTML_PS_RANK >= e.DISTML_PS_WORKERS)
    fail(`DISTML_PS_RANK ${e.DISTML_PS_RANK} must be below DISTML_PS_WORKERS ${e.DISTML_PS_WORKERS}`);
  const servers = e.DISTML_PS_SERVERS.split(',').map((a) => {
    const [host, port] = a.split(':');
    return { host: host ?? '', port: Number(port) };
  });
  if (servers.length !== parts.length)
    fail(`${servers.length} servers in DISTML_PS_SERVERS for ${parts.length} shards`);
  return { role, secret, rank: e.DISTML_PS_RANK, workers: e.DISTML_PS_WORKERS, servers, shards: parts };
}
