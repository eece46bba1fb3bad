import { fileURLToPath } from 'node:url';
import { MetadataStore, type RunRecord } from '../../metadata/index.js';
import { ServerError, serverPaths, type ServerClient } from '../../server/index.js';
import { renderTree, WorkflowError, type EngineEvent } from '../../workflow/index.js';
import { z } from 'zod';
import { flag, type GlobalOptions } from '../command.js';
import { liveTree } from '../live-tree.js';
import { announceQueuedSteps } from '../queue-notice.js';
import type { Output } from '../output.js';

/** The argv that runs this same distml CLI (built-in steps are child processes of it). */
export const DISTML_COMMAND = [process.execPath, fileURLToPath(new URL('../main.js', import.meta.url))];

/** --cores of run, resume and retry: the engine's resource pool. */
export const coresFlag = flag(
  z.coerce.number({ message: 'must be a positive number' }).positive('must be a positive number').optional(),
  'cores the steps may hold at once',
  { valueName: 'N', defaultText: 'all cores' },
);

/**
 * Follows a run the workspace's server drives until it ends: SIGTERM, SIGINT and SIGHUP (its terminal closed)
 * stop it through the API (steps are killed, the exit handler runs); if this process dies, the server sees
 * its follower gone and stops the run. Progress is a live tree on a terminal, JSON lines with --json and
 * plain lines otherwise; without --json the final tree is the summary either way. A failed run is an error.
 */
export async function followRun(
  client: ServerClient,
  store: MetadataStore,
  name: string,
  global: GlobalOptions,
  out: Output,
  opts: { show?: string[] },
): Promise<RunRecord> {
  const signals = stopRunOnSignals(client, name);
  const view = progressView(store, name, out, opts.show ?? []);
  try {
    let ended = false;
    for await (const e of client.events(name, true)) {
      view.onEvent(e);
      if (e.event === 'run' && e.run === name) ended = !['Running', 'Pending'].includes(e.phase);
    }
    await signals.stopping();
    if (!ended) throw serverGone(client, global.workspace, name);
    const run = store.getRun(name);
    view.final();
    if (run.phase !== 'Succeeded') {
      throw new WorkflowError(
        'WORKFLOW_RUN_FAILED',
        `run ${name} ${run.phase}${run.message ? `: ${run.message}` : ''}; \`distml get ${name}\` shows the steps, \`distml logs ${name}\` their output`,
      );
    }
    return run;
  } finally {
    view.close();
    signals.dispose();
  }
}

/**
 * While a CLI follows a run: SIGTERM and SIGINT stop the run through the API, and so does SIGHUP (its
 * terminal closed: writing to it fails with EIO, which must not end the follower before the run has stopped).
 */
export function stopRunOnSignals(client: ServerClient, run: string) {
  let stopping: Promise<unknown> | undefined;
  const stop = () => {
    stopping ??= client.call('POST', `/api/v1/runs/${run}/stop`).catch(() => undefined);
  };
  const hangUp = () => {
    process.stdout.on('error', () => undefined);
    process.stderr.on('error', () => undefined);
    stop();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', hangUp);
  return {
    /** True once a signal asked the run to stop. */
    asked: () => stopping !== undefined,
    /** Resolves once the stop asked for (if any) has been answered. */
    stopping: () => stopping,
    dispose: () => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      process.off('SIGHUP', hangUp);
    },
  };
}

/** How a followed run is shown: a live tree on a terminal, else event lines; asked-for steps' output printed. */
function progressView(store: MetadataStore, name: string, out: Output, showSteps: string[]) {
  const live = out.interactive ? liveTree(process.stderr, () => store.listNodes(name)) : undefined;
  const quietQueue = live || out.json ? () => {} : announceQueuedSteps(store, name, out);
  const show = new Set(showSteps);
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
  return {
    onEvent,
    /** Without --json the final tree is the summary, on a terminal or not. */
    final: () => {
      live?.draw(true);
      if (!live && !out.json) out.info(renderTree(store.listNodes(name)));
    },
    close: () => {
      live?.close();
      quietQueue();
    },
  };
}

const serverGone = (client: ServerClient, workspace: string, run: string) =>
  new ServerError(
    'SERVER_GONE',
    `the workspace's server (pid ${client.info.pid}) exited while run ${run} was running; its log is ${serverPaths(workspace).log}; \`distml get ${run}\` shows the steps, \`distml resume ${run}\` continues it`,
  );
