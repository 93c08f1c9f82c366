import { statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import test from 'ava';
import { openDatabase } from '../../../src/provisiond/database.js';
import { LATEST_VERSION, MIGRATIONS, migrate, schemaVersion } from '../../../src/provisiond/migrations.js';
import { TaskStore } from '../../../src/provisiond/task-store.js';
import { parseTask } from '../../../src/provisiond/task.js';
import { attach, tempDir } from './helpers.js';

const columns = (db: Database.Database, table: string) =>
  (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name);

test('an empty database is migrated to the latest version, WAL and synchronous=FULL, file 0600', (t) => {
  const file = join(tempDir(t), 'p.db');
  const db = openDatabase(file);
  t.teardown(() => db.close());
  t.is(schemaVersion(db), LATEST_VERSION);
  t.is(db.pragma('journal_mode', { simple: true }), 'wal');
  t.is(db.pragma('synchronous', { simple: true }), 2);
  t.true(columns(db, 'tasks').includes('source'));
  t.true(columns(db, 'attempts').includes('retry_in_ms'));
  t.is(statSync(file).mode & 0o777, 0o600);
});

test('a version-1 database with tasks is migrated in place and keeps its tasks', (t) => {
  const file = join(tempDir(t), 'p.db');
  const old = new Database(file);
  migrate(old, MIGRATIONS.slice(0, 1));
  t.is(schemaVersion(old), 1);
  old
    .prepare(
      `INSERT INTO tasks (id, type, network, body, fingerprint, state, attempts, created_at, updated_at, next_attempt_at)
     VALUES ('old-1', 'network.delete', 'n', '{"id":"old-1","network":"n","type":"network.delete"}', 'f', 'running', 1, 5, 5, 5)`,
    )
    .run();
  old.close();
  const db = openDatabase(file);
  t.teardown(() => db.close());
  t.is(schemaVersion(db), LATEST_VERSION);
  const store = new TaskStore(db);
  const task = store.get('old-1')!;
  t.is(task.source, 'api', 'the new column got its default');
  t.is(task.state, 'running');
  t.is(store.recover(10), 1, 'an old running task is recovered like any other');
  t.is(store.get('old-1')!.state, 'pending');
  t.true(store.insert(parseTask(attach('new-1', 'n')), 'spool', 11).created);
});

test('opening twice is a no-op for the schema (migrations run once)', (t) => {
  const file = join(tempDir(t), 'p.db');
  openDatabase(file).close();
  const db = openDatabase(file);
  t.teardown(() => db.close());
  t.deepEqual(migrate(db), { from: LATEST_VERSION, to: LATEST_VERSION });
});

test('a migration that fails midway leaves the database at the previous version, unchanged', (t) => {
  const file = join(tempDir(t), 'p.db');
  const db = new Database(file);
  t.teardown(() => db.close());
  migrate(db, MIGRATIONS.slice(0, 1));
  const broken = [
    ...MIGRATIONS.slice(0, 1),
    { version: 2, description: 'broken', steps: ['CREATE TABLE half (x INTEGER)', 'THIS IS NOT SQL'] },
  ];
  t.throws(() => migrate(db, broken), {
    message: /migration to schema version 2 \(broken\) failed: SQLITE_ERROR; the database stays at version 1/,
  });
  t.is(schemaVersion(db), 1);
  t.falsy(db.prepare("SELECT name FROM sqlite_master WHERE name = 'half'").get());
});

test('a database from a newer provisiond is refused, not written', (t) => {
  const file = join(tempDir(t), 'p.db');
  const db = openDatabase(file);
  db.prepare('UPDATE schema_version SET version = ?').run(LATEST_VERSION + 1);
  db.close();
  t.throws(() => openDatabase(file), { message: /schema version \d+ is newer than this provisiond knows/ });
});
