import { availableParallelism, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { MetadataStore, type NodeRecord, type RunRecord } from '../../metadata/index.js';
import { ResourcePool } from '../../scheduler/index.js';
import { executeRun, renderTree, WorkflowError, type EngineEvent } from '../../workflow/index.js';
import type { GlobalOptions } from '../command.js';
import type { Output } from '../output.js';

/** The argv that runs this same distml CLI (built-in steps are child processes of it). */
export const DISTML_COMMAND = [process.execPath, fileURLToPath(new URL('../main.js', import.meta.url))];

/**
 * Drives a run in this process until it ends: SIGTERM, SIGINT and SIGHUP (its terminal closed) stop it (steps
 * are killed, the exit handler runs), progress is a live tree on a terminal and JSON lines otherwise. A failed
 * run is an error (exit 1).
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
  const live = out.interactive ? liveTree(store, name) : undefined;
  const show = new Set(opts.show ?? []);
  const onEvent = (e: EngineEvent) => {
    if (live) live.draw();
    else out.event({ ...e });
    // Steps' output goes to files; the ones asked for are printed here once they succeed.
    if (e.event === 'node' && e.phase === 'Succeeded' && show.has(e.name)) {
      const result = store.getNode(name, e.node)?.outputs?.result;
      if (result) process.stdout.write(result.endsWith('\n') ? result : `${result}\n`);
    }
  };
  try {
    const pool = new ResourcePool({ cores: opts.cores ?? availableParallelism(), memory: totalmem() });
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
    if (run.phase !== 'Succeeded') {
      throw new WorkflowError(
        'RUN_FAILED',
        `run ${name} ${run.phase}${run.message ? `: ${run.message}` : ''}; \`distml get ${name}\` shows the steps, \`distml logs ${name}\` their output`,
      );
    }
    return run;
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
    process.off('SIGHUP', hangUp);
  }
}

/** Redraws the node tree in place on stderr, at most ten times a second. */
function liveTree(store: MetadataStore, name: string) {
  let lines = 0;
  let last = 0;
  return {
    draw(final = false) {
      const now = Date.now();
      if (!final && now - last < 100) return;
      last = now;
      const nodes: NodeRecord[] = store.listNodes(name);
      const text = renderTree(nodes);
      process.stderr.write(`${lines ? `\x1b[${lines}A` : ''}\x1b[0J${text}\n`);
      lines = text.split('\n').length;
    },
  };
}
