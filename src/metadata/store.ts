import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { MetadataError } from './errors.js';
import { readRecord, updateRow, type Row } from './columns.js';
import {
  ARTIFACT_COLUMNS,
  MEMO_COLUMNS,
  NODE_COLUMNS,
  RUN_COLUMNS,
  type ArtifactRecord,
  type MemoEntry,
  type NodeOutputs,
  type NodePatch,
  type NodeRecord,
  type RunRecord,
} from './records.js';
import { migrate } from './schema.js';

const toRun = (r: Row): RunRecord => readRecord(RUN_COLUMNS, r);
const toNode = (r: Row): NodeRecord => readRecord(NODE_COLUMNS, r);
const toMemo = (r: Row): MemoEntry => readRecord(MEMO_COLUMNS, r);
const toArtifact = (r: Row): ArtifactRecord => readRecord(ARTIFACT_COLUMNS, r);

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
      throw new MetadataError(
        'METADATA_RUN_NOT_FOUND',
        `no run named "${name}"; \`distml list\` shows the runs`,
      );
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
    updateRow(this.db, 'runs', RUN_COLUMNS, 'name = @name', { name }, patch);
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
    updateRow(this.db, 'nodes', NODE_COLUMNS, 'run = @run AND id = @id', { run, id }, patch);
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
      toArtifact,
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
