/**
 * @module sqlite-directory-schema
 * The directory's tables on SQLite, as migrations applied in order at open; the schema_version
 * table records how many ran. The same shape as the PostgreSQL schema (pg-directory-schema.ts):
 * a lower-case matching key beside the address as given; times in ms since the epoch.
 * Standards: none.
 * Security: none (schema only).
 * Limitations: append a migration to change the schema; never edit one that shipped. A file
 *   migrated by a newer correio is refused, not downgraded.
 */
import type Database from 'better-sqlite3';

/** Schema migrations, applied in order; the version table records how many ran. */
const migrations: readonly string[] = [
  `CREATE TABLE domains (
     name TEXT PRIMARY KEY,
     created_at INTEGER NOT NULL
   );
   CREATE TABLE users (
     key TEXT PRIMARY KEY,
     address TEXT NOT NULL,
     name TEXT,
     password_hash TEXT,
     created_at INTEGER NOT NULL
   );
   CREATE TABLE aliases (
     key TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     targets TEXT NOT NULL,
     source TEXT NOT NULL DEFAULT 'directory',
     updated_at INTEGER NOT NULL
   );
   CREATE INDEX aliases_source ON aliases (source);
   CREATE TABLE lists (
     key TEXT PRIMARY KEY,
     address TEXT NOT NULL,
     owner TEXT NOT NULL,
     description TEXT,
     created_at INTEGER NOT NULL
   );
   CREATE TABLE list_members (
     id INTEGER PRIMARY KEY,
     list_key TEXT NOT NULL REFERENCES lists (key) ON DELETE CASCADE,
     member_key TEXT NOT NULL,
     member TEXT NOT NULL,
     UNIQUE (list_key, member_key)
   );
   CREATE TABLE roles (
     key TEXT PRIMARY KEY,
     address TEXT NOT NULL,
     holder TEXT NOT NULL,
     description TEXT,
     updated_at INTEGER NOT NULL
   );`,
  // quotas (NULL: the configured default) and disabled accounts
  `ALTER TABLE users ADD COLUMN quota_storage INTEGER;
   ALTER TABLE users ADD COLUMN quota_messages INTEGER;
   ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;`,
];

/** Brings the schema of `db` up to date, in one immediate transaction. */
export function migrateSqliteDirectory(db: Database.Database): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
  db.transaction(() => {
    const row = db.prepare('SELECT version FROM schema_version').get() as { version: number } | undefined;
    const from = row?.version ?? 0;
    if (from > migrations.length) {
      throw new Error(`directory schema version ${from} is newer than this correio (${migrations.length})`);
    }
    for (let v = from; v < migrations.length; v++) db.exec(migrations[v]);
    if (row === undefined) db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(migrations.length);
    else db.prepare('UPDATE schema_version SET version = ?').run(migrations.length);
  }).immediate();
}
