/**
 * The schema of provisiond's SQLite database as an ordered list of migrations. Each migration is
 * a list of SQL statements applied in one transaction together with the bump of
 * `schema_version`, so a database is always at exactly one version: a crash mid-migration leaves
 * the previous version intact. Migrations are append-only: never edit a released one.
 */
import type BetterSqlite3 from 'better-sqlite3';
import { ProvisiondError } from './errors.js';

export interface Migration {
  readonly version: number;
  readonly description: string;
  readonly steps: readonly string[];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'tasks',
    steps: [
      `CREATE TABLE tasks (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        type TEXT NOT NULL CHECK (type IN ('network.apply', 'network.delete', 'workload.attach', 'workload.detach')),
        network TEXT NOT NULL,
        body TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'running', 'succeeded', 'failed', 'cancelled')),
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        finished_at INTEGER,
        next_attempt_at INTEGER NOT NULL,
        result TEXT,
        error TEXT
      )`,
      'CREATE INDEX tasks_by_network ON tasks (network, seq)',
    ],
  },
  {
    version: 2,
    description: 'attempt history, task source',
    steps: [
      `CREATE TABLE attempts (
        task_seq INTEGER NOT NULL REFERENCES tasks (seq),
        attempt INTEGER NOT NULL,
        started_at INTEGER NOT NULL,
        finished_at INTEGER,
        outcome TEXT CHECK (outcome IN ('succeeded', 'failed', 'retry', 'interrupted')),
        status INTEGER,
        replayed INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        retry_in_ms INTEGER,
        PRIMARY KEY (task_seq, attempt)
      ) WITHOUT ROWID`,
      "ALTER TABLE tasks ADD COLUMN source TEXT NOT NULL DEFAULT 'api'",
      'ALTER TABLE tasks ADD COLUMN first_started_at INTEGER',
    ],
  },
  {
    version: 3,
    description: 'index of unfinished tasks (the dispatcher scans only these)',
    steps: [
      "CREATE INDEX tasks_active ON tasks (network, seq) WHERE state IN ('pending', 'running')",
      'CREATE INDEX tasks_by_state ON tasks (state, seq)',
    ],
  },
  {
    version: 4,
    description: 'store agent: the saved watch revision and what was last enqueued per network',
    steps: [
      'CREATE TABLE store_cursor (id INTEGER PRIMARY KEY CHECK (id = 1), revision INTEGER NOT NULL)',
      `CREATE TABLE store_networks (
        network TEXT PRIMARY KEY,
        revision INTEGER NOT NULL,
        member INTEGER NOT NULL CHECK (member IN (0, 1))
      ) WITHOUT ROWID`,
    ],
  },
];

export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;

/** The database's schema version; 0 for a new, empty database. */
export function schemaVersion(db: BetterSqlite3.Database): number {
  const table = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").get();
  if (!table) return 0;
  const row = db.prepare('SELECT version FROM schema_version').get() as { version: number } | undefined;
  return row?.version ?? 0;
}

/**
 * Brings the database to the last version of `migrations`, one transaction per migration.
 * A database newer than this program knows is refused (an older provisiond must not write it).
 */
export function migrate(
  db: BetterSqlite3.Database,
  migrations: readonly Migration[] = MIGRATIONS,
): { from: number; to: number } {
  db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
  if (!db.prepare('SELECT 1 FROM schema_version').get())
    db.prepare('INSERT INTO schema_version (version) VALUES (0)').run();
  const from = schemaVersion(db);
  const known = migrations[migrations.length - 1]?.version ?? 0;
  if (from > known) {
    throw new ProvisiondError(
      'EINVAL',
      `database schema version ${from} is newer than this provisiond knows (${known}); use a newer zmesh`,
      { field: 'schema_version' },
    );
  }
  for (const migration of migrations) {
    if (migration.version <= from) continue;
    try {
      db.transaction(() => {
        for (const step of migration.steps) db.exec(step);
        db.prepare('UPDATE schema_version SET version = ?').run(migration.version);
      }).immediate();
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      throw new ProvisiondError(
        'EINTERNAL',
        `migration to schema version ${migration.version} (${migration.description}) failed: ${typeof code === 'string' ? code : 'error'}; the database stays at version ${schemaVersion(db)}`,
        { field: 'schema_version' },
        { cause: error },
      );
    }
  }
  return { from, to: Math.max(from, known) };
}
