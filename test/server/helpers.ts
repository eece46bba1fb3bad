import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { findByEnv, isRunning, type ProcessRef } from '../../src/process/index.js';
import { cli } from '../workflow/helpers.js';

export { cli, sandbox, startCli } from '../workflow/helpers.js';

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

/** Waits for `probe` to return a value other than undefined; fails after `ms` naming `what`. */
export async function until<T>(
  what: string,
  ms: number,
  probe: () => Promise<T | undefined> | T | undefined,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms / 1000}s waiting for ${what}`);
    await sleep(200);
  }
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
