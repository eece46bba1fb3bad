import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { MetadataError } from './errors.js';
import { migrate } from './schema.js';

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

type Row = Record<string, unknown>;
const json = (v: unknown): string | null => (v === null || v === undefined ? null : JSON.stringify(v));
const parse = <T>(v: unknown): T | null => (typeof v === 'string' ? (JSON.parse(v) as T) : null);

/** The workspace's metadata database (`<workspace>/distml.db`): runs, nodes, memo cache, metrics, lineage. */
export class MetadataStore {
  private constructor(readonly db: Database.Database) {}

  /**
   * A prepared statement, compiled once per SQL text: the workflow engine writes a node several times per step
   * (bench/workflow: compiling each statement anew was ~16% of a 1,000-step fan-out's engine time).
   */
  private readonly statements = new Map<string, Database.Statement>();
  private stmt(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) this.statements.set(sql, (s = this.db.prepare(sql)));
    return s;
  }

  /** Opens (creating and migrating as needed) the database of a workspace. */
  static open(workspace: string): MetadataStore {
    let db: Database.Database;
    try {
      mkdirSync(workspace, { recursive: true });
      db = new Database(join(workspace, 'distml.db'));
    } catch (err) {
      throw new MetadataError(
        'METADATA_OPEN_FAILED',
        `cannot open ${join(workspace, 'distml.db')}: ${(err as Error).message}`,
      );
    }
    // The timeout covers two writers meeting, and must be set first: switching a new database to WAL takes
    // a lock that another process opening it at the same moment may hold. WAL lets `distml get` read while an
    // engine writes.
    db.pragma('busy_timeout = 10000');
    switchToWal(db);
    db.pragma('foreign_keys = ON');
    db.pragma('synchronous = NORMAL');
    migrate(db);
    return new MetadataStore(db);
  }

  close(): void {
    this.db.close();
  }

  // ---- runs

  createRun(r: { name: string; workflow: string; spec: unknown; parameters: Record<string, string> }): void {
    this.db
      .prepare(
        `INSERT INTO runs (name, workflow, spec, parameters, phase, created_at) VALUES (?, ?, ?, ?, 'Pending', ?)`,
      )
      .run(r.name, r.workflow, JSON.stringify(r.spec), JSON.stringify(r.parameters), Date.now());
  }

  hasRun(name: string): boolean {
    return this.db.prepare('SELECT 1 FROM runs WHERE name = ?').get(name) !== undefined;
  }

  getRun(name: string): RunRecord {
    const row = this.db.prepare('SELECT * FROM runs WHERE name = ?').get(name) as Row | undefined;
    if (!row)
      throw new MetadataError('RUN_NOT_FOUND', `no run named "${name}"; \`distml list\` shows the runs`);
    return toRun(row);
  }

  listRuns(): RunRecord[] {
    return (this.db.prepare('SELECT * FROM runs ORDER BY created_at, name').all() as Row[]).map(toRun);
  }

  updateRun(
    name: string,
    patch: Partial<
      Pick<
        RunRecord,
        'phase' | 'message' | 'startedAt' | 'finishedAt' | 'enginePid' | 'engineStart' | 'stopRequested'
      >
    >,
  ): void {
    const cols: Record<string, unknown> = {
      phase: patch.phase,
      message: patch.message,
      started_at: patch.startedAt,
      finished_at: patch.finishedAt,
      engine_pid: patch.enginePid,
      engine_start: patch.engineStart,
      stop_requested: patch.stopRequested === undefined ? undefined : patch.stopRequested ? 1 : 0,
    };
    this.update('runs', 'name = @name', { name }, cols);
  }

  // ---- nodes

  /** Creates the node if new (keeping an existing one as it is), returning the stored record. */
  ensureNode(n: {
    run: string;
    id: string;
    parent: string | null;
    displayName: string;
    template: string;
    type: string;
  }): NodeRecord {
    this.stmt(
      `INSERT OR IGNORE INTO nodes (run, id, parent, seq, display_name, template, type, phase)
         VALUES (@run, @id, @parent, (SELECT COALESCE(MAX(seq), 0) + 1 FROM nodes WHERE run = @run),
                 @displayName, @template, @type, 'Pending')`,
    ).run(n);
    return this.getNode(n.run, n.id) as NodeRecord;
  }

  getNode(run: string, id: string): NodeRecord | undefined {
    const row = this.stmt('SELECT * FROM nodes WHERE run = ? AND id = ?').get(run, id) as Row | undefined;
    return row ? toNode(row) : undefined;
  }

  listNodes(run: string): NodeRecord[] {
    return (this.db.prepare('SELECT * FROM nodes WHERE run = ? ORDER BY seq').all(run) as Row[]).map(toNode);
  }

  /** Persists one node transition. */
  updateNode(run: string, id: string, patch: NodePatch): void {
    const cols: Record<string, unknown> = {
      parent: patch.parent,
      display_name: patch.displayName,
      template: patch.template,
      type: patch.type,
      phase: patch.phase,
      message: patch.message,
      started_at: patch.startedAt,
      finished_at: patch.finishedAt,
      inputs: patch.inputs === undefined ? undefined : json(patch.inputs),
      outputs: patch.outputs === undefined ? undefined : json(patch.outputs),
      memo_hit:
        patch.memoizationStatus === undefined
          ? undefined
          : patch.memoizationStatus?.hit
            ? 1
            : patch.memoizationStatus
              ? 0
              : null,
      memo_key: patch.memoizationStatus === undefined ? undefined : (patch.memoizationStatus?.key ?? null),
      memo_cache:
        patch.memoizationStatus === undefined ? undefined : (patch.memoizationStatus?.cacheName ?? null),
      retries: patch.retries,
      pid: patch.pid,
      pid_start: patch.pidStart,
      exit_code: patch.exitCode,
      scratch_dir: patch.scratchDir,
      log_path: patch.logPath,
      progress: patch.progress,
    };
    this.update('nodes', 'run = @run AND id = @id', { run, id }, cols);
  }

  // ---- memo cache

  getMemo(cacheName: string, key: string): MemoEntry | undefined {
    const row = this.db
      .prepare('SELECT * FROM memo_cache WHERE cache_name = ? AND key = ?')
      .get(cacheName, key) as Row | undefined;
    return row ? toMemo(row) : undefined;
  }

  putMemo(e: {
    cacheName: string;
    key: string;
    outputs: NodeOutputs;
    node: string;
    expiresAt: number | null;
  }): void {
    this.db
      .prepare(
        `INSERT INTO memo_cache (cache_name, key, outputs, node, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (cache_name, key) DO UPDATE SET outputs = excluded.outputs, node = excluded.node,
           created_at = excluded.created_at, expires_at = excluded.expires_at, last_hit_at = NULL`,
      )
      .run(e.cacheName, e.key, JSON.stringify(e.outputs), e.node, Date.now(), e.expiresAt);
  }

  touchMemo(cacheName: string, key: string): void {
    this.db
      .prepare('UPDATE memo_cache SET last_hit_at = ? WHERE cache_name = ? AND key = ?')
      .run(Date.now(), cacheName, key);
  }

  listMemo(cacheName?: string): MemoEntry[] {
    const rows = cacheName
      ? this.db.prepare('SELECT * FROM memo_cache WHERE cache_name = ? ORDER BY created_at').all(cacheName)
      : this.db.prepare('SELECT * FROM memo_cache ORDER BY cache_name, created_at').all();
    return (rows as Row[]).map(toMemo);
  }

  /** Deletes entries neither created nor hit since `before` (epoch ms); returns them. */
  gcMemo(before: number, cacheName?: string): MemoEntry[] {
    const stale = this.listMemo(cacheName).filter((e) => (e.lastHitAt ?? e.createdAt) < before);
    const del = this.db.prepare('DELETE FROM memo_cache WHERE cache_name = ? AND key = ?');
    this.db.transaction(() => stale.forEach((e) => del.run(e.cacheName, e.key)))();
    return stale;
  }

  // ---- metrics, artifacts, lineage

  recordMetrics(run: string, node: string, metrics: Record<string, number>): void {
    const put = this.db.prepare(
      `INSERT INTO metrics (run, node, name, value, recorded_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (run, node, name) DO UPDATE SET value = excluded.value, recorded_at = excluded.recorded_at`,
    );
    const now = Date.now();
    this.db.transaction(() => {
      for (const [k, v] of Object.entries(metrics)) if (Number.isFinite(v)) put.run(run, node, k, v, now);
    })();
  }

  metrics(run: string): { node: string; name: string; value: number }[] {
    return this.db
      .prepare('SELECT node, name, value FROM metrics WHERE run = ? ORDER BY node, name')
      .all(run) as {
      node: string;
      name: string;
      value: number;
    }[];
  }

  /** Records an artifact a node produced; returns its id. */
  recordArtifact(a: {
    run: string;
    node: string;
    kind: string;
    uri: string;
    digest?: string | null;
  }): number {
    const info = this.db
      .prepare('INSERT INTO artifacts (run, node, kind, uri, digest, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(a.run, a.node, a.kind, a.uri, a.digest ?? null, Date.now());
    const id = Number(info.lastInsertRowid);
    this.linkArtifact(id, a.run, a.node, 'output');
    return id;
  }

  linkArtifact(artifact: number, run: string, node: string, role: 'input' | 'output'): void {
    this.db
      .prepare('INSERT OR IGNORE INTO lineage (artifact, run, node, role) VALUES (?, ?, ?, ?)')
      .run(artifact, run, node, role);
  }

  artifacts(run: string): ArtifactRecord[] {
    return (this.db.prepare('SELECT * FROM artifacts WHERE run = ? ORDER BY id').all(run) as Row[]).map(
      (r) => ({
        id: Number(r['id']),
        run: String(r['run']),
        node: String(r['node']),
        kind: String(r['kind']),
        uri: String(r['uri']),
        digest: (r['digest'] as string | null) ?? null,
        createdAt: Number(r['created_at']),
      }),
    );
  }

  /** Lineage edges of a run: which node consumed or produced which artifact. */
  lineage(run: string): { artifact: number; node: string; role: string; uri: string; kind: string }[] {
    return this.db
      .prepare(
        `SELECT l.artifact, l.node, l.role, a.uri, a.kind FROM lineage l JOIN artifacts a ON a.id = l.artifact
         WHERE l.run = ? ORDER BY l.artifact, l.role`,
      )
      .all(run) as { artifact: number; node: string; role: string; uri: string; kind: string }[];
  }

  private update(
    table: string,
    where: string,
    keys: Record<string, unknown>,
    cols: Record<string, unknown>,
  ): void {
    const set = Object.entries(cols).filter(([, v]) => v !== undefined);
    if (set.length === 0) return;
    const params: Record<string, unknown> = { ...keys };
    for (const [k, v] of set) params[`v_${k}`] = typeof v === 'boolean' ? (v ? 1 : 0) : v;
    this.stmt(`UPDATE ${table} SET ${set.map(([k]) => `${k} = @v_${k}`).join(', ')} WHERE ${where}`).run(
      params,
    );
  }
}

function toRun(r: Row): RunRecord {
  return {
    name: String(r['name']),
    workflow: String(r['workflow']),
    spec: parse(r['spec']),
    parameters: parse<Record<string, string>>(r['parameters']) ?? {},
    phase: r['phase'] as RunPhase,
    message: (r['message'] as string | null) ?? null,
    createdAt: Number(r['created_at']),
    startedAt: (r['started_at'] as number | null) ?? null,
    finishedAt: (r['finished_at'] as number | null) ?? null,
    enginePid: (r['engine_pid'] as number | null) ?? null,
    engineStart: (r['engine_start'] as number | null) ?? null,
    stopRequested: Boolean(r['stop_requested']),
  };
}

function toNode(r: Row): NodeRecord {
  return {
    run: String(r['run']),
    id: String(r['id']),
    parent: (r['parent'] as string | null) ?? null,
    seq: Number(r['seq']),
    displayName: String(r['display_name']),
    template: String(r['template']),
    type: String(r['type']),
    phase: r['phase'] as NodePhase,
    message: (r['message'] as string | null) ?? null,
    startedAt: (r['started_at'] as number | null) ?? null,
    finishedAt: (r['finished_at'] as number | null) ?? null,
    inputs: parse(r['inputs']),
    outputs: parse(r['outputs']),
    memoizationStatus:
      r['memo_key'] === null || r['memo_key'] === undefined
        ? null
        : { hit: Boolean(r['memo_hit']), key: String(r['memo_key']), cacheName: String(r['memo_cache']) },
    retries: Number(r['retries']),
    pid: (r['pid'] as number | null) ?? null,
    pidStart: (r['pid_start'] as number | null) ?? null,
    exitCode: (r['exit_code'] as number | null) ?? null,
    scratchDir: (r['scratch_dir'] as string | null) ?? null,
    logPath: (r['log_path'] as string | null) ?? null,
    progress: (r['progress'] as string | null) ?? null,
  };
}

function toMemo(r: Row): MemoEntry {
  return {
    cacheName: String(r['cache_name']),
    key: String(r['key']),
    outputs: parse<NodeOutputs>(r['outputs']) ?? {},
    node: (r['node'] as string | null) ?? null,
    createdAt: Number(r['created_at']),
    lastHitAt: (r['last_hit_at'] as number | null) ?? null,
    expiresAt: (r['expires_at'] as number | null) ?? null,
  };
}

/**
 * Puts the database in WAL mode. The switch can answer SQLITE_BUSY at once, without waiting out the busy
 * timeout, while another process opening a new workspace holds the lock it needs: try again for up to 30 s.
 */
function switchToWal(db: Database.Database): void {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      db.pragma('journal_mode = WAL');
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() > deadline) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
}
