// `distml train` and `distml serve` typed at a shell submit to the workspace's server (issue 13): the command
// becomes a one-step run whose step is the same command (a built-in step, with the flags given), so it is a
// scheduler job of --user in --queue at --priority, its processes belong to the server, and `distml jobs`,
// `get`, `logs` and `stop` see it. This process follows the run: the step's progress (its stderr) streams
// here, its result is printed as the command would have printed it, Ctrl-C stops it. `--local` (and every
// process that already runs inside a job: a run's step, a launcher's worker) runs the command in-process.
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { MetadataStore, type NodeRecord } from '../../metadata/index.js';
import type { ServerClient } from '../../server/index.js';
import { lastJson, WorkflowError, type EngineEvent } from '../../workflow/index.js';
import { flag, UsageError, type CommandContext, type FlagValues } from '../command.js';
import type { Output, Progress } from '../output.js';
import { envValue } from '../env.js';
import { EXIT_USAGE } from '../errors.js';
import { GLOBAL_OPTIONS } from '../global-options.js';
import { workspaceServer } from '../server-client.js';
import { detached } from './run.js';
import { stopRunOnSignals } from './run-engine.js';
import { schedulingFlags, schedulingOptions } from './scheduling-flags.js';

export const submitFlags = {
  local: flag(
    z.boolean().default(false),
    "run in this process instead of as a job of the workspace's server (not scheduled, not in `distml jobs`)",
  ),
  detach: flag(
    z.boolean().default(false),
    'submit and return at once with the run name (`serve`: once it listens, with its URL)',
  ),
  ...schedulingFlags,
};

/** Flags that shape the submission, not the step: not passed on to it. */
const NOT_PASSED = new Set([...Object.keys(submitFlags), ...Object.keys(GLOBAL_OPTIONS)]);

/**
 * True when the command runs in this process: asked with --local, or this process is already part of a job
 * (a workflow step, a launcher's worker or parameter server, a gateway's replica).
 */
export function runsHere(f: { local: boolean }): boolean {
  return (
    f.local ||
    (['DISTML_RUN', 'MASTER_ADDR', 'TF_CONFIG', 'DISTML_PS_ROLE'] as const).some(
      (k) => envValue(k) !== undefined,
    )
  );
}

export interface Submission {
  kind: 'train' | 'serve';
  /** The command's parsed flags (every command that submits declares submitFlags). */
  flags: FlagValues<typeof submitFlags>;
  /** The step's cores (its gang is derived from them and its flags, as for a run's step). */
  cores: number;
  /** How the step's JSON result reads to people (what the command prints without --json). */
  describe: (result: Record<string, unknown>) => string;
}

/** Submits the command as a one-step run and follows it; returns the exit code. */
export async function submitCommand(ctx: CommandContext, s: Submission): Promise<number | void> {
  const { values, global, out } = ctx;
  const f = s.flags;
  const withValues = Object.fromEntries(
    Object.entries(values)
      .filter(([k, v]) => !NOT_PASSED.has(k) && v !== undefined)
      .map(([k, v]) => [k, Array.isArray(v) ? v.map(String) : String(v)]),
  );
  const client = await workspaceServer(global.workspace, values['idle-timeout'] as string | undefined);
  const { run } = await client.call<{ run: string }>('POST', '/api/v1/runs', {
    workflow: JSON.stringify(oneStepWorkflow(s.kind, withValues, s.cores)),
    parameters: {},
    options: { detach: f.detach, cwd: process.cwd(), ...schedulingOptions(f) },
  });
  const store = MetadataStore.open(global.workspace);
  try {
    if (f.detach && s.kind === 'serve')
      return await detached(client, store, run, new Set(['serve']), global.workspace, out);
    if (f.detach) {
      out.result(
        { run, detached: true },
        () => `${run} submitted; \`distml get ${run}\` follows it, \`distml logs ${run}\` shows its output`,
      );
      return;
    }
    out.info(
      `${s.kind === 'train' ? 'Training' : 'Serving'} as run ${run} of the workspace's server (\`distml jobs\` shows it queued)`,
    );
    return await follow(client, store, run, s, ctx);
  } finally {
    store.close();
  }
}

/**
 * The run: the built-in step, and for `serve` a wait that holds the run (and so the server step, a daemon
 * stopped when its run ends) until it is stopped.
 */
function oneStepWorkflow(
  kind: 'train' | 'serve',
  withValues: Record<string, string | string[]>,
  cores: number,
) {
  const step = { name: kind, distml: { kind, with: withValues }, resources: { cores } };
  const steps = [
    [{ name: kind, template: kind }],
    ...(kind === 'serve' ? [[{ name: 'until-stopped', template: 'until-stopped' }]] : []),
  ];
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Workflow',
    metadata: { generateName: `${kind}-` },
    spec: {
      entrypoint: 'main',
      templates: [
        { name: 'main', steps },
        step,
        ...(kind === 'serve' ? [{ name: 'until-stopped', suspend: {} }] : []),
      ],
    },
  };
}

/** Cores a submitted training asks for: its --threads per worker, else the machine (what it takes locally). */
export function trainCores(threads: number | undefined, workers: number): number {
  return threads !== undefined ? threads * workers : Math.max(workers, availableParallelism());
}

/**
 * Follows the run until it ends: streams its step's stderr here, prints the step's result (a training's
 * report, a server's URL once it listens). Ctrl-C, SIGTERM or SIGHUP stop the run; a server stopped that way
 * is a clean exit, as when it ran in-process.
 */
async function follow(
  client: ServerClient,
  store: MetadataStore,
  run: string,
  s: Submission,
  ctx: CommandContext,
): Promise<number | void> {
  const { out } = ctx;
  const signals = stopRunOnSignals(client, run);
  const streams = new Map<string, Promise<void>>();
  let ended = false;
  let listening = false;
  try {
    for await (const e of client.events(run, true)) {
      if (e.event === 'run' && e.run === run) ended = !['Running', 'Pending'].includes(e.phase);
      const node = stepNode(e, store, run, s.kind);
      if (!node) continue;
      if (node.phase === 'Running' && !streams.has(node.id))
        streams.set(node.id, relayStderr(client, run, node.id, out));
      if (s.kind === 'serve' && node.phase === 'Succeeded' && !listening) {
        listening = true;
        const result = stepResult(store, run, node);
        out.result(result, () => s.describe(result));
      }
    }
    await signals.stopping();
    await Promise.all(streams.values());
    if (!ended)
      throw new WorkflowError(
        'WORKFLOW_RUN_FAILED',
        `the workspace's server exited while run ${run} was running; \`distml get ${run}\` shows it`,
      );
    const record = store.getRun(run);
    if (s.kind === 'serve' && signals.asked() && listening) return;
    const node = store.listNodes(run).find((n) => n.template === s.kind && n.type !== 'Retry');
    if (record.phase !== 'Succeeded' || !node) {
      const why = node?.message ?? record.message;
      const message = `${s.kind} (run ${run}) ${record.phase}${why ? `: ${why}` : ''}; \`distml logs ${run}\` shows its output, \`distml get ${run}\` its steps${/more than the pool has/.test(why ?? '') ? '; ask for fewer cores (--threads, --workers) or run it in this process with --local' : ''}`;
      // The step refused its flags (exit 2): so does this command.
      if (node?.exitCode === EXIT_USAGE) throw new UsageError(message);
      throw new WorkflowError('WORKFLOW_RUN_FAILED', message);
    }
    if (s.kind === 'train') {
      const result = stepResult(store, run, node);
      out.result(result, () => s.describe(result));
    }
  } finally {
    signals.dispose();
  }
}

/** The step's node an event is about (its leaf, not the run's step groups), as recorded. */
function stepNode(e: EngineEvent, store: MetadataStore, run: string, kind: string): NodeRecord | undefined {
  if (e.event !== 'node') return undefined;
  const node = store.getNode(run, e.node);
  return node && node.template === kind && node.type === 'Pod' ? node : undefined;
}

/**
 * Copies a step's stderr here as it is written, until the step ends. The step reports in JSON lines (it runs
 * with --json); its progress and events are shown as this command shows its own (bars, plain lines or JSON).
 */
async function relayStderr(client: ServerClient, run: string, node: string, out: Output): Promise<void> {
  const bars = new Map<string, Progress>();
  let buffered = '';
  try {
    const path = `/api/v1/runs/${run}/logs/${encodeURIComponent(node)}?stream=stderr&follow=true`;
    for await (const chunk of client.stream(path)) {
      buffered += Buffer.from(chunk).toString('utf8');
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) relayLine(line, out, bars);
    }
  } catch {
    // the log is gone with the server: the run's end says what happened
  }
  if (buffered) relayLine(buffered, out, bars);
}

function relayLine(line: string, out: Output, bars: Map<string, Progress>): void {
  let e: Record<string, unknown> | undefined;
  try {
    const v: unknown = JSON.parse(line);
    if (v && typeof v === 'object' && !Array.isArray(v) && 'event' in v) e = v as Record<string, unknown>;
  } catch {
    // a plain line
  }
  if (!e) {
    process.stderr.write(`${line}\n`);
    return;
  }
  if (e['event'] !== 'progress') return out.event(e);
  const { task, done, total, detail, event: _, ...extra } = e;
  const label = String(task);
  if (!bars.has(label)) bars.set(label, out.progress(label));
  bars
    .get(label)!
    .update(Number(done), total === undefined ? undefined : Number(total), String(detail ?? ''), extra);
}

/** The step's result: the JSON document on its last stdout line (the engine has read it already). */
const stepResult = (store: MetadataStore, run: string, node: NodeRecord): Record<string, unknown> =>
  lastJson(store.getNode(run, node.id)?.outputs?.result ?? '');
