import { stringify } from 'yaml';
import { z } from 'zod';
import { MetadataStore } from '../../metadata/index.js';
import {
  collectLogs,
  connect,
  engineGone,
  runRow,
  ServerError,
  stopUnownedRun,
  type RunRow,
  type ServerClient,
  type StepLogs,
} from '../../server/index.js';
import {
  checkRunName,
  isEngineAlive,
  renderRun,
  resumeSuspended,
  runJson,
  WorkflowError,
} from '../../workflow/index.js';
import { flag, flagSet, parseFlags, UsageError, type Command, type CommandContext } from '../command.js';
import { table } from '../output.js';
import { workspaceServer } from '../server-client.js';
import { announcedWait } from '../wait-notice.js';
import { coresFlag, followRun } from './run-engine.js';

function oneRun(positionals: string[], what = 'RUN'): string {
  const name = positionals[0];
  if (!name) throw new UsageError(`expected ${what}; \`distml list\` shows the runs`);
  return checkRunName(name);
}

async function withStore<T>(ctx: CommandContext, fn: (store: MetadataStore) => Promise<T> | T): Promise<T> {
  const store = MetadataStore.open(ctx.global.workspace);
  try {
    return await fn(store);
  } finally {
    store.close();
  }
}

const getFlags = flagSet({
  output: flag(
    z.enum(['json', 'yaml'], { message: 'must be json or yaml' }).optional(),
    'print the whole status as JSON or YAML',
    { short: 'o' },
  ),
});

export const getCommand: Command = {
  path: ['get'],
  summary: 'show a run and its steps (phase, times, message, outputs, memoization), like `argo get`',
  usage: 'RUN [-o json|yaml]',
  options: getFlags.options,
  run: (ctx) =>
    withStore(ctx, (store) => {
      const f = parseFlags(getFlags, ctx.values);
      const run = store.getRun(oneRun(ctx.positionals));
      const nodes = store.listNodes(run.name);
      const doc = runJson(run, nodes);
      if (f.output === 'yaml') process.stdout.write(stringify(doc, { lineWidth: 0 }));
      else if (f.output === 'json') process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
      else ctx.out.result(doc, () => renderRun(run, nodes, engineGone(run)));
    }),
};

/** The runs, from the workspace's server when one runs, else from the database. */
async function listRuns(ctx: CommandContext, store: MetadataStore): Promise<RunRow[]> {
  const client = await connect(ctx.global.workspace);
  if (client) return client.call<RunRow[]>('GET', '/api/v1/runs');
  return store.listRuns().map(runRow);
}

const seconds = (r: RunRow) =>
  r.startedAt
    ? `${Math.round(((r.finishedAt ? Date.parse(r.finishedAt) : Date.now()) - Date.parse(r.startedAt)) / 1000)}s`
    : '';

export const listCommand: Command = {
  path: ['list'],
  summary: 'list pipeline runs with their status',
  options: {},
  run: (ctx) =>
    withStore(ctx, async (store) => {
      const runs = await listRuns(ctx, store);
      ctx.out.result(
        runs.map((r) => ({
          name: r.name,
          phase: r.phase,
          message: r.message,
          createdAt: r.createdAt,
          engineGone: r.engineGone,
        })),
        () =>
          runs.length === 0
            ? 'no runs yet: `distml run FILE` starts one'
            : table([
                ['NAME', 'STATUS', 'CREATED', 'DURATION', 'MESSAGE'],
                ...runs.map((r) => [
                  r.name,
                  r.engineGone ? `${r.phase} (engine gone)` : r.phase,
                  r.createdAt,
                  seconds(r),
                  r.message ?? '',
                ]),
              ]),
      );
    }),
};

/** A step's stdout as it is written, until the step ends (through the workspace's server). */
async function followLog(ctx: CommandContext, run: string, step: string | undefined): Promise<void> {
  if (!step) throw new UsageError('--follow needs a STEP, e.g. `distml logs RUN train --follow`');
  const client = await connect(ctx.global.workspace);
  if (!client)
    throw new ServerError(
      'SERVER_NOT_RUNNING',
      `no server runs for ${ctx.global.workspace}: nothing to follow; drop --follow`,
    );
  const path = `/api/v1/runs/${run}/logs/${encodeURIComponent(step)}?follow=true`;
  for await (const chunk of client.stream(path)) process.stdout.write(chunk);
}

export const logsCommand: Command = {
  path: ['logs'],
  summary: "print the output of a run's steps (stdout and stderr), optionally of one step",
  usage: 'RUN [STEP] [--follow]',
  options: {
    follow: { type: 'boolean', short: 'f', description: "print the step's stdout as it comes until it ends" },
  },
  run: (ctx) =>
    withStore(ctx, async (store) => {
      const run = store.getRun(oneRun(ctx.positionals));
      const step = ctx.positionals[1];
      if (ctx.values['follow'] === true) return followLog(ctx, run.name, step);
      const client = await connect(ctx.global.workspace);
      const query = step ? `?step=${encodeURIComponent(step)}` : '';
      const logs = client
        ? await client.call<StepLogs[]>('GET', `/api/v1/runs/${run.name}/logs${query}`)
        : collectLogs(store, run.name, step);
      ctx.out.result(logs, () =>
        logs
          .map((l) =>
            [...l.stderr.split('\n'), ...l.stdout.split('\n')]
              .filter(Boolean)
              .map((line) => `${l.name}: ${line}`)
              .join('\n'),
          )
          .join('\n'),
      );
    }),
};

const restartFlags = flagSet({
  cores: flag(coresFlag.schema, "cores this run's steps may hold at once", {
    valueName: 'N',
    defaultText: 'all cores',
  }),
  detach: flag(z.boolean().default(false), "leave it running in the workspace's server"),
});

/** Retry or resume in the workspace's server (started on demand); followed here unless --detach. */
function restart(mode: 'resume' | 'retry'): Command['run'] {
  return (ctx) =>
    withStore(ctx, async (store) => {
      const f = parseFlags(restartFlags, ctx.values);
      const name = oneRun(ctx.positionals);
      // Argo's resume: suspended steps go on. A live engine continues by itself; a dead one is restarted below.
      const resumed = mode === 'resume' ? resumeSuspended(store, name) : [];
      if (resumed.length > 0 && isEngineAlive(store.getRun(name))) {
        ctx.out.result({ run: name, resumed }, () => `${name}: resumed ${resumed.join(', ')}`);
        return;
      }
      const client = await workspaceServer(ctx.global.workspace);
      const options = { detach: f.detach, ...(f.cores ? { cores: f.cores } : {}) };
      await client.call('POST', `/api/v1/runs/${name}/${mode}`, { options });
      if (f.detach) {
        ctx.out.result({ run: name, detached: true }, () => `${name} ${mode}d in the background`);
        return;
      }
      ctx.out.info(`Run: ${name} (${mode})`);
      const run = await followRun(client, store, name, ctx.global, ctx.out, {});
      ctx.out.result({ run: name, phase: run.phase, message: run.message }, () => `${name} ${run.phase}`);
    });
}

export const resumeCommand: Command = {
  path: ['resume'],
  summary:
    'continue a run: its suspended steps go on, and a run whose engine stopped or died is run again without re-running steps that succeeded',
  usage: 'RUN',
  details: [
    'Every process the dead engine left is ended first (SIGTERM, then SIGKILL); steps that were running are',
    'run again, and daemon steps (servers) are started again.',
  ].join('\n'),
  options: restartFlags.options,
  run: restart('resume'),
};

export const retryCommand: Command = {
  path: ['retry'],
  summary: 'run the failed steps of a failed run again, keeping the ones that succeeded',
  usage: 'RUN',
  options: restartFlags.options,
  run: restart('retry'),
};

/** Stops one run: through the workspace's server when one runs, else directly (a dead engine's leftovers). */
async function stopRun(store: MetadataStore, client: ServerClient | null, name: string): Promise<string> {
  if (client) {
    const r = await client.call<{ phase: string }>('POST', `/api/v1/runs/${name}/stop`);
    return r.phase;
  }
  await stopUnownedRun(store, name);
  return store.getRun(name).phase;
}

const stopFlags = flagSet({
  all: flag(z.boolean().default(false), 'stop every run that is not finished'),
});

export const stopCommand: Command = {
  path: ['stop'],
  summary: 'stop a run (or --all running runs): kill its steps, run its exit handler, mark it Failed',
  usage: 'RUN | --all',
  details: [
    'Every process of the run ends, servers (daemon steps) and their replicas included: SIGTERM, then',
    'SIGKILL after a grace period; also when the engine that ran it has died.',
  ].join('\n'),
  options: stopFlags.options,
  run: (ctx) =>
    withStore(ctx, async (store) => {
      const { all } = parseFlags(stopFlags, ctx.values);
      const names = all
        ? store
            .listRuns()
            .filter((r) => r.phase === 'Running' || r.phase === 'Pending')
            .map((r) => r.name)
        : [oneRun(ctx.positionals, 'RUN or --all')];
      const client = await connect(ctx.global.workspace);
      const stopped: { run: string; phase: string }[] = [];
      for (const name of names) {
        const run = store.getRun(name);
        if (run.phase !== 'Running' && run.phase !== 'Pending') {
          if (!all) throw new WorkflowError('WORKFLOW_RUN_FINISHED', `run ${name} is already ${run.phase}`);
          continue;
        }
        const phase = await announcedWait(ctx.out, `run ${name} to stop`, () => stopRun(store, client, name));
        stopped.push({ run: name, phase });
      }
      ctx.out.result(stopped, () =>
        stopped.length ? stopped.map((s) => `${s.run} ${s.phase}`).join('\n') : 'no running runs',
      );
    }),
};
