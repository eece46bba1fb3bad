// The records the metadata store keeps, and for each the column table that reads and updates its rows.
import { columnTable, type CompositeColumn } from './columns.js';

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
  /** Files or folders the step saved to the workspace's artifact repository (Argo's outputs.artifacts). */
  artifacts?: StoredArtifact[];
}

/** An artifact in the content-addressed repository, as a node's outputs and the memo cache keep it. */
export interface StoredArtifact {
  name: string;
  /** `sha256:<hex>` of the stored blob (the file itself, or the archive of it). */
  digest: string;
  /** Bytes of the blob. */
  size: number;
  /** How the blob holds it: the bytes as they are, or a tar archive (gzip-compressed unless level 0). */
  archive: 'none' | 'tar' | 'tgz';
  type: 'file' | 'dir';
  /** `run/node` that produced it. */
  node: string;
  /** Where the producing step wrote it. */
  path?: string;
  /** Exported as `workflow.outputs.artifacts.<globalName>`. */
  globalName?: string;
  /** As an input: the file or folder inside this artifact that was used (Argo's subPath). */
  subPath?: string;
  /** Its row in the lineage tables (artifacts), for consumers to link to. */
  id?: number;
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

// One line a concern, several fields a line: a table to read across, as Argo's `db:` tags are.
// prettier-ignore
export const RUN_COLUMNS = columnTable<RunRecord>({
  name: 'text key', workflow: 'text', spec: 'json?', parameters: 'json',
  phase: 'text', message: 'text?', createdAt: 'number', startedAt: 'number?', finishedAt: 'number?',
  enginePid: 'number?', engineStart: 'number?', stopRequested: 'bool',
});

/** memo_hit, memo_key, memo_cache: a NULL memo_key means the node was not memoized. */
const MEMOIZATION_STATUS: CompositeColumn = {
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
};

// prettier-ignore
export const NODE_COLUMNS = columnTable<NodeRecord>({
  run: 'text key', id: 'text key', parent: 'text?', seq: 'number key',
  displayName: 'text', template: 'text', type: 'text', phase: 'text', message: 'text?',
  startedAt: 'number?', finishedAt: 'number?', inputs: 'json?', outputs: 'json?',
  memoizationStatus: MEMOIZATION_STATUS, retries: 'number',
  pid: 'number?', pidStart: 'number?', exitCode: 'number?',
  scratchDir: 'text?', logPath: 'text?', progress: 'text?',
});

// prettier-ignore
export const MEMO_COLUMNS = columnTable<MemoEntry>({
  cacheName: 'text key', key: 'text key', outputs: 'json', node: 'text?',
  createdAt: 'number', lastHitAt: 'number?', expiresAt: 'number?',
});

// prettier-ignore
export const ARTIFACT_COLUMNS = columnTable<ArtifactRecord>({
  id: 'number key', run: 'text', node: 'text', kind: 'text', uri: 'text', digest: 'text?', createdAt: 'number',
});
