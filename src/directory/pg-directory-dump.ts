/**
 * @module pg-directory-dump
 * Writing a whole directory (a DirectoryDump from the SQLite backend: `correio migrate --to
 * postgres://…`) into the PostgreSQL tables, as upserts: an entry that exists already takes
 * the dump's values, so a second run changes nothing (resumable).
 * Standards: none.
 * Security: bound parameters only; password hashes are written as they are, never printed.
 * Limitations: list members missing from the dump are not removed (an upsert only adds).
 */
import { dumpRows, type DirectoryDump, type DumpStatement } from './directory-rows.js';
import type { PgClient } from '../util/pg-database.js';

export const upsertAlias = `INSERT INTO dir_aliases (key, name, targets, source, updated_at) VALUES ($1, $2, $3, $4, $5)
  ON CONFLICT (key) DO UPDATE SET name = excluded.name, targets = excluded.targets,
    source = excluded.source, updated_at = excluded.updated_at`;

const statements: Record<DumpStatement, string> = {
  domain: 'INSERT INTO dir_domains (name, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING',
  user: `INSERT INTO dir_users (key, address, name, password_hash, created_at, quota_storage, quota_messages, disabled)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
    ON CONFLICT (key) DO UPDATE SET address = excluded.address, name = excluded.name, password_hash = excluded.password_hash,
      quota_storage = excluded.quota_storage, quota_messages = excluded.quota_messages, disabled = excluded.disabled`,
  alias: upsertAlias,
  list: `INSERT INTO dir_lists (key, address, owner, description, created_at) VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, description = excluded.description`,
  member: 'INSERT INTO dir_list_members (list_key, member_key, member) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
  role: `INSERT INTO dir_roles (key, address, holder, description, updated_at) VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (key) DO UPDATE SET holder = excluded.holder, description = excluded.description`,
};

/** Writes `d` through `c` (the caller's transaction). */
export async function importPgDump(c: PgClient, d: DirectoryDump): Promise<void> {
  for (const [kind, params] of dumpRows(d, Date.now())) await c.query(statements[kind], params);
}
