import { availableParallelism, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { JobStore, MetadataStore, type RunRecord } from '../../metadata/index.js';
import { persistTo, ResourcePool } from '../../scheduler/index.js';
import { executeRun, renderTree, WorkflowError, type EngineEvent } from '../../workflow/index.js';
import type { GlobalOptions } from '../command.js';
import { liveTree } from '../live-tree.js';
import { announceQueuedSteps } from '../queue-notice.js';
import type { Output } from '../output.js';
import { appliedQueueConfig } from './queue.js';

/** The argv that runs this same distml CLI (built-in steps are child processes of it). */
export const DISTML_COMMAND = [process.execPath, fileURLToPath(new URL('../main.js', import.meta.url))];

/**
 * Drives a run in this process until it ends: SIGTERM, SIGINT and SIGHUP (its terminal closed) stop it (steps
 * are killed, the exit handler runs), progress is a live tree on a terminal, JSON lines with --json and plain
 * lines otherwise; without --json the final tree is the summary either way. A failed run is an error (exit 1).
 */
export async function driveRun(
  store: MetadataStore,
  name: string,
  global: GlobalOptions,
  out: Output,
  opts: { reuse: boolean; cores?: number; show?: string[] },
): Promise<RunRecord> {
  const ac = new AbortController();
  const stop = () => ac.abort();
  // The terminal is gone: writing progress to it fails (EIO), which must not end the engine before its steps.
  const hangUp = () => {
    process.stdout.on('error', () => undefined);
    process.stderr.on('error', () => undefined);
    stop();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', hangUp);
  const live = out.interactive ? liveTree(process.stderr, () => store.listNodes(name)) : undefined;
  const quietQueue = live || out.json ? () => {} : announceQueuedSteps(store, name, out);
  const show = new Set(opts.show ?? []);
  // Steps' output goes to files; the ones asked for are printed once they succeed (above the live tree).
  const onEvent = (e: EngineEvent) => {
    if (live) live.draw();
    else out.event({ ...e });
    if (e.event === 'node' && e.phase === 'Succeeded' && show.has(e.name)) {
      const result = store.getNode(name, e.node)?.outputs?.result;
      const text = result && (result.endsWith('\n') ? result : `${result}\n`);
      if (text && live) live.above(text, process.stdout);
      else if (text) process.stdout.write(text);
    }
  };
  try {
    // The workspace's queue file (distml queue apply) and its job table (distml jobs) until distml server owns them.
    const jobs = new JobStore(store.db);
    const pool = new ResourcePool({
      cores: opts.cores ?? availableParallelism(),
      memory: totalmem(),
      config: appliedQueueConfig(jobs),
      onCycle: persistTo(jobs),
    });
    const run = await executeRun(name, {
      store,
      workspace: global.workspace,
      pool,
      distmlCommand: DISTML_COMMAND,
      signal: ac.signal,
      reuse: opts.reuse,
      onEvent,
    });
    live?.draw(true);
    if (!live && !out.json) out.info(renderTree(store.listNodes(name)));
    if (run.phase !== 'Succeeded') {
      throw new WorkflowError(
        'RUN_FAILED',
        `run ${name} ${run.phase}${run.message ? `: ${run.message}` : ''}; \`distml get ${name}\` shows the steps, \`distml logs ${name}\` their output`,
      );
    }
    return run;
  } finally {
    live?.close();
    quietQueue();
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
    process.off('SIGHUP', hangUp);
  }
}
