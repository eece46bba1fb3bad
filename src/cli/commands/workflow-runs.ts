import { stringify } from 'yaml';
import { z } from 'zod';
import { MetadataStore, type RunRecord } from '../../metadata/index.js';
import { collectLogs, connect, stopUnownedRun, type ServerClient } from '../../server/index.js';
import { checkRunName, isEngineAlive, renderRun, runJson, WorkflowError } from '../../workflow/index.js';
import { parseFlags, UsageError, type Command, type CommandContext } from '../command.js';
import { table } from '../output.js';
import { workspaceServer } from '../server-client.js';
import { announcedWait } from '../wait-notice.js';
import { followRun } from './run-engine.js';

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

const engineGone = (r: RunRecord) =>
  (r.phase === 'Running' || r.phase === 'Pending') && !isEngineAlive(r) && r.startedAt !== null;

export const getCommand: Command = {
  path: ['get'],
  summary: 'show a run and its steps (phase, times, message, outputs, memoization), like `argo get`',
  usage: 'RUN [-o json|yaml]',
  options: {
    output: {
      type: 'string',
      short: 'o',
      valueName: 'json|yaml',
      description: 'print the whole status as JSON or YAML',
    },
  },
  run: (ctx) =>
    withStore(ctx, (store) => {
      const f = parseFlags(
        z.object({ output: z.enum(['json', 'yaml'], { message: 'must be json or yaml' }).optional() }),
        ctx.values,
      );
      const run = store.getRun(oneRun(ctx.positionals));
      const nodes = store.listNodes(run.name);
      const doc = runJson(run, nodes);
      if (f.output === 'yaml') process.stdout.write(stringify(doc, { lineWidth: 0 }));
      else if (f.output === 'json') process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
      else ctx.out.result(doc, () => renderRun(run, nodes, engineGone(run)));
    }),
};

export const listCommand: Command = {
  path: ['list'],
  summary: 'list pipeline runs with their status',
  options: {},
  run: (ctx) =>
    withStore(ctx, (store) => {
      const runs = store.listRuns();
      ctx.out.result(
        runs.map((r) => ({
          name: r.name,
          phase: r.phase,
          message: r.message,
          createdAt: new Date(r.createdAt).toISOString(),
          engineGone: engineGone(r),
        })),
        () =>
          runs.length === 0
            ? 'no runs yet: `distml run FILE` starts one'
            : table([
                ['NAME', 'STATUS', 'CREATED', 'DURATION', 'MESSAGE'],
                ...runs.map((r) => [
                  r.name,
                  engineGone(r) ? `${r.phase} (engine gone)` : r.phase,
                  new Date(r.createdAt).toISOString(),
                  r.startedAt ? `${Math.round(((r.finishedAt ?? Date.now()) - r.startedAt) / 1000)}s` : '',
                  r.message ?? '',
                ]),
              ]),
      );
    }),
};

export const logsCommand: Command = {
  path: ['logs'],
  summary: "print the output of a run's steps (stdout and stderr), optionally of one step",
  usage: 'RUN [STEP]',
  options: {},
  run: (ctx) =>
    withStore(ctx, (store) => {
      const run = store.getRun(oneRun(ctx.positionals));
      const logs = collectLogs(store, run.name, ctx.positionals[1]);
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

const restartFlags = z.object({
  cores: z.coerce
    .number({ message: 'must be a positive number' })
    .positive('must be a positive number')
    .optional(),
  detach: z.boolean().default(false),
});

/** Retry or resume in the workspace's server (started on demand); followed here unless --detach. */
function restart(mode: 'resume' | 'retry'): Command['run'] {
  return (ctx) =>
    withStore(ctx, async (store) => {
      const f = parseFlags(restartFlags, ctx.values);
      const name = oneRun(ctx.positionals);
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

const restartOptions = {
  cores: {
    type: 'string' as const,
    valueName: 'N',
    defaultText: 'all cores',
    description: "cores this run's steps may hold at once",
  },
  detach: { type: 'boolean' as const, description: "leave it running in the workspace's server" },
};

export const resumeCommand: Command = {
  path: ['resume'],
  summary: 'continue a run whose engine stopped or died, without re-running steps that succeeded',
  usage: 'RUN',
  details: [
    'Every process the dead engine left is ended first (SIGTERM, then SIGKILL); steps that were running are',
    'run again, and daemon steps (servers) are started again.',
  ].join('\n'),
  options: restartOptions,
  run: restart('resume'),
};

export const retryCommand: Command = {
  path: ['retry'],
  summary: 'run the failed steps of a failed run again, keeping the ones that succeeded',
  usage: 'RUN',
  options: restartOptions,
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

export const stopCommand: Command = {
  path: ['stop'],
  summary: 'stop a run (or --all running runs): kill its steps, run its exit handler, mark it Failed',
  usage: 'RUN | --all',
  details: [
    'Every process of the run ends, servers (daemon steps) and their replicas included: SIGTERM, then',
    'SIGKILL after a grace period; also when the engine that ran it has died.',
  ].join('\n'),
  options: { all: { type: 'boolean', description: 'stop every run that is not finished' } },
  run: (ctx) =>
    withStore(ctx, async (store) => {
      const all = ctx.values['all'] === true;
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
          if (!all) throw new WorkflowError('RUN_FINISHED', `run ${name} is already ${run.phase}`);
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
