// Scheduler jobs and why they wait, in the workspace database, so `distml jobs`, the server and the UI can
// read what the scheduler decided. Its tables are created here if missing (CREATE TABLE IF NOT EXISTS), apart
// from the numbered migrations in schema.ts: they hold a view the scheduler rewrites, never history.
import type Database from 'better-sqlite3';

/** One job as last seen by the scheduler. */
export interface JobRow {
  id: string;
  user: string;
  group: string;
  queue: string;
  priorityClass: string | null;
  priority: number;
  phase: string;
  members: number;
  cores: number;
  memory: number;
  submittedAt: number;
  admittedAt: number | null;
  preemptions: number;
  whyCode: string | null;
  whyMessage: string | null;
  position: number | null;
  estimatedStartAt: number | null;
}

const COLUMNS: [keyof JobRow, string][] = [
  ['id', 'id'],
  ['user', 'user'],
  ['group', 'grp'],
  ['queue', 'queue'],
  ['priorityClass', 'priority_class'],
  ['priority', 'priority'],
  ['phase', 'phase'],
  ['members', 'members'],
  ['cores', 'cores'],
  ['memory', 'memory'],
  ['submittedAt', 'submitted_at'],
  ['admittedAt', 'admitted_at'],
  ['preemptions', 'preemptions'],
  ['whyCode', 'why_code'],
  ['whyMessage', 'why_message'],
  ['position', 'position'],
  ['estimatedStartAt', 'estimated_start_at'],
];

const DDL = `
  CREATE TABLE IF NOT EXISTS sched_jobs (
    id TEXT PRIMARY KEY, user TEXT NOT NULL, grp TEXT NOT NULL, queue TEXT NOT NULL, priority_class TEXT,
    priority INTEGER NOT NULL, phase TEXT NOT NULL, members INTEGER NOT NULL, cores REAL NOT NULL,
    memory REAL NOT NULL, submitted_at INTEGER NOT NULL, admitted_at INTEGER, preemptions INTEGER NOT NULL,
    why_code TEXT, why_message TEXT, position INTEGER, estimated_start_at INTEGER, updated_at INTEGER NOT NULL
  );
  CREATE TABLE IF NOT EXISTS sched_config (
    id INTEGER PRIMARY KEY CHECK (id = 1), yaml TEXT NOT NULL, applied_at INTEGER NOT NULL
  );`;

/** Jobs and the applied queue file, over the workspace's database (MetadataStore.db). */
export class JobStore {
  constructor(private readonly db: Database.Database) {
    db.exec(DDL);
  }

  /** Writes the rows in one transaction: a reader never sees half a cycle. */
  save(rows: JobRow[], now = Date.now()): void {
    const cols = COLUMNS.map(([, c]) => c);
    const stmt = this.db.prepare(
      `INSERT OR REPLACE INTO sched_jobs (${cols.join(', ')}, updated_at) VALUES (${cols.map(() => '?').join(', ')}, ?)`,
    );
    this.db.transaction(() => {
      for (const r of rows) stmt.run(...COLUMNS.map(([k]) => r[k]), now);
    })();
  }

  /** Jobs, pending ones first by position, then the rest by submission (newest first). */
  list(): JobRow[] {
    const rows = this.db
      .prepare(`SELECT * FROM sched_jobs ORDER BY (phase = 'pending') DESC, position, submitted_at DESC`)
      .all() as Record<string, unknown>[];
    return rows.map((r) => Object.fromEntries(COLUMNS.map(([k, c]) => [k, r[c]])) as unknown as JobRow);
  }

  /** Forgets finished and cancelled jobs older than `before`. */
  prune(before: number): number {
    return this.db
      .prepare(`DELETE FROM sched_jobs WHERE phase IN ('finished', 'cancelled') AND updated_at < ?`)
      .run(before).changes;
  }

  /** The queue file in force (`distml queue apply`), or undefined for the default configuration. */
  queueConfig(): { yaml: string; appliedAt: number } | undefined {
    const r = this.db.prepare('SELECT yaml, applied_at FROM sched_config WHERE id = 1').get() as
      { yaml: string; applied_at: number } | undefined;
    return r && { yaml: r.yaml, appliedAt: r.applied_at };
  }

  applyQueueConfig(yaml: string, now = Date.now()): void {
    this.db
      .prepare('INSERT OR REPLACE INTO sched_config (id, yaml, applied_at) VALUES (1, ?, ?)')
      .run(yaml, now);
  }
}
