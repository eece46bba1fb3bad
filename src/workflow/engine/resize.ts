// The engine's entry point for elastic resizing (issue 13): the scheduler grows or shrinks a running training
// step between its min-workers and max-workers (its gang shape: steps/builtin.ts trainGang).
import { join } from 'node:path';
import { controlFileFor, requestWorkers } from '../../train/index.js';
import { fileName, runDirs } from './context.js';

/**
 * Resizes a running elastic training step (built-in `train` with min-workers/max-workers in `with:`) to
 * `workers`, through its control file (train/distributed/control.ts). `out` is the step's `with: out` when
 * the template sets one; by default the step's artifact dir. A count outside the step's bounds is refused by
 * the training (a `resize-refused` event): shrinking below the minimum is a preemption instead.
 */
export async function resizeTrainStep(
  workspace: string,
  run: string,
  nodeId: string,
  workers: number,
  out?: string,
): Promise<void> {
  const dir = out ?? join(runDirs(workspace, run).artifacts, fileName(nodeId));
  await requestWorkers(controlFileFor(dir), workers);
}
