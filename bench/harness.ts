import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (bench scripts run from dist/bench/<name>/main.js). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Facts about the machine a result was measured on. */
export function machine(): Record<string, unknown> {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  };
}

/** Prints a benchmark's result as JSON and saves it to bench/results/<name>.json. */
export function report(name: string, result: Record<string, unknown>): void {
  const doc = { benchmark: name, date: new Date().toISOString(), machine: machine(), ...result };
  const dir = join(ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.json`), `${JSON.stringify(doc, null, 2)}\n`);
  console.log(JSON.stringify(doc, null, 2));
}

/** Seconds taken by `fn`. */
export async function time<T>(fn: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { seconds: (performance.now() - t0) / 1000, value };
}

/** Runs Debian's python (the anchor interpreter) on a script and parses the JSON it prints last. */
export function runPythonAnchor(
  script: string,
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Record<string, unknown> | undefined {
  try {
    const out = execFileSync('/usr/bin/python3', [script, ...args], {
      encoding: 'utf8',
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const last = out.trim().split('\n').pop() ?? '{}';
    return JSON.parse(last) as Record<string, unknown>;
  } catch (err) {
    console.error(`anchor ${script} did not run: ${(err as Error).message.split('\n')[0]}`);
    return undefined;
  }
}

/** Ratio rounded to 3 decimals, or null when the anchor is missing. */
export function ratio(ours: number, anchor: number | undefined): number | null {
  return anchor ? Math.round((ours / anchor) * 1000) / 1000 : null;
}
