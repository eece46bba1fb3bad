import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { StepPreemptions } from './preempt.js';
import type {
  MetadataStore,
  NodeOutputs,
  NodePatch,
  NodePhase,
  StoredArtifact,
} from '../../metadata/index.js';
import type { ResourcePool } from '../../scheduler/index.js';
import type { Template, WorkflowSpec } from '../spec/schema.js';
import type { StepProcess } from './process.js';
import type { Slots } from './slots.js';

/** A line of progress the engine reports (the CLI prints it as JSON or draws the tree). */
export type EngineEvent =
  | {
      event: 'node';
      run: string;
      node: string;
      name: string;
      phase: NodePhase;
      message?: string | null;
      memoHit?: boolean;
    }
  | { event: 'run'; run: string; phase: string; message?: string | null };

/** Who a run's steps are scheduled as (issue 13): `distml run --user/--queue/--priority`. */
export interface RunJob {
  user: string;
  /** A queue of the applied queue file (a ClusterQueue or LocalQueue). */
  queue: string;
  /** A priority class of the queue file; absent: its defaultPriorityClass. */
  priorityClass?: string;
}

/** Everything one execution of a run shares. */
export interface RunContext {
  store: MetadataStore;
  run: string;
  spec: WorkflowSpec;
  templates: Map<string, Template>;
  workspace: string;
  pool: ResourcePool;
  /** argv prefix that runs the distml CLI, e.g. [node, .../dist/src/cli/main.js]. */
  distmlCommand: string[];
  /** Where the run was started (a built-in step's cwd). */
  cwd: string;
  /** Aborted by `distml stop`: running steps are killed, nothing new starts. */
  signal: AbortSignal;
  /** Reuse nodes already Succeeded or Skipped (resume and retry). */
  reuse: boolean;
  daemons: Set<StepProcess>;
  /** When this execution of the run started (ms), for `{{workflow.duration}}`. */
  startedAt: number;
  /** The workflow's `parallelism`: at most that many steps of the run at once. */
  podSlots?: Slots;
  /** Longest a daemon step may take to become ready (print its first line) before it is failed. */
  daemonReadyTimeoutMs: number;
  /**
   * Argo's global outputs set so far, as scope variables: `workflow.outputs.parameters.<globalName>` and
   * `workflow.outputs.artifacts.<globalName>` of the steps done.
   */
  globals: Map<string, string>;
  /** Where the scheduler preempts running steps (preempt.ts); absent: steps are never preempted. */
  preemptions?: StepPreemptions;
  /** The run's user, queue and priority: its steps are admitted as scheduler jobs (else plain acquires). */
  job?: RunJob;
  emit(e: EngineEvent): void;
}

/** One call of a template: the node it becomes and the arguments it gets. */
export interface Call {
  template: string;
  id: string;
  parent: string | null;
  displayName: string;
  args: Map<string, string>;
  /** Input artifacts given by the caller (`arguments.artifacts`), by name. */
  artifacts: Map<string, ArtifactSource>;
}

/** An artifact handed to a call: one in the repository, or Argo's inline `raw` data. */
export type ArtifactSource = { ref: StoredArtifact } | { raw: string };

/** Final state of a node as its parent sees it. */
export interface NodeResult {
  phase: NodePhase;
  outputs: NodeOutputs;
  message?: string | null;
}

/** Where a run keeps its files inside the workspace. */
export function runDirs(
  workspace: string,
  run: string,
): { logs: string; scratch: string; artifacts: string } {
  const base = join(workspace, 'runs', run);
  return { logs: join(base, 'logs'), scratch: join(base, 'scratch'), artifacts: join(base, 'artifacts') };
}

/** A file-system-safe, collision-free name for a node id. */
export function fileName(nodeId: string): string {
  const hash = createHash('sha1').update(nodeId).digest('hex').slice(0, 6);
  return `${nodeId.replace(/[^A-Za-z0-9._-]+/g, '_').slice(-80)}-${hash}`;
}

/** Persists a node transition and reports it. */
export function transition(ctx: RunContext, id: string, patch: NodePatch): void {
  ctx.store.updateNode(ctx.run, id, patch);
  if (patch.phase === undefined) return;
  const node = ctx.store.getNode(ctx.run, id);
  ctx.emit({
    event: 'node',
    run: ctx.run,
    node: id,
    name: node?.displayName ?? id,
    phase: patch.phase,
    message: patch.message ?? null,
    ...(node?.memoizationStatus ? { memoHit: node.memoizationStatus.hit } : {}),
  });
}

export const isDone = (p: NodePhase) => p !== 'Pending' && p !== 'Running';
export const isFailure = (p: NodePhase) => p === 'Failed' || p === 'Error';
