import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NodeOutputs } from '../../metadata/index.js';
import { parseDuration, parseMemory } from '../expr/quantity.js';
import { substitute } from '../expr/template.js';
import type { Template } from '../spec/schema.js';
import { BUILTINS, builtinArgv } from '../steps/builtin.js';
import { fileName, runDirs, transition, type NodeResult, type RunContext } from './context.js';
import { lookupMemo, saveMemo, type MemoPlan } from './memo.js';
import { NODE_KEY_ENV, startProcess, type StepProcess } from './process.js';
import { followProgress } from './progress.js';

/** Argo caps outputs.result at 256 KiB; so do we. */
const MAX_RESULT = 256 * 1024;

interface Attempt {
  phase: 'Succeeded' | 'Failed' | 'Error';
  message: string | null;
  outputs: NodeOutputs;
  exitCode: number | null;
}

/** Runs a container, script or distml template as a process: memo, resources, retries, outputs, scratch. */
export async function runLeaf(
  ctx: RunContext,
  t: Template,
  id: string,
  scope: Map<string, string>,
): Promise<NodeResult> {
  const memo = t.memoize ? planMemo(t, scope) : undefined;
  if (memo) {
    const hit = lookupMemo(ctx, memo);
    if (hit) {
      const now = Date.now();
      transition(ctx, id, {
        phase: 'Succeeded',
        outputs: hit,
        memoizationStatus: { hit: true, key: memo.key, cacheName: memo.cacheName },
        finishedAt: now,
        message: 'memoized',
      });
      return { phase: 'Succeeded', outputs: hit };
    }
    ctx.store.updateNode(ctx.run, id, {
      memoizationStatus: { hit: false, key: memo.key, cacheName: memo.cacheName },
    });
  }
  const daemon = isDaemon(t);
  const cores = t.resources?.cores ?? (t.distml ? BUILTINS[t.distml.kind].defaultCores : 0);
  const memory = parseMemory(t.resources?.memory ?? 0);
  if (cores || memory) ctx.store.updateNode(ctx.run, id, { message: `waiting for ${cores} cores` });
  let release;
  try {
    release = await ctx.pool.acquire(`${ctx.run}/${id}`, { cores, memory }, ctx.signal);
  } catch (err) {
    return finish(ctx, id, {
      phase: ctx.signal.aborted ? 'Failed' : 'Error',
      message: (err as Error).message,
      outputs: {},
      exitCode: null,
    });
  }
  let keepRelease = false;
  try {
    const limit = t.retryStrategy?.limit ?? 0;
    for (let attempt = 0; ; attempt++) {
      const r = await runAttempt(ctx, t, id, scope, attempt, daemon, cores);
      if (r.phase === 'Succeeded') {
        if (daemon) keepRelease = true;
        if (memo) saveMemo(ctx, memo, id, r.outputs);
        return finish(ctx, id, r);
      }
      if (ctx.signal.aborted || attempt >= limit || !retryable(t, r.phase)) return finish(ctx, id, r);
      const delay = backoffMs(t, attempt);
      transition(ctx, id, {
        phase: 'Running',
        retries: attempt + 1,
        message: `${r.message ?? r.phase}; retry ${attempt + 1}/${limit} in ${(delay / 1000).toFixed(1)}s`,
      });
      try {
        await sleep(delay, undefined, { signal: ctx.signal });
      } catch {
        return finish(ctx, id, { ...r, message: 'stopped' });
      }
    }
  } finally {
    if (!keepRelease) release();
  }
}

/** A server: ready once it prints its first line, stopped when the run ends (`daemon: true`, built-in serve). */
export function isDaemon(t: Template): boolean {
  return Boolean(t.daemon ?? (t.distml && BUILTINS[t.distml.kind].daemon));
}

function planMemo(t: Template, scope: Map<string, string>): MemoPlan {
  const m = t.memoize!;
  return {
    key: substitute(m.key, scope),
    cacheName: m.cache.configMap.name,
    maxAgeMs: m.maxAge !== undefined ? parseDuration(m.maxAge) : undefined,
  };
}

function retryable(t: Template, phase: 'Failed' | 'Error'): boolean {
  const policy = t.retryStrategy?.retryPolicy ?? 'OnFailure';
  if (policy === 'Always') return true;
  if (policy === 'OnFailure') return phase === 'Failed';
  return phase === 'Error';
}

/** Argo's backoff: duration * factor^attempt, capped by maxDuration. Default 1s, factor 1 when unset. */
export function backoffMs(t: Template, attempt: number): number {
  const b = t.retryStrategy?.backoff;
  const base = b?.duration !== undefined ? parseDuration(b.duration) : 1000;
  const d = base * (b?.factor ?? 1) ** attempt;
  return b?.maxDuration !== undefined ? Math.min(d, parseDuration(b.maxDuration)) : d;
}

function finish(ctx: RunContext, id: string, r: Attempt): NodeResult {
  transition(ctx, id, {
    phase: r.phase,
    message: r.message,
    outputs: r.outputs,
    exitCode: r.exitCode,
    finishedAt: Date.now(),
  });
  return { phase: r.phase, outputs: r.outputs, message: r.message };
}

async function runAttempt(
  ctx: RunContext,
  t: Template,
  id: string,
  scope: Map<string, string>,
  attempt: number,
  daemon: boolean,
  cores: number,
): Promise<Attempt> {
  const dirs = runDirs(ctx.workspace, ctx.run);
  const scratch = join(dirs.scratch, fileName(id));
  const base = join(dirs.logs, fileName(id));
  mkdirSync(scratch, { recursive: true });
  mkdirSync(dirs.logs, { recursive: true });
  let launch;
  try {
    launch = commandOf(ctx, t, id, scope, scratch);
  } catch (err) {
    return { phase: 'Error', message: (err as Error).message, outputs: {}, exitCode: null };
  }
  const started = Date.now();
  // Set up before the step starts, so its first lines (after what earlier attempts wrote) are not missed.
  const unfollow = followProgress(ctx, id, `${base}.stderr.log`);
  const proc = startProcess({
    argv: launch.argv,
    cwd: launch.cwd,
    env: {
      ...process.env,
      ...launch.env,
      DISTML_RUN: ctx.run,
      DISTML_SCRATCH: scratch,
      // The step's share of the pool as its libtorch thread budget (at least one thread).
      DISTML_THREADS: String(Math.max(1, Math.floor(cores))),
      [NODE_KEY_ENV]: `${ctx.run}/${id}`,
    },
    stdoutPath: `${base}.stdout.log`,
    stderrPath: `${base}.stderr.log`,
    banner: `--- attempt ${attempt + 1} at ${new Date(started).toISOString()}: ${launch.argv.join(' ')}\n`,
  });
  transition(ctx, id, {
    phase: 'Running',
    pid: proc.pid ?? null,
    scratchDir: scratch,
    logPath: `${base}.stdout.log`,
    message: attempt > 0 ? `attempt ${attempt + 1}` : null,
  });
  const exit = daemon ? await waitReady(proc, `${base}.stdout.log`) : await waitExit(ctx, t, proc);
  if (daemon && exit === 'ready') ctx.daemons.add(proc);
  const stdout = readCapped(`${base}.stdout.log`);
  const metrics: Record<string, number> = {
    durationSeconds: (Date.now() - started) / 1000,
    peakRssBytes: proc.peakRss(),
  };
  const r =
    exit === 'ready'
      ? success(ctx, t, id, stdout, launch.cwd, 0)
      : judge(ctx, t, id, exit, stdout, launch.cwd, base);
  // A server's progress goes on while it serves; a finished step's is final.
  if (exit === 'ready') void proc.exited.then(() => unfollow(false));
  else unfollow(r.phase === 'Succeeded');
  if (r.exitCode !== null) metrics['exitCode'] = r.exitCode;
  ctx.store.recordMetrics(ctx.run, id, { ...metrics, ...(r.phase === 'Succeeded' ? r.metrics : {}) });
  // podGC OnPodSuccess: a failed step's scratch dir is kept for inspection. A ready daemon goes on running
  // in its scratch dir (its cwd, which its own children inherit): that goes once the daemon has stopped.
  const removeScratch = () => rmSync(scratch, { recursive: true, force: true });
  if (r.phase === 'Succeeded') {
    if (exit === 'ready') void proc.exited.then(removeScratch);
    else removeScratch();
  }
  return r;
}

interface Launch {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
}

function commandOf(
  ctx: RunContext,
  t: Template,
  id: string,
  scope: Map<string, string>,
  scratch: string,
): Launch {
  const sub = (s: string) => substitute(s, scope);
  if (t.distml) {
    const spec = BUILTINS[t.distml.kind];
    const withValues = Object.fromEntries(
      Object.entries(t.distml.with).map(([k, v]) => [k, Array.isArray(v) ? v.map(sub) : sub(v)]),
    );
    const artifactDir = join(runDirs(ctx.workspace, ctx.run).artifacts, fileName(id));
    const argv = [
      ...ctx.distmlCommand,
      ...builtinArgv(spec, withValues, artifactDir),
      `--workspace=${ctx.workspace}`,
    ];
    // Built-in steps are distml commands the user could type: relative paths in their flags (a repository,
    // a data dir) mean what they mean where the run was started, not inside a scratch dir that is deleted.
    return { argv, cwd: process.cwd(), env: {} };
  }
  const p = (t.container ?? t.script)!;
  const env = Object.fromEntries(p.env.map((e) => [e.name, sub(e.value)]));
  const cwd = p.workingDir !== undefined ? sub(p.workingDir) : scratch;
  let argv = [...p.command.map(sub), ...p.args.map(sub)];
  if (t.script) {
    const file = join(scratch, 'script');
    writeFileSync(file, sub(t.script.source), { mode: 0o755 });
    argv = [...t.script.command.map(sub), file, ...t.script.args.map(sub)];
  }
  return { argv, cwd: isAbsolute(cwd) ? cwd : join(scratch, cwd), env };
}

async function waitExit(ctx: RunContext, t: Template, proc: StepProcess) {
  const stop = () => {
    proc.kill('SIGTERM');
    setTimeout(() => proc.kill('SIGKILL'), 5000).unref();
  };
  let timedOut = false;
  const deadline =
    t.activeDeadlineSeconds !== undefined
      ? setTimeout(() => {
          timedOut = true;
          stop();
        }, t.activeDeadlineSeconds * 1000)
      : undefined;
  ctx.signal.addEventListener('abort', stop, { once: true });
  const status = await proc.exited;
  ctx.signal.removeEventListener('abort', stop);
  clearTimeout(deadline);
  return { ...status, timedOut };
}

/** A daemon is ready once it printed a whole first line on stdout; it failed if it exited before. */
async function waitReady(proc: StepProcess, stdoutPath: string) {
  let exited: Awaited<StepProcess['exited']> | undefined;
  void proc.exited.then((s) => (exited = s));
  for (;;) {
    if (existsSync(stdoutPath) && readFileSync(stdoutPath, 'utf8').includes('\n')) return 'ready' as const;
    if (exited) return { ...exited, timedOut: false };
    await sleep(100);
  }
}

function readCapped(path: string): string {
  try {
    const text = readFileSync(path, 'utf8');
    return text.length > MAX_RESULT ? text.slice(0, MAX_RESULT) : text;
  } catch {
    return '';
  }
}

function judge(
  ctx: RunContext,
  t: Template,
  id: string,
  exit: { code: number | null; signal: NodeJS.Signals | null; error?: Error; timedOut: boolean },
  stdout: string,
  cwd: string,
  base: string,
): Attempt & { metrics?: Record<string, number> } {
  if (exit.error)
    return { phase: 'Error', message: `cannot start: ${exit.error.message}`, outputs: {}, exitCode: null };
  if (ctx.signal.aborted) return { phase: 'Failed', message: 'stopped', outputs: {}, exitCode: exit.code };
  if (exit.timedOut) {
    return {
      phase: 'Failed',
      message: `exceeded activeDeadlineSeconds ${t.activeDeadlineSeconds}`,
      outputs: {},
      exitCode: exit.code,
    };
  }
  if (exit.code !== 0) {
    const why = exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
    return {
      phase: 'Failed',
      message: `${why}${failureDetail(stdout, base)}`,
      outputs: { exitCode: exit.code ?? -1 },
      exitCode: exit.code,
    };
  }
  return success(ctx, t, id, stdout, cwd, 0);
}

/** The distml error message from a --json result, else the last stderr line: what a user needs first. */
function failureDetail(stdout: string, base: string): string {
  try {
    const e = (JSON.parse(stdout.trim().split('\n').pop() ?? '') as { error?: { message?: string } }).error;
    if (e?.message) return `: ${e.message}`;
  } catch {
    // not JSON
  }
  const lines = readCapped(`${base}.stderr.log`).trim().split('\n');
  const last = lines[lines.length - 1] ?? '';
  return last && !last.startsWith('--- attempt') ? `: ${last.slice(0, 300)}` : '';
}

function success(
  ctx: RunContext,
  t: Template,
  id: string,
  stdout: string,
  cwd: string,
  exitCode: number,
): Attempt & { metrics?: Record<string, number> } {
  const result = stdout.replace(/\r?\n$/, '');
  const parameters: Record<string, string> = {};
  let metrics: Record<string, number> = {};
  try {
    if (t.distml) {
      const json = lastJson(result);
      const read = BUILTINS[t.distml.kind].read(json);
      Object.assign(parameters, read.parameters);
      metrics = read.metrics;
      for (const a of read.artifacts)
        ctx.store.recordArtifact({
          run: ctx.run,
          node: id,
          kind: a.kind,
          uri: a.uri,
          digest: a.digest ?? null,
        });
    }
    for (const p of t.outputs?.parameters ?? []) {
      const v = readOutput(p.valueFrom ?? {}, result, cwd);
      if (v !== undefined) parameters[p.name] = v;
      else if (p.default !== undefined) parameters[p.name] = p.default;
      else throw new Error(`output parameter "${p.name}": ${describeSource(p.valueFrom ?? {})} not found`);
    }
  } catch (err) {
    return { phase: 'Error', message: (err as Error).message, outputs: { result }, exitCode };
  }
  return { phase: 'Succeeded', message: null, outputs: { result, parameters, exitCode }, exitCode, metrics };
}

function lastJson(text: string): Record<string, unknown> {
  const line = text.trim().split('\n').pop() ?? '';
  try {
    const v: unknown = JSON.parse(line);
    if (v && typeof v === 'object') return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new Error(`the step printed no JSON result on stdout (got ${JSON.stringify(line.slice(0, 80))})`);
}

function readOutput(
  from: { path?: string; jsonPath?: string },
  result: string,
  cwd: string,
): string | undefined {
  if (from.path !== undefined) {
    const file = isAbsolute(from.path) ? from.path : join(cwd, from.path);
    return existsSync(file) ? readFileSync(file, 'utf8').replace(/\r?\n$/, '') : undefined;
  }
  if (from.jsonPath !== undefined) {
    let v: unknown = lastJson(result);
    for (const part of from.jsonPath
      .replace(/^\$\.?/, '')
      .split(/\.|\[(\d+)\]/)
      .filter(Boolean)) {
      v = v && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
    }
    return v === undefined ? undefined : typeof v === 'string' ? v : JSON.stringify(v);
  }
  return undefined;
}

const describeSource = (from: { path?: string; jsonPath?: string }) =>
  from.path !== undefined ? `file ${from.path}` : `field ${from.jsonPath} of the JSON result`;
