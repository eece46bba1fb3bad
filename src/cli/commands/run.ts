import { join } from 'node:path';
import { z } from 'zod';
import { MetadataStore } from '../../metadata/index.js';
import { isRunning } from '../../process/index.js';
import { serverPaths, type ServerClient } from '../../server/index.js';
import {
  loadWorkflowFile,
  runDirs,
  isDaemon,
  SYNC_ANNOTATION,
  WorkflowError,
  workflowToYaml,
  type WorkflowSpec,
} from '../../workflow/index.js';
import { flag, flagSet, parseFlags, UsageError, type Command } from '../command.js';
import { announcedWait } from '../wait-notice.js';
import { workspaceServer } from '../server-client.js';
import { coresFlag, followRun } from './run-engine.js';
import { schedulingFlags, schedulingOptions } from './scheduling-flags.js';

const runFlags = flagSet({
  parameter: flag(
    z.array(z.string().regex(/^[A-Za-z0-9_-]+=/, 'must be NAME=VALUE')).default([]),
    'set a workflow parameter (repeatable)',
    { short: 'p', valueName: 'NAME=VALUE' },
  ),
  detach: flag(
    z.boolean().default(false),
    'run in the background; returns once its first server is up (or the run ended) and prints the run name',
  ),
  sync: flag(
    z.boolean().default(false),
    'servers start only after all the work that does not need them has finished',
  ),
  show: flag(
    z.array(z.string().min(1, 'must name a step')).default([]),
    "print this step's output when it succeeds (repeatable; e.g. the book pipeline's summary)",
    { valueName: 'STEP' },
  ),
  cores: flag(
    coresFlag.schema,
    "cores this run's steps may hold at once (the server's pool limits all runs together)",
    {
      valueName: 'N',
      defaultText: 'all cores',
    },
  ),
  ...schedulingFlags,
});

export const runCommand: Command = {
  path: ['run'],
  summary:
    'run a pipeline (Argo Workflow YAML): steps and DAGs, fan-out, retries, memoization, exit handlers',
  usage: 'FILE [-p NAME=VALUE]... [--detach] [--sync] [--user U] [--queue Q] [--priority CLASS]',
  details: [
    'FILE is an Argo-style Workflow (apiVersion/kind/metadata/spec with entrypoint, arguments and templates).',
    'Templates: steps (groups run in order, steps of a group in parallel), dag (tasks with dependencies or',
    'depends expressions), container / script (any executable: command, args, env, workingDir; image is',
    'ignored), distml (built-in steps: kind ingest|train|evaluate|select|serve|predict with flags under `with:`),',
    'suspend (waits for `distml resume RUN` or its duration; `distml node set` gives its supplied outputs).',
    'A step or task may carry its template `inline:`, and lifecycle `hooks` (exit, or on an expression).',
    "The run is submitted to the workspace's server (`distml server`), started on demand when none runs (it",
    'stops after --idle-timeout without runs). Each step runs as a child process of the server once the',
    "server's shared resource pool grants its `resources` (cores, memory): concurrent runs share the machine.",
    'Each step is a scheduler job of --user in --queue at --priority (`distml jobs` lists them, with why each',
    'waits): a `train` step with `workers: N` is a gang of N workers started all at once or not at all, and a',
    "higher-priority run's training may preempt it: it checkpoints, stops, waits, and resumes from the checkpoint.",
    'Ctrl-C (or SIGTERM/SIGHUP, or this process being killed) stops a run that is not --detach.',
    'Every node transition is saved in <workspace>/distml.db: `distml get RUN` shows them, `distml resume RUN`',
    'continues a run whose engine died without re-running finished steps. A step scratch dir under',
    '<workspace>/runs/RUN/scratch is removed when the step succeeds and kept when it fails.',
    'Asynchronous by default (book 5.3): a server step starts as soon as its own dependencies are met, while',
    'other branches (slower trainings) still run. --sync makes every server step of a DAG also wait until all',
    'the work that does not depend on a server has finished (the synchronous pipeline); it is saved with the',
    'run, so resume and retry keep it.',
    'Exit code 1 when the run does not succeed.',
  ].join('\n'),
  options: runFlags.options,
  async run({ values, positionals, global, out }) {
    const f = parseFlags(runFlags, values);
    const file = positionals[0];
    if (!file || positionals.length > 1)
      throw new UsageError('expected one workflow FILE, e.g. `distml run examples/book-pipeline.yaml`');
    const loaded = loadWorkflowFile(file, (ignored) =>
      out.info(
        `${file}: ignored when run locally (Kubernetes only):\n${ignored.map((l) => `  ${l.replace(/: ignored when run locally.*$/, '')}`).join('\n')}`,
      ),
    );
    const spec = f.sync ? withSync(loaded) : loaded;
    const overrides = Object.fromEntries(
      f.parameter.map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]),
    );
    const client = await workspaceServer(global.workspace, values['idle-timeout'] as string | undefined);
    const submitted = await client.call<{ run: string }>('POST', '/api/v1/runs', {
      workflow: workflowToYaml(spec),
      parameters: overrides,
      options: {
        detach: f.detach,
        cwd: process.cwd(),
        ...(f.cores ? { cores: f.cores } : {}),
        ...schedulingOptions(f),
      },
    });
    const name = submitted.run;
    const store = MetadataStore.open(global.workspace);
    try {
      if (f.detach) {
        await detached(client, store, name, daemonTemplates(spec), global.workspace, out);
        return;
      }
      out.info(`Run: ${name}`);
      const run = await followRun(client, store, name, global, out, { show: f.show });
      out.result({ run: name, phase: run.phase, message: run.message }, () => `${name} ${run.phase}`);
    } finally {
      store.close();
    }
  },
};

/** With --detach: waits for the run's first server (or its end) and prints how to follow it. */
export async function detached(
  client: ServerClient,
  store: MetadataStore,
  name: string,
  daemons: Set<string>,
  workspace: string,
  out: Parameters<Command['run']>[0]['out'],
): Promise<void> {
  const engineLog = join(runDirs(workspace, name).logs, 'engine.log');
  const server = { pid: client.info.pid, startTime: client.info.startTime };
  const serving = await announcedWait(
    out,
    `the first server of ${name} to be up (engine log: ${engineLog})`,
    () => waitForServing(store, name, daemons, () => !isRunning(server)),
  );
  if (serving === 'engine-died') {
    throw new WorkflowError(
      'WORKFLOW_RUN_FAILED',
      `run ${name}: its engine (pid ${server.pid}) exited before a server was up: the workspace's server died; its log is ${serverPaths(workspace).log}, the run's events ${engineLog}; \`distml get ${name}\` shows the steps`,
    );
  }
  out.result(
    {
      run: name,
      phase: store.getRun(name).phase,
      detached: true,
      enginePid: server.pid,
      server: client.info.url,
      serving,
    },
    () =>
      [
        `${name} running in the background in the workspace's server; \`distml get ${name}\` follows it, \`distml stop ${name}\` ends it`,
        ...serving.map((s) => `${s.step}: ${s.url}`),
      ].join('\n'),
  );
}

/** The spec with the annotation that makes the engine run it synchronously. */
function withSync(spec: WorkflowSpec): WorkflowSpec {
  const annotations = { ...(spec.metadata['annotations'] as Record<string, string> | undefined) };
  annotations[SYNC_ANNOTATION] = 'true';
  return { ...spec, metadata: { ...spec.metadata, annotations } };
}

/** Names of the templates that run as daemons (servers). */
function daemonTemplates(spec: WorkflowSpec): Set<string> {
  return new Set(spec.spec.templates.filter(isDaemon).map((t) => t.name));
}

/**
 * With --detach, waits until the run's first daemon step is up (a server is listening), or the run has
 * ended, so the caller can use what it serves right away. A run without daemons returns at once. An engine
 * that exits while the run is still unfinished and nothing serves yields 'engine-died'.
 */
async function waitForServing(
  store: MetadataStore,
  run: string,
  daemons: Set<string>,
  engineGone: () => boolean,
): Promise<{ step: string; url: string }[] | 'engine-died'> {
  if (!daemons.size) return [];
  for (;;) {
    const up = store
      .listNodes(run)
      .filter((n) => daemons.has(n.template) && n.phase === 'Succeeded')
      .map((n) => ({ step: n.displayName, url: n.outputs?.parameters?.['url'] ?? '' }));
    const phase = store.getRun(run).phase;
    if (up.length || !['Pending', 'Running'].includes(phase)) return up;
    if (engineGone()) return 'engine-died';
    await new Promise((r) => setTimeout(r, 250));
  }
}
