import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { owned } from '../cli/run-cli.js';

export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** A temp dir holding a workspace and pipeline files; `cleanup` removes it. */
export function sandbox() {
  const dir = mkdtempSync(join(tmpdir(), 'distml-wf-'));
  const ws = join(dir, 'ws');
  return {
    dir,
    ws,
    file(name: string, text: string) {
      const p = join(dir, name);
      writeFileSync(p, text);
      return p;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Starts `distml ARGS` as a child process. */
export function startCli(
  args: string[],
  opts: { cwd?: string } = {},
): { child: ChildProcess; done: Promise<Result> } {
  const child = owned(
    spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: opts.cwd }),
  );
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<Result>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
  return { child, done };
}

export const cli = (args: string[], opts: { cwd?: string } = {}) => startCli(args, opts).done;

/** The run's status as `distml get RUN -o json` prints it. */
export async function getRun(
  ws: string,
  run: string,
): Promise<{ status: { phase: string; nodes: Record<string, Node> } }> {
  const r = await cli(['get', run, '-o', 'json', `--workspace=${ws}`]);
  return JSON.parse(r.stdout) as { status: { phase: string; nodes: Record<string, Node> } };
}

export interface Node {
  id: string;
  displayName: string;
  phase: string;
  message?: string;
  outputs?: { result?: string; parameters: { name: string; value: string }[] };
  memoizationStatus?: { hit: boolean; key: string; cacheName: string };
  retries: number;
  startedAt: string | null;
  finishedAt: string | null;
}

/** The run name a `distml run --json` printed (from its first event line). */
export function runName(r: { stderr: string }): string {
  const line = r.stderr.split('\n').find((l) => l.includes('"event":"run"'));
  return (JSON.parse(line!) as { run: string }).run;
}

export const byName = (nodes: Record<string, Node>, name: string) =>
  Object.values(nodes).find((n) => n.displayName === name);

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
