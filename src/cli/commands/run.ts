import { spawn } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { MetadataStore } from '../../metadata/index.js';
import {
  loadWorkflowFile,
  runDirs,
  isDaemon,
  submitRun,
  SYNC_ANNOTATION,
  WorkflowError,
  type WorkflowSpec,
} from '../../workflow/index.js';
import { parseFlags, UsageError, type Command } from '../command.js';
import { announcedWait } from '../wait-notice.js';
import { DISTML_COMMAND, driveRun } from './run-engine.js';

const runFlags = z.object({
  parameter: z.array(z.string().regex(/^[A-Za-z0-9_-]+=/, 'must be NAME=VALUE')).default([]),
  detach: z.boolean().default(false),
  sync: z.boolean().default(false),
  show: z.array(z.string().min(1, 'must name a step')).default([]),
  cores: z.coerce
    .number({ message: 'must be a positive number' })
    .positive('must be a positive number')
    .optional(),
});

export const runCommand: Command = {
  path: ['run'],
  summary:
    'run a pipeline (Argo Workflow YAML): steps and DAGs, fan-out, retries, memoization, exit handlers',
  usage: 'FILE [-p NAME=VALUE]... [--detach] [--sync]',
  details: [
    'FILE is an Argo-style Workflow (apiVersion/kind/metadata/spec with entrypoint, arguments and templates).',
    'Templates: steps (groups run in order, steps of a group in parallel), dag (tasks with dependencies or',
    'depends expressions), container / script (any executable: command, args, env, workingDir; image is',
    'ignored), distml (built-in steps: kind ingest|train|evaluate|select|serve|predict with flags under `with:`),',
    'suspend (waits for `distml resume RUN` or its duration; `distml node set` gives its supplied outputs).',
    'A step or task may carry its template `inline:`, and lifecycle `hooks` (exit, or on an expression).',
    'Each step runs as a child process once the local resource pool grants its `resources` (cores, memory).',
    'Every node transition is saved in <workspace>/distml.db: `distml get RUN` shows them, `distml resume RUN`',
    'continues a run whose engine died without re-running finished steps. A step scratch dir under',
    '<workspace>/runs/RUN/scratch is removed when the step succeeds and kept when it fails.',
    'Asynchronous by default (book 5.3): a server step starts as soon as its own dependencies are met, while',
    'other branches (slower trainings) still run. --sync makes every server step of a DAG also wait until all',
    'the work that does not depend on a server has finished (the synchronous pipeline); it is saved with the',
    'run, so resume and retry keep it.',
    'Exit code 1 when the run does not succeed.',
  ].join('\n'),
  options: {
    parameter: {
      type: 'string',
      short: 'p',
      multiple: true,
      valueName: 'NAME=VALUE',
      description: 'set a workflow parameter (repeatable)',
    },
    detach: {
      type: 'boolean',
      description:
        'run in the background; returns once its first server is up (or the run ended) and prints the run name',
    },
    sync: {
      type: 'boolean',
      description: 'servers start only after all the work that does not need them has finished',
    },
    show: {
      type: 'string',
      multiple: true,
      valueName: 'STEP',
      description: "print this step's output when it succeeds (repeatable; e.g. the book pipeline's summary)",
    },
    cores: {
      type: 'string',
      valueName: 'N',
      defaultText: 'all cores',
      description: 'cores the steps may hold at once',
    },
  },
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
    const store = MetadataStore.open(global.workspace);
    try {
      const name = submitRun(store, spec, overrides);
      if (f.detach) {
        const logDir = runDirs(global.workspace, name).logs;
        mkdirSync(logDir, { recursive: true });
        const log = openSync(join(logDir, 'engine.log'), 'a');
        const args = [
          'resume',
          name,
          `--workspace=${global.workspace}`,
          '--json',
          ...(f.cores ? [`--cores=${f.cores}`] : []),
        ];
        const child = spawn(DISTML_COMMAND[0]!, [...DISTML_COMMAND.slice(1), ...args], {
          detached: true,
          stdio: ['ignore', log, log],
        });
        child.unref();
        const engineExit = new Promise<number | string>((resolve) =>
          child.once('exit', (code, signal) => resolve(signal ?? code ?? 'unknown')),
        );
        const serving = await announcedWait(
          out,
          `the first server of ${name} to be up (engine log: ${join(logDir, 'engine.log')})`,
          () => waitForServing(store, name, daemonTemplates(spec), engineExit),
        );
        if (serving === 'engine-died') {
          throw new WorkflowError(
            'RUN_FAILED',
            `run ${name}: its engine (pid ${child.pid}) exited before a server was up; its log is ${join(logDir, 'engine.log')}, \`distml get ${name}\` shows the steps`,
          );
        }
        out.result(
          { run: name, phase: store.getRun(name).phase, detached: true, enginePid: child.pid, serving },
          () =>
            [
              `${name} running in the background; \`distml get ${name}\` follows it, \`distml stop ${name}\` ends it`,
              ...serving.map((s) => `${s.step}: ${s.url}`),
            ].join('\n'),
        );
        return;
      }
      out.info(`Run: ${name}`);
      const run = await driveRun(store, name, global, out, { reuse: false, cores: f.cores, show: f.show });
      out.result({ run: name, phase: run.phase, message: run.message }, () => `${name} ${run.phase}`);
    } finally {
      store.close();
    }
  },
};

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
  engineExit: Promise<unknown>,
): Promise<{ step: string; url: string }[] | 'engine-died'> {
  if (!daemons.size) return [];
  let engineGone = false;
  void engineExit.then(() => (engineGone = true));
  for (;;) {
    const up = store
      .listNodes(run)
      .filter((n) => daemons.has(n.template) && n.phase === 'Succeeded')
      .map((n) => ({ step: n.displayName, url: n.outputs?.parameters?.['url'] ?? '' }));
    const phase = store.getRun(run).phase;
    if (up.length || !['Pending', 'Running'].includes(phase)) return up;
    if (engineGone) return 'engine-died';
    await new Promise((r) => setTimeout(r, 250));
  }
}
