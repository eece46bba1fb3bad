// The records the metadata store keeps, and for each the column table that reads and updates its rows.
import type { ColumnTable } from './columns.js';

/** Argo's node phases, plus Omitted for tasks whose `depends` can never hold. */
export const NODE_PHASES = [
  'Pending',
  'Running',
  'Succeeded',
  'Failed',
  'Error',
  'Skipped',
  'Omitted',
] as const;
export type NodePhase = (typeof NODE_PHASES)[number];
export type RunPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Error';

export interface MemoizationStatus {
  hit: boolean;
  key: string;
  cacheName: string;
}

export interface NodeOutputs {
  result?: string;
  parameters?: Record<string, string>;
  exitCode?: number;
}

export interface RunRecord {
  name: string;
  workflow: string;
  spec: unknown;
  parameters: Record<string, string>;
  phase: RunPhase;
  message: string | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  enginePid: number | null;
  /** Start time of the engine process (/proc/PID/stat field 22), so a reused pid is not taken for it. */
  engineStart: number | null;
  stopRequested: boolean;
}

export interface NodeRecord {
  run: string;
  id: string;
  parent: string | null;
  seq: number;
  displayName: string;
  template: string;
  type: string;
  phase: NodePhase;
  message: string | null;
  startedAt: number | null;
  finishedAt: number | null;
  inputs: Record<string, string> | null;
  outputs: NodeOutputs | null;
  memoizationStatus: MemoizationStatus | null;
  retries: number;
  pid: number | null;
  /** Start time of the step's process (/proc/PID/stat field 22): with `pid`, names it unambiguously. */
  pidStart: number | null;
  exitCode: number | null;
  scratchDir: string | null;
  logPath: string | null;
  /** Argo's `progress`: `N/M` done of a long step (e.g. `1200/2814` training steps), null when unknown. */
  progress: string | null;
}

/** Fields a node transition may set; omitted fields keep their stored value. */
export type NodePatch = Partial<Omit<NodeRecord, 'run' | 'id' | 'seq'>>;

export interface MemoEntry {
  cacheName: string;
  key: string;
  outputs: NodeOutputs;
  node: string | null;
  createdAt: number;
  lastHitAt: number | null;
  expiresAt: number | null;
}

export interface ArtifactRecord {
  id: number;
  run: string;
  node: string;
  kind: string;
  uri: string;
  digest: string | null;
  createdAt: number;
}

export const RUN_COLUMNS: ColumnTable<RunRecord> = [
  { field: 'name', column: 'name', codec: 'text', key: true },
  { field: 'workflow', column: 'workflow', codec: 'text' },
  { field: 'spec', column: 'spec', codec: 'json', nullable: true },
  { field: 'parameters', column: 'parameters', codec: 'json', empty: () => ({}) },
  { field: 'phase', column: 'phase', codec: 'text' },
  { field: 'message', column: 'message', codec: 'text', nullable: true },
  { field: 'createdAt', column: 'created_at', codec: 'number' },
  { field: 'startedAt', column: 'started_at', codec: 'number', nullable: true },
  { field: 'finishedAt', column: 'finished_at', codec: 'number', nullable: true },
  { field: 'enginePid', column: 'engine_pid', codec: 'number', nullable: true },
  { field: 'engineStart', column: 'engine_start', codec: 'number', nullable: true },
  { field: 'stopRequested', column: 'stop_requested', codec: 'bool' },
];

export const NODE_COLUMNS: ColumnTable<NodeRecord> = [
  { field: 'run', column: 'run', codec: 'text', key: true },
  { field: 'id', column: 'id', codec: 'text', key: true },
  { field: 'parent', column: 'parent', codec: 'text', nullable: true },
  { field: 'seq', column: 'seq', codec: 'number', key: true },
  { field: 'displayName', column: 'display_name', codec: 'text' },
  { field: 'template', column: 'template', codec: 'text' },
  { field: 'type', column: 'type', codec: 'text' },
  { field: 'phase', column: 'phase', codec: 'text' },
  { field: 'message', column: 'message', codec: 'text', nullable: true },
  { field: 'startedAt', column: 'started_at', codec: 'number', nullable: true },
  { field: 'finishedAt', column: 'finished_at', codec: 'number', nullable: true },
  { field: 'inputs', column: 'inputs', codec: 'json', nullable: true },
  { field: 'outputs', column: 'outputs', codec: 'json', nullable: true },
  {
    // Three columns: a NULL memo_key means no memoization.
    field: 'memoizationStatus',
    read: (r) =>
      r['memo_key'] === null || r['memo_key'] === undefined
        ? null
        : { hit: Boolean(r['memo_hit']), key: String(r['memo_key']), cacheName: String(r['memo_cache']) },
    write: (v) => {
      const m = v as MemoizationStatus | null;
      return {
        memo_hit: m ? (m.hit ? 1 : 0) : null,
        memo_key: m?.key ?? null,
        memo_cache: m?.cacheName ?? null,
      };
    },
  },
  { field: 'retries', column: 'retries', codec: 'number' },
  { field: 'pid', column: 'pid', codec: 'number', nullable: true },
  { field: 'pidStart', column: 'pid_start', codec: 'number', nullable: true },
  { field: 'exitCode', column: 'exit_code', codec: 'number', nullable: true },
  { field: 'scratchDir', column: 'scratch_dir', codec: 'text', nullable: true },
  { field: 'logPath', column: 'log_path', codec: 'text', nullable: true },
  { field: 'progress', column: 'progress', codec: 'text', nullable: true },
];

export const MEMO_COLUMNS: ColumnTable<MemoEntry> = [
  { field: 'cacheName', column: 'cache_name', codec: 'text', key: true },
  { field: 'key', column: 'key', codec: 'text', key: true },
  { field: 'outputs', column: 'outputs', codec: 'json', empty: () => ({}) },
  { field: 'node', column: 'node', codec: 'text', nullable: true },
  { field: 'createdAt', column: 'created_at', codec: 'number' },
  { field: 'lastHitAt', column: 'last_hit_at', codec: 'number', nullable: true },
  { field: 'expiresAt', column: 'expires_at', codec: 'number', nullable: true },
];

export const ARTIFACT_COLUMNS: ColumnTable<ArtifactRecord> = [
  { field: 'id', column: 'id', codec: 'number', key: true },
  { field: 'run', column: 'run', codec: 'text' },
  { field: 'node', column: 'node', codec: 'text' },
  { field: 'kind', column: 'kind', codec: 'text' },
  { field: 'uri', column: 'uri', codec: 'text' },
  { field: 'digest', column: 'digest', codec: 'text', nullable: true },
  { field: 'createdAt', column: 'created_at', codec: 'number' },
];
