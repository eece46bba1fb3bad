// One attempt of a leaf step: start its process with its logs, wait for its exit (or a daemon's readiness),
// judge it, read its outputs, record its metrics, and remove its scratch dir when it succeeded.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { StoredArtifact } from '../../metadata/index.js';
import { isolatedArgv, pruneKeepPoints } from '../artifacts/private-paths.js';
import type { Template } from '../spec/schema.js';
import { BUILTINS } from '../steps/builtin.js';
import { pathVariables, placeInputs, planStepFiles, saveOutputs, type StepFiles } from './artifacts.js';
import { fileName, runDirs, transition, type RunContext } from './context.js';
import { commandOf, readCapped, waitExit } from './launch.js';
import { lastJson, leafParameter } from './outputs.js';
import { NODE_KEY_ENV, startProcess } from './process.js';
import { followProgress } from './progress.js';
import { waitReady } from './readiness.js';
import { judgeExit, type Attempt } from './verdict.js';

/** What one attempt needs besides the template: which try it is and what the node holds. */
export interface AttemptPlan {
  id: string;
  scope: Map<string, string>;
  attempt: number;
  daemon: boolean;
  cores: number;
  deadlineAt: number | undefined;
  /** False while the step's resources are given back after a preemption (admit.ts Held.mayStart). */
  mayStart: () => boolean;
}

/** The step's command with its artifacts in place, or the Error that kept it from starting. */
async function prepare(
  ctx: RunContext,
  t: Template,
  a: AttemptPlan,
  scratch: string,
  env: NodeJS.ProcessEnv,
) {
  const files = planStepFiles(ctx, t, a.id, scratch, env);
  if (typeof files === 'string') return files;
  pathVariables(t, files, a.scope);
  try {
    const launch = commandOf(ctx, t, a.id, a.scope, scratch);
    await placeInputs(ctx, t, a.id, files, { scope: a.scope, cwd: launch.cwd, scratch });
    const argv = files.mounts.length ? isolatedArgv(files.mounts, launch.argv) : launch.argv;
    return { files, launch, argv };
  } catch (err) {
    return (err as Error).message;
  }
}

/** Runs one attempt of a leaf step to its end (a daemon: to its readiness) and reads its outputs. */
export async function runAttempt(ctx: RunContext, t: Template, a: AttemptPlan): Promise<Attempt> {
  const { id } = a;
  const dirs = runDirs(ctx.workspace, ctx.run);
  const scratch = join(dirs.scratch, fileName(id));
  const base = join(dirs.logs, fileName(id));
  mkdirSync(scratch, { recursive: true });
  mkdirSync(dirs.logs, { recursive: true });
  const env = { ...process.env };
  const ready = await prepare(ctx, t, a, scratch, env);
  if (typeof ready === 'string') return { phase: 'Error', message: ready, outputs: {}, exitCode: null };
  const { files, launch, argv } = ready;
  // Checked in the same tick as the start below: a preemption lands either before (no start) or after it.
  if (!a.mayStart())
    return {
      phase: 'Error',
      message: 'preempted before it started',
      outputs: {},
      exitCode: null,
      unstarted: true,
    };
  const started = Date.now();
  // Set up before the step starts, so its first lines (after what earlier attempts wrote) are not missed.
  const unfollow = followProgress(ctx, id, `${base}.stderr.log`);
  const proc = startProcess({
    argv,
    cwd: launch.cwd,
    env: {
      ...env,
      ...launch.env,
      DISTML_RUN: ctx.run,
      DISTML_SCRATCH: scratch,
      // The step's share of the pool as its libtorch thread budget (at least one thread).
      DISTML_THREADS: String(Math.max(1, Math.floor(a.cores))),
      [NODE_KEY_ENV]: `${ctx.run}/${id}`,
    },
    stdoutPath: `${base}.stdout.log`,
    stderrPath: `${base}.stderr.log`,
    banner: `--- attempt ${a.attempt + 1} at ${new Date(started).toISOString()}: ${launch.argv.join(' ')}\n`,
  });
  transition(ctx, id, {
    phase: 'Running',
    pid: proc.pid ?? null,
    pidStart: proc.ref?.startTime ?? null,
    scratchDir: scratch,
    logPath: `${base}.stdout.log`,
    message: a.attempt > 0 ? `attempt ${a.attempt + 1}` : null,
  });
  const exit = a.daemon
    ? await waitReady(proc, `${base}.stdout.log`, {
        signal: ctx.signal,
        timeoutMs: ctx.daemonReadyTimeoutMs,
      })
    : await waitExit(ctx, t, proc, a.deadlineAt, `${ctx.run}/${id}`);
  if (exit === 'ready') ctx.daemons.add(proc);
  if (exit !== 'ready') pruneKeepPoints(files.mounts);
  const stdout = readCapped(`${base}.stdout.log`);
  const metrics: Record<string, number> = {
    durationSeconds: (Date.now() - started) / 1000,
    peakRssBytes: proc.peakRss(),
  };
  const failed =
    exit === 'ready'
      ? undefined
      : judgeExit(exit, {
          aborted: ctx.signal.aborted,
          stdout,
          stderrTail: () => readCapped(`${base}.stderr.log`),
        });
  const r = failed ?? (await success(ctx, t, id, stdout, { cwd: launch.cwd, files }));
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

/** A clean exit's outputs: `outputs.result`, output parameters, and a built-in step's figures and artifacts. */
async function success(
  ctx: RunContext,
  t: Template,
  id: string,
  stdout: string,
  { cwd, files }: { cwd: string; files: StepFiles },
): Promise<Attempt> {
  const exitCode = 0;
  const result = stdout.replace(/\r?\n$/, '');
  const parameters: Record<string, string> = {};
  let metrics: Record<string, number> = {};
  let artifacts: StoredArtifact[] = [];
  try {
    if (t.distml) {
      const read = BUILTINS[t.distml.kind].read(lastJson(result));
      Object.assign(parameters, read.parameters);
      metrics = read.metrics;
      for (const x of read.artifacts)
        ctx.store.recordArtifact({
          run: ctx.run,
          node: id,
          kind: x.kind,
          uri: x.uri,
          digest: x.digest ?? null,
        });
    }
    for (const p of t.outputs?.parameters ?? [])
      parameters[p.name] = leafParameter(p, result, cwd, (path) => files.hostPath(path, cwd));
    artifacts = await saveOutputs(ctx, t, id, files, cwd);
  } catch (err) {
    return { phase: 'Error', message: (err as Error).message, outputs: { result }, exitCode };
  }
  const outputs = { result, parameters, exitCode, ...(artifacts.length ? { artifacts } : {}) };
  return { phase: 'Succeeded', message: null, outputs, exitCode, metrics };
}
