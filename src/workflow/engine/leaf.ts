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
import { lastJson, leafParameter } from './outputs.js';
import { isPreemptedExit } from './preempt.js';
import { decideRetry, type RetryDecision } from './retry.js';
import { followProgress } from './progress.js';

/** Argo caps outputs.result at 256 KiB; so do we. */
const MAX_RESULT = 256 * 1024;

interface Attempt {
  phase: 'Succeeded' | 'Failed' | 'Error';
  /** Stopped for preemption (preempt.ts): requeued, not failed. */
  preempted?: boolean;
  message: string | null;
  outputs: NodeOutputs;
  exitCode: number | null;
  /** A daemon that is up: settles when it exits (its cores are released then). */
  daemonExited?: Promise<unknown>;
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
  const firstStartedAt = Date.now();
  const deadlineAt = t.timeout !== undefined ? firstStartedAt + parseDuration(t.timeout) : undefined;
  try {
    const limit = t.retryStrategy?.limit ?? 0;
    for (let attempt = 0; ; attempt++) {
      // `{{retries}}`: which attempt this is (0 for the first), as Argo numbers them.
      const attemptScope = new Map([...scope, ['retries', String(attempt)]]);
      const attemptStart = Date.now();
      const r = await runAttempt(ctx, t, id, attemptScope, attempt, daemon, cores, deadlineAt);
      if (r.preempted && !ctx.signal.aborted) {
        release();
        release = () => undefined;
        try {
          release = await requeue(ctx, id, { cores, memory });
        } catch (err) {
          const phase = ctx.signal.aborted ? 'Failed' : 'Error';
          return finish(ctx, id, { ...r, phase, message: (err as Error).message });
        }
        attempt--; // a preemption is not a failed attempt: retryStrategy does not count it
        continue;
      }
      if (r.phase === 'Succeeded') {
        if (r.daemonExited) {
          keepRelease = true;
          void r.daemonExited.then(release);
        }
        if (memo) saveMemo(ctx, memo, id, r.outputs);
        return finish(ctx, id, r);
      }
      if (ctx.signal.aborted) return finish(ctx, id, r);
      let next: RetryDecision;
      try {
        const failed = {
          phase: r.phase,
          message: r.message,
          exitCode: r.exitCode,
          durationMs: Date.now() - attemptStart,
        };
        next = decideRetry(t, attempt, failed, {
          firstStartedAt,
          now: Date.now(),
          scope: attemptScope,
          deadlineAt,
        });
      } catch (err) {
        return finish(ctx, id, { ...r, phase: 'Error', message: `retryStrategy: ${(err as Error).message}` });
      }
      if (!next.retry)
        return finish(ctx, id, next.why ? { ...r, message: `${r.message ?? r.phase}; ${next.why}` } : r);
      const delay = next.delayMs;
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

/** A preempted step gives its resources back and queues for them again, like a newly submitted one. */
async function requeue(
  ctx: RunContext,
  id: string,
  request: { cores: number; memory: number },
): Promise<() => void> {
  transition(ctx, id, { phase: 'Running', message: 'preempted: checkpointed and requeued' });
  return ctx.pool.acquire(`${ctx.run}/${id}`, request, ctx.signal);
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
  deadlineAt: number | undefined,
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
    pidStart: proc.ref?.startTime ?? null,
    scratchDir: scratch,
    logPath: `${base}.stdout.log`,
    message: attempt > 0 ? `attempt ${attempt + 1}` : null,
  });
  const exit = daemon
    ? await waitReady(ctx, proc, `${base}.stdout.log`)
    : await waitExit(ctx, t, proc, deadlineAt, `${ctx.run}/${id}`);
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
  return exit === 'ready' ? { ...r, daemonExited: proc.exited } : r;
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

/** Waits for a step to exit; stops it at activeDeadlineSeconds (this attempt) or at the template's timeout. */
async function waitExit(
  ctx: RunContext,
  t: Template,
  proc: StepProcess,
  deadlineAt: number | undefined,
  owner: string,
) {
  let preempted = false;
  const detach = ctx.preemptions?.attach(owner, proc, () => (preempted = true));
  const stop = () => {
    proc.kill('SIGTERM');
    setTimeout(() => proc.kill('SIGKILL'), 5000).unref();
  };
  let timedOut: string | false = false;
  const limits = [
    ...(t.activeDeadlineSeconds !== undefined
      ? [
          {
            ms: t.activeDeadlineSeconds * 1000,
            why: `exceeded activeDeadlineSeconds ${t.activeDeadlineSeconds}`,
          },
        ]
      : []),
    ...(deadlineAt !== undefined
      ? [{ ms: Math.max(0, deadlineAt - Date.now()), why: `exceeded timeout ${t.timeout}` }]
      : []),
  ].sort((a, b) => a.ms - b.ms);
  const first = limits[0];
  const deadline = first
    ? setTimeout(() => {
        timedOut = first.why;
        stop();
      }, first.ms)
    : undefined;
  ctx.signal.addEventListener('abort', stop, { once: true });
  const status = await proc.exited;
  detach?.();
  ctx.signal.removeEventListener('abort', stop);
  clearTimeout(deadline);
  return { ...status, timedOut: timedOut as string | false, preempted };
}

/**
 * A daemon is ready once it printed a whole first line on stdout; it failed if it exited before, or if the
 * run is stopped or the readiness deadline passes first (then it is stopped: SIGTERM, SIGKILL after 5 s).
 */
async function waitReady(ctx: RunContext, proc: StepProcess, stdoutPath: string) {
  let exited: Awaited<StepProcess['exited']> | undefined;
  void proc.exited.then((s) => (exited = s));
  const deadline = Date.now() + ctx.daemonReadyTimeoutMs;
  for (;;) {
    if (existsSync(stdoutPath) && readFileSync(stdoutPath, 'utf8').includes('\n')) return 'ready' as const;
    if (exited) return { ...exited, timedOut: false as const };
    if (ctx.signal.aborted || Date.now() > deadline) {
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      const status = await proc.exited;
      clearTimeout(timer);
      const notReadyAfterMs = ctx.signal.aborted ? undefined : ctx.daemonReadyTimeoutMs;
      return { ...status, timedOut: false as const, notReadyAfterMs };
    }
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
  exit: {
    code: number | null;
    signal: NodeJS.Signals | null;
    error?: Error;
    timedOut: string | false;
    notReadyAfterMs?: number;
    preempted?: boolean;
  },
  stdout: string,
  cwd: string,
  base: string,
): Attempt & { metrics?: Record<string, number> } {
  if (exit.error)
    return { phase: 'Error', message: `cannot start: ${exit.error.message}`, outputs: {}, exitCode: null };
  if (ctx.signal.aborted) return { phase: 'Failed', message: 'stopped', outputs: {}, exitCode: exit.code };
  if (exit.notReadyAfterMs !== undefined) {
    return {
      phase: 'Failed',
      message: `not ready within ${exit.notReadyAfterMs / 1000}s (a daemon is ready once it prints a line on stdout); stopped it`,
      outputs: {},
      exitCode: exit.code,
    };
  }
  // Asked to stop for preemption: a checkpointed stop (PREEMPTED_EXIT_CODE) or a kill at the grace's end.
  if (exit.preempted && (isPreemptedExit(exit.code) || exit.signal === 'SIGKILL')) {
    return { phase: 'Failed', preempted: true, message: 'preempted', outputs: {}, exitCode: exit.code };
  }
  if (exit.timedOut) {
    return {
      phase: 'Failed',
      message: exit.timedOut,
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
    for (const p of t.outputs?.parameters ?? []) parameters[p.name] = leafParameter(p, result, cwd);
  } catch (err) {
    return { phase: 'Error', message: (err as Error).message, outputs: { result }, exitCode };
  }
  return { phase: 'Succeeded', message: null, outputs: { result, parameters, exitCode }, exitCode, metrics };
}
