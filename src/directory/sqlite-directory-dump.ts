/**
 * @module sqlite-directory-dump
 * Writing a whole directory (a DirectoryDump from the PostgreSQL backend: `correio migrate
 * --to file:DIR`) into the SQLite tables, as upserts: an entry that exists already takes the
 * dump's values, so a second run changes nothing (resumable). The reverse of
 * pg-directory-dump.ts, with the same rows (directory-rows.ts dumpRows).
 * Standards: none.
 * Security: bound parameters only; password hashes are written as they are, never printed.
 * Limitations: list members missing from the dump are not removed (an upsert only adds).
 */
import type Database from 'better-sqlite3';
import { dumpRows, type DirectoryDump, type DumpStatement } from './directory-rows.js';

const statements: Record<DumpStatement, string> = {
  domain: 'INSERT OR IGNORE INTO domains (name, created_at) VALUES (?, ?)',
  user: `INSERT INTO users (key, address, name, password_hash, created_at, quota_storage, quota_messages, disabled)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (key) DO UPDATE SET address = excluded.address, name = excluded.name, password_hash = excluded.password_hash,
      quota_storage = excluded.quota_storage, quota_messages = excluded.quota_messages, disabled = excluded.disabled`,
  alias: `INSERT INTO aliases (key, name, targets, source, updated_at) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (key) DO UPDATE SET name = excluded.name, targets = excluded.targets, source = excluded.source, updated_at = excluded.updated_at`,
  list: `INSERT INTO lists (key, address, owner, description, created_at) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, description = excluded.description`,
  member: 'INSERT OR IGNORE INTO list_members (list_key, member_key, member) VALUES (?, ?, ?)',
  role: `INSERT INTO roles (key, address, holder, description, updated_at) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (key) DO UPDATE SET holder = excluded.holder, description = excluded.description`,
};

/** Writes `d` into `db` in one transaction. */
export function importSqliteDump(db: Database.Database, d: DirectoryDump): void {
  const prepared = new Map<DumpStatement, Database.Statement>();
  db.transaction(() => {
    for (const [kind, params] of dumpRows(d, Date.now())) {
      let st = prepared.get(kind);
      if (st === undefined) prepared.set(kind, (st = db.prepare(statements[kind])));
      // SQLite has no boolean: disabled is stored as 0/1
      st.run(...params.map((p) => (typeof p === 'boolean' ? Number(p) : p)));
    }
  }).immediate();
}
