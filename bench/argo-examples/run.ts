// Runs Argo's own examples with `distml run` and compares each final phase to what Argo's e2e suite expects.
// Not part of `make test` or `make bench` (it needs a copy of argoproj/argo-workflows' examples/ folder):
//   git -C ARGO_CHECKOUT archive HEAD examples | tar -x -C /tmp/argo
//   node dist/bench/argo-examples/run.js /tmp/argo/examples [--timeout SECONDS] [--only NAME]... [--with-skipped]
// Each example runs in its own temporary workspace, under a per-example timeout. Prints a table, then the
// count passing, the examples excluded (and why) and those failing; exit code 1 if any fails.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ROOT } from '../harness.js';
import { classify, type Verdict } from './classify.js';

const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');

interface Row {
  example: string;
  verdict: Verdict;
  phase?: string;
  message?: string;
  seconds?: number;
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) return yamlFiles(p);
      return /\.ya?ml$/.test(name) ? [p] : [];
    });
}

const known = new Map<string, boolean>();
function has(program: string): boolean {
  if (!known.has(program))
    known.set(program, spawnSync('sh', ['-c', `command -v "$1"`, 'sh', program]).status === 0);
  return known.get(program)!;
}

/** Runs one workflow document with `distml run --json`; its final phase, or Timeout. */
async function runOne(doc: unknown, timeoutS: number): Promise<{ phase: string; message?: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'argo-example-'));
  try {
    const file = join(dir, 'workflow.json');
    writeFileSync(file, JSON.stringify(doc));
    const child = spawn(process.execPath, [CLI, 'run', file, '--json', `--workspace=${join(dir, 'ws')}`], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    // Interrupted (Ctrl-C): the example's run and its steps go too, and so does its temp dir.
    const interrupt = () => {
      process.kill(-child.pid!, 'SIGTERM');
      rmSync(dir, { recursive: true, force: true });
      process.exit(130);
    };
    process.once('SIGINT', interrupt).once('SIGTERM', interrupt);
    let timedOut = false;
    // SIGTERM first: the engine stops its steps (they are in their own process groups) and runs exit handlers.
    const end = () => {
      process.kill(-child.pid!, 'SIGTERM');
      setTimeout(() => child.exitCode === null && process.kill(-child.pid!, 'SIGKILL'), 15_000).unref();
    };
    const timer = setTimeout(() => {
      timedOut = true;
      end();
    }, timeoutS * 1000);
    await new Promise((resolve) => child.on('close', resolve));
    clearTimeout(timer);
    process.off('SIGINT', interrupt).off('SIGTERM', interrupt);
    if (timedOut) return { phase: 'Timeout', message: `still running after ${timeoutS}s` };
    try {
      const r = JSON.parse(out.trim().split('\n').pop() ?? '') as {
        phase?: string;
        message?: string | null;
        error?: { code: string; message: string };
      };
      if (r.error) {
        // WORKFLOW_RUN_FAILED says "run NAME Failed: why"; any other error is a refusal before the run started.
        const m = /^run \S+ (\w+): /.exec(r.error.message);
        const message = r.error.message.split('\n').slice(0, 3).join(' ');
        return { phase: r.error.code === 'WORKFLOW_RUN_FAILED' && m ? m[1]! : 'Refused', message };
      }
      return { phase: r.phase ?? '?', ...(r.message ? { message: r.message } : {}) };
    } catch {
      return { phase: 'Refused', message: err.trim().split('\n').slice(-2).join(' ') };
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const dir = args[0];
  if (!dir || dir.startsWith('-')) {
    console.error(
      'usage: node dist/bench/argo-examples/run.js EXAMPLES_DIR [--timeout SECONDS] [--only NAME]... [--with-skipped]',
    );
    process.exit(2);
  }
  const timeoutS = Number(args[args.indexOf('--timeout') + 1] ?? 0) || 120;
  const withSkipped = args.includes('--with-skipped');
  const only = args.flatMap((a, i) => (args[i - 1] === '--only' ? [a] : []));
  const rows: Row[] = [];
  for (const path of yamlFiles(dir)) {
    const name = relative(dir, path);
    if (only.length > 0 && !only.some((o) => name.includes(o))) continue;
    const docs = parseAllDocuments(readFileSync(path, 'utf8'));
    const list = Array.isArray(docs) ? docs : [docs];
    for (const [i, d] of list.entries()) {
      const doc = d.toJS() as unknown;
      if (doc === null || doc === undefined) continue;
      const example = list.length > 1 ? `${name}#${i}` : name;
      // Go's YAML reader accepts a multi-line quoted scalar indented no deeper than its key inside a flow
      // sequence (`args: ["` ... `"]`); ours, to the letter of YAML 1.2, does not. Such a document is listed.
      const verdict: Verdict =
        d.errors.length > 0
          ? { run: false, reason: `YAML distml cannot read: ${d.errors[0]!.message.split('\n')[0]}` }
          : classify(doc, has, { withSkipped });
      const row: Row = { example, verdict };
      if (verdict.run) {
        const t0 = performance.now();
        Object.assign(row, await runOne(doc, timeoutS), { seconds: (performance.now() - t0) / 1000 });
      }
      rows.push(row);
      printRow(row);
    }
  }
  summarise(rows);
}

const passes = (r: Row) =>
  r.verdict.run &&
  (r.phase === r.verdict.expect ||
    (r.verdict.expect === 'Either' && (r.phase === 'Succeeded' || r.phase === 'Failed')));

function printRow(r: Row): void {
  if (!r.verdict.run) return;
  const mark = passes(r) ? 'ok  ' : 'FAIL';
  const extra = passes(r) ? '' : `  (${r.message ?? ''})`;
  console.log(
    `${mark} ${r.example.padEnd(52)} expect ${r.verdict.expect.padEnd(9)} got ${String(r.phase).padEnd(9)} ${r.seconds!.toFixed(1)}s${extra}`,
  );
}

function summarise(rows: Row[]): void {
  const runnable = rows.filter((r) => r.verdict.run);
  const failing = runnable.filter((r) => !passes(r));
  const tested = runnable.filter((r) => r.verdict.run && !r.verdict.skippedByArgo);
  const extra = runnable.filter((r) => r.verdict.run && r.verdict.skippedByArgo);
  const count = (rs: Row[]) => `${rs.filter(passes).length}/${rs.length}`;
  console.log(`\n${count(tested)} runnable examples end as Argo's e2e expects`);
  if (extra.length > 0)
    console.log(`${count(extra)} of the examples Argo's e2e skips end Succeeded (--with-skipped)`);
  console.log(`\nexcluded (${rows.length - runnable.length}):`);
  for (const r of rows) if (!r.verdict.run) console.log(`  ${r.example}: ${r.verdict.reason}`);
  if (failing.length > 0) {
    console.log(`\nfailing (${failing.length}):`);
    for (const r of failing) console.log(`  ${r.example}: got ${r.phase} ${r.message ?? ''}`);
  }
  process.exitCode = failing.length > 0 ? 1 : 0;
}

await main();
