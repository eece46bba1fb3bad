// The engine's side of elastic resizing (issue 13): the scheduler grows or shrinks a running training step
// between its min-workers and max-workers (its gang shape: steps/builtin.ts trainGang), through the
// training's control file (train/distributed/control.ts).
import { isAbsolute, join, resolve } from 'node:path';
import { controlFileFor, requestWorkers, withdrawRequest } from '../../train/index.js';
import type { Template } from '../spec/schema.js';
import { fileName, runDirs, type RunContext } from './context.js';

/**
 * `scope` plus the step's relative output artifact paths as every attempt sees them (artifacts.ts stepPath: a
 * built-in step's relative paths live in its scratch dir), so `out: '{{outputs.artifacts.model.path}}'` names
 * the control file before the attempt starts. An absolute path is private to each attempt: left out.
 */
export function withOutputPaths(
  ctx: RunContext,
  t: Template,
  id: string,
  scope: Map<string, string>,
): Map<string, string> {
  const scratch = join(runDirs(ctx.workspace, ctx.run).scratch, fileName(id));
  const out = new Map(scope);
  for (const a of t.outputs?.artifacts ?? [])
    if (a.path !== undefined && !isAbsolute(a.path))
      out.set(`outputs.artifacts.${a.name}.path`, join(scratch, a.path));
  return out;
}

/** Where a train step's launcher watches for resizes: its `control-file`, else `<out>.control.json`. */
export function controlFileOf(
  workspace: string,
  run: string,
  nodeId: string,
  cwd: string,
  withValues: Record<string, string | string[]> | undefined,
): string {
  // Relative paths in a built-in step's flags mean what they mean where the run was started (launch.ts).
  const at = (p: string) => (isAbsolute(p) ? p : resolve(cwd, p));
  const file = withValues?.['control-file'];
  if (typeof file === 'string') return at(file);
  const out = withValues?.['out'];
  return controlFileFor(
    typeof out === 'string' ? at(out) : join(runDirs(workspace, run).artifacts, fileName(nodeId)),
  );
}

/**
 * The standing request of one lease (control.ts): the size the lease grants, written in order (a later size
 * never lands before an earlier one), and withdrawn when the lease ends. A failed write is reported through
 * `onError` (the step's message), not thrown: the training keeps its size.
 */
export class LeaseSize {
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly file: string,
    private readonly lease: string,
    private readonly onError: (err: Error) => void,
  ) {}

  /** Asks for `workers`; resolves once written (or failed). */
  set(workers: number): Promise<void> {
    this.chain = this.chain
      .then(() => requestWorkers(this.file, workers, this.lease))
      .catch((err: Error) => this.onError(err));
    return this.chain;
  }

  /** The lease ended: no training there follows it any more. */
  end(): Promise<void> {
    this.chain = this.chain.then(() => withdrawRequest(this.file)).catch((err: Error) => this.onError(err));
    return this.chain;
  }
}
