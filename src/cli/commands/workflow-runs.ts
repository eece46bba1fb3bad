import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { z } from 'zod';
import { MetadataStore, type RunRecord } from '../../metadata/index.js';
import {
  checkRunName,
  isEngineAlive,
  markStopped,
  prepareRestart,
  reapLeftovers,
  renderRun,
  resumeSuspended,
  runJson,
  WorkflowError,
} from '../../workflow/index.js';
import { signalProcess } from '../../process/index.js';
import { parseFlags, UsageError, type Command, type CommandContext } from '../command.js';
import { table } from '../output.js';
import { announcedWait } from '../wait-notice.js';
import { driveRun } from './run-engine.js';

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
      const step = ctx.positionals[1];
      const nodes = store
        .listNodes(run.name)
        .filter(
          (n) =>
            n.logPath &&
            (!step ||
              [n.displayName, n.id, n.template].includes(step) ||
              n.displayName.startsWith(`${step}(`)),
        );
      if (step && nodes.length === 0)
        throw new WorkflowError(
          'STEP_NOT_FOUND',
          `run ${run.name} has no step "${step}" with logs; \`distml get ${run.name}\` lists the steps`,
        );
      const logs = nodes.map((n) => {
        const read = (p: string) => (existsSync(p) ? readFileSync(p, 'utf8') : '');
        return {
          node: n.id,
          name: n.displayName,
          stdout: read(n.logPath!),
          stderr: read(n.logPath!.replace(/\.stdout\.log$/, '.stderr.log')),
        };
      });
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
});

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
      await prepareRestart(store, name, mode);
      ctx.out.info(`Run: ${name} (${mode})`);
      const run = await driveRun(store, name, ctx.global, ctx.out, { reuse: true, cores: f.cores });
      ctx.out.result({ run: name, phase: run.phase, message: run.message }, () => `${name} ${run.phase}`);
    });
}

const coresOption = {
  cores: {
    type: 'string' as const,
    valueName: 'N',
    defaultText: 'all cores',
    description: 'cores the steps may hold at once',
  },
};

export const resumeCommand: Command = {
  path: ['resume'],
  summary:
    'continue a run: its suspended steps go on, and a run whose engine stopped or died is run again without re-running steps that succeeded',
  usage: 'RUN',
  details: [
    'Every process the dead engine left is ended first (SIGTERM, then SIGKILL); steps that were running are',
    'run again, and daemon steps (servers) are started again.',
  ].join('\n'),
  options: coresOption,
  run: restart('resume'),
};

export const retryCommand: Command = {
  path: ['retry'],
  summary: 'run the failed steps of a failed run again, keeping the ones that succeeded',
  usage: 'RUN',
  options: coresOption,
  run: restart('retry'),
};

/** Longest `stop` waits for a live engine to stop its steps and run the exit handler before killing it. */
const ENGINE_STOP_MS = 60_000;

/**
 * Stops one run: a live engine is asked (SIGTERM: it stops its steps and daemons, runs the exit handler) and
 * killed if it has not finished within ENGINE_STOP_MS; then every process of the run still running is ended
 * (SIGTERM, SIGKILL after a grace), by pid and start time and by the run's environment marker.
 */
async function stopRun(store: MetadataStore, name: string): Promise<void> {
  const active = () => ['Running', 'Pending'].includes(store.getRun(name).phase);
  const run = store.getRun(name);
  if (isEngineAlive(run)) {
    store.updateRun(name, { stopRequested: true });
    const engine = { pid: run.enginePid!, startTime: run.engineStart ?? 0 };
    if (run.engineStart !== null) signalProcess(engine, 'SIGTERM');
    else {
      try {
        process.kill(engine.pid, 'SIGTERM'); // a run recorded before start times were
      } catch {
        // it has just exited
      }
    }
    const deadline = Date.now() + ENGINE_STOP_MS;
    while (active() && isEngineAlive(store.getRun(name)) && Date.now() < deadline) await sleep(100);
    if (active() && run.engineStart !== null) signalProcess(engine, 'SIGKILL');
  }
  if (active()) await markStopped(store, name);
  else await reapLeftovers(store, name);
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
      const stopped: { run: string; phase: string }[] = [];
      for (const name of names) {
        const run = store.getRun(name);
        if (run.phase !== 'Running' && run.phase !== 'Pending') {
          if (!all) throw new WorkflowError('RUN_FINISHED', `run ${name} is already ${run.phase}`);
          continue;
        }
        await announcedWait(ctx.out, `run ${name} to stop`, () => stopRun(store, name));
        stopped.push({ run: name, phase: store.getRun(name).phase });
      }
      ctx.out.result(stopped, () =>
        stopped.length ? stopped.map((s) => `${s.run} ${s.phase}`).join('\n') : 'no running runs',
      );
    }),
};
