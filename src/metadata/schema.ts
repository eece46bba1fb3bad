import type Database from 'better-sqlite3';
import { MetadataError } from './errors.js';

/**
 * Schema migrations, applied in order; `PRAGMA user_version` records how many ran. Never edit a migration
 * that has shipped: append a new one (a workspace created by an older distml is upgraded in place).
 */
const MIGRATIONS: string[] = [
  `
  CREATE TABLE runs (
    name TEXT PRIMARY KEY,
    workflow TEXT NOT NULL,          -- metadata.name (or generateName) of the spec
    spec TEXT NOT NULL,              -- the validated spec as JSON
    parameters TEXT NOT NULL,        -- resolved workflow parameters as JSON
    phase TEXT NOT NULL,
    message TEXT,
    created_at INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER,
    engine_pid INTEGER,
    stop_requested INTEGER NOT NULL DEFAULT 0
  );
  CREATE TABLE nodes (
    run TEXT NOT NULL REFERENCES runs(name) ON DELETE CASCADE,
    id TEXT NOT NULL,                -- path of the node in the run, e.g. run.train(0:cnn)
    parent TEXT,
    seq INTEGER NOT NULL,            -- creation order, for stable listings
    display_name TEXT NOT NULL,
    template TEXT NOT NULL,
    type TEXT NOT NULL,              -- Steps | DAG | Pod | Skipped
    phase TEXT NOT NULL,
    message TEXT,
    started_at INTEGER,
    finished_at INTEGER,
    inputs TEXT,
    outputs TEXT,
    memo_hit INTEGER,
    memo_key TEXT,
    memo_cache TEXT,
    retries INTEGER NOT NULL DEFAULT 0,
    pid INTEGER,
    exit_code INTEGER,
    scratch_dir TEXT,
    log_path TEXT,
    PRIMARY KEY (run, id)
  );
  CREATE TABLE memo_cache (
    cache_name TEXT NOT NULL,
    key TEXT NOT NULL,
    outputs TEXT NOT NULL,
    node TEXT,                       -- run/node that produced the entry
    created_at INTEGER NOT NULL,
    last_hit_at INTEGER,
    expires_at INTEGER,
    PRIMARY KEY (cache_name, key)
  );
  CREATE TABLE metrics (
    run TEXT NOT NULL REFERENCES runs(name) ON DELETE CASCADE,
    node TEXT NOT NULL,
    name TEXT NOT NULL,
    value REAL NOT NULL,
    recorded_at INTEGER NOT NULL,
    PRIMARY KEY (run, node, name)
  );
  CREATE TABLE artifacts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run TEXT NOT NULL,
    node TEXT NOT NULL,
    kind TEXT NOT NULL,              -- dataset | model | model-version | file
    uri TEXT NOT NULL,
    digest TEXT,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE lineage (
    artifact INTEGER NOT NULL REFERENCES artifacts(id) ON DELETE CASCADE,
    run TEXT NOT NULL,
    node TEXT NOT NULL,
    role TEXT NOT NULL,              -- input | output
    PRIMARY KEY (artifact, run, node, role)
  );
  CREATE INDEX artifacts_uri ON artifacts(uri);
  `,
  // A process is known by pid and start time (/proc/PID/stat field 22), so a reused pid is never signalled.
  `
  ALTER TABLE runs ADD COLUMN engine_start INTEGER;
  ALTER TABLE nodes ADD COLUMN pid_start INTEGER;
  `,
  // Argo's node `progress` (`N/M`): epochs or steps of a training, items of a fan-out, a server's replicas.
  `ALTER TABLE nodes ADD COLUMN progress TEXT;`,
];

/** Current schema version this build writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Brings the database to SCHEMA_VERSION; refuses a database written by a newer distml. Safe when several
 * processes open a new workspace at once: the version is read and the migrations run inside one
 * BEGIN IMMEDIATE transaction (the write lock, waited for through busy_timeout), so exactly one process
 * migrates and the others then find the schema current.
 */
export function migrate(db: Database.Database): void {
  if (userVersion(db) === SCHEMA_VERSION) return; // the common case, without taking the write lock
  db.transaction(() => {
    const current = userVersion(db);
    if (current > SCHEMA_VERSION) {
      throw new MetadataError(
        'METADATA_SCHEMA_TOO_NEW',
        `the workspace database has schema version ${current}, newer than this distml understands (${SCHEMA_VERSION}); upgrade distml or use another --workspace`,
      );
    }
    for (let v = current; v < SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v] as string);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

const userVersion = (db: Database.Database): number => db.pragma('user_version', { simple: true }) as number;
