// What a leaf step runs and how long it may run: the argv, cwd and env of a container, script or built-in
// step, and the wait for its exit under activeDeadlineSeconds and the template's timeout.
import { readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { substitute } from '../expr/template.js';
import type { Template } from '../spec/schema.js';
import { BUILTINS, builtinArgv } from '../steps/builtin.js';
import { fileName, runDirs, type RunContext } from './context.js';
import type { StepProcess } from './process.js';
import type { ExitReport } from './verdict.js';

/** Argo caps outputs.result at 256 KiB; so do we. */
const MAX_RESULT = 256 * 1024;

export interface Launch {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
}

/** The command of a leaf template, its placeholders filled from `scope`; a script's source goes to `scratch`. */
export function commandOf(
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
    return { argv, cwd: ctx.cwd, env: {} };
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
export async function waitExit(
  ctx: RunContext,
  t: Template,
  proc: StepProcess,
  deadlineAt: number | undefined,
  owner: string,
): Promise<ExitReport> {
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
  return { ...status, timedOut, preempted };
}

/** A log's text, at most Argo's outputs.result limit; '' when there is no log. */
export function readCapped(path: string): string {
  try {
    const text = readFileSync(path, 'utf8');
    return text.length > MAX_RESULT ? text.slice(0, MAX_RESULT) : text;
  } catch {
    return '';
  }
}
