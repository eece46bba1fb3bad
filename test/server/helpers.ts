import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEBIAN_DIR } from '../../src/data/index.js';
import { JobStore, MetadataStore, type JobRow, type NodeRecord } from '../../src/metadata/index.js';
import { findByEnv, isRunning, type ProcessRef } from '../../src/process/index.js';
import { fileName, runDirs } from '../../src/workflow/index.js';
import { cli, until } from '../workflow/helpers.js';

export { cli, sandbox, startCli, until } from '../workflow/helpers.js';

/** What <workspace>/server/server.json says. */
export interface Info {
  url: string;
  secret: string;
  pid: number;
  startTime: number;
}

export function serverInfo(ws: string): Info {
  return JSON.parse(readFileSync(join(ws, 'server', 'server.json'), 'utf8')) as Info;
}

export const serverRef = (i: Info): ProcessRef => ({ pid: i.pid, startTime: i.startTime });

/** One API call with the workspace's secret (or `secret` when given, null for none). */
export async function api(
  ws: string,
  method: string,
  path: string,
  body?: string | object,
  secret?: string | null,
): Promise<{ status: number; json: Record<string, unknown> & { error?: string; code?: string } }> {
  const info = serverInfo(ws);
  const s = secret === undefined ? info.secret : secret;
  const res = await fetch(`${info.url}${path}`, {
    method,
    headers: s === null ? {} : { authorization: `Bearer ${s}` },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = { text };
  }
  return { status: res.status, json };
}

/** Live processes of a run (its steps and what they started), found by the run's marker in their environment. */
export const processesOf = (run: string) => findByEnv('DISTML_NODE_KEY', `${run}/`);

/** Waits until none of `refs` runs (or fails naming them). */
export async function gone(refs: ProcessRef[], what: string): Promise<void> {
  await until(what, 60_000, () => (refs.some(isRunning) ? undefined : true));
}

/** A run's status as `distml get RUN -o json` prints it. */
export async function status(ws: string, run: string): Promise<{ phase: string; message?: string }> {
  const r = await cli(['get', run, '-o', 'json', `--workspace=${ws}`]);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { status: { phase: string; message?: string } }).status;
}

/** Starts the workspace's server with `flags`; returns its info. */
export async function startServer(ws: string, flags: string[] = []): Promise<Info> {
  const r = await cli(['server', 'start', '--json', `--workspace=${ws}`, ...flags]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return serverInfo(ws);
}

/** Stops the workspace's server, asserting it is gone. */
export async function stopServer(ws: string): Promise<void> {
  const r = await cli(['server', 'stop', '--json', `--workspace=${ws}`]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
}

/** A workflow of one step running `command` (sh) with `cores`, named by generateName `prefix-`. */
export function oneStep(prefix: string, command: string, cores = 0): string {
  return `kind: Workflow
metadata: {generateName: ${prefix}-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps: [[{name: work, template: work}]]
  - name: work
    resources: {cores: ${cores}}
    container: {command: [sh, -c, ${JSON.stringify(command)}]}
`;
}

/** True when the real Fashion-MNIST (Debian's dataset-fashion-mnist) is installed: trainings can run. */
export const hasData = existsSync(join(DEBIAN_DIR, 'train-images-idx3-ubyte.gz'));

/** Submits a workflow file detached with extra flags; returns the run's name. */
export async function submit(ws: string, file: string, flags: string[]): Promise<string> {
  const r = await cli(['run', file, '--detach', '--json', `--workspace=${ws}`, ...flags]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return (JSON.parse(r.stdout) as { run: string }).run;
}

/** Waits for a run to end; returns its phase. */
export async function ended(ws: string, run: string, ms = 600_000): Promise<string> {
  return until(`${run} to end`, ms, async () => {
    const s = await status(ws, run);
    return s.phase === 'Running' || s.phase === 'Pending' ? undefined : s.phase;
  });
}

/** Reads the workspace database briefly (the server keeps writing it). */
export function readDb<T>(ws: string, f: (store: MetadataStore, jobs: JobStore) => T): T {
  const store = MetadataStore.open(ws);
  try {
    return f(store, new JobStore(store.db));
  } finally {
    store.close();
  }
}

/** A run's leaf steps (the nodes that run a process). */
export const podsOf = (ws: string, run: string): NodeRecord[] =>
  readDb(ws, (s) => s.listNodes(run).filter((n) => n.type === 'Pod'));

/** The scheduler jobs of a run (or of one step: one per admission, `<run>/<node id>#n`). */
export const jobsOf = (ws: string, run: string, node?: string): JobRow[] =>
  readDb(ws, (_, j) => j.list()).filter((j) => j.id.startsWith(`${run}/${node ?? ''}`));

/** A step's stdout or stderr log so far. */
export function stepLog(ws: string, run: string, node: string, stream: 'stdout' | 'stderr'): string {
  const p = join(runDirs(ws, run).logs, `${fileName(node)}.${stream}.log`);
  return existsSync(p) ? readFileSync(p, 'utf8') : '';
}

/** The JSON objects among a log's lines. */
export function jsonLines(text: string): Record<string, unknown>[] {
  return text.split('\n').flatMap((l) => {
    try {
      const v = JSON.parse(l) as unknown;
      return v && typeof v === 'object' ? [v as Record<string, unknown>] : [];
    } catch {
      return [];
    }
  });
}

/** Applies a queue file to the workspace (a running server takes it at once, else the next one reads it). */
export async function applyQueues(
  box: { ws: string; file(name: string, text: string): string },
  yaml: string,
): Promise<void> {
  const r = await cli(['queue', 'apply', box.file('queues.yaml', yaml), `--workspace=${box.ws}`]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
}

/** A workflow of one step holding `cores` until the file `gate` exists. */
export const gated = (prefix: string, gate: string, cores = 1): string =>
  oneStep(prefix, `while [ ! -e ${gate} ]; do sleep 0.2; done`, cores);

/** A queue file of one queue and two priority classes, high and low, with a short minimum run time. */
export const HIGH_LOW_QUEUES = [
  'clusterQueues: [{ name: default }]',
  'priorityClasses: [{ name: high, value: 1000 }, { name: low, value: 100 }]',
  'preemption: { minRunTime: 1s, gracePeriod: 60s }',
].join('\n');
