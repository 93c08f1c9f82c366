/**
 * Opening provisiond's SQLite file: WAL (readers never block the writer), synchronous=FULL (a
 * commit is on disk when it returns: a task acknowledged to a client survives a power cut),
 * foreign keys on, a busy timeout, the file 0600 in a 0700 directory, then the migrations.
 */
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ProvisiondError } from './errors.js';
import { type Migration, MIGRATIONS, migrate } from './migrations.js';

export type Db = Database.Database;

export const DATABASE_FILE = 'provisiond.db';

/** Opens (creating if needed) the database at `file` and migrates it. */
export function openDatabase(file: string, migrations: readonly Migration[] = MIGRATIONS): Db {
  let db: Db;
  const previous = process.umask(0o077);
  try {
    db = new Database(file);
  } catch (error) {
    throw new ProvisiondError(
      'EINTERNAL',
      `cannot open the database ${file}: ${(error as { code?: string }).code ?? 'error'}`,
      { field: '--state-dir' },
      { cause: error },
    );
  } finally {
    process.umask(previous);
  }
  try {
    chmodSync(file, 0o600);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    migrate(db, migrations);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

/** The database of a state dir: D/provisiond.db, D created 0700. */
export function openStateDatabase(stateDir: string): Db {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  return openDatabase(join(stateDir, DATABASE_FILE));
}
