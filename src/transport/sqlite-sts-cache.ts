/**
 * @module sqlite-sts-cache
 * The MTA-STS policy cache kept in SQLite at `<data_dir>/mta-sts.sqlite`, so a restart keeps
 * every policy until its max_age: an attacker who blocks the policy fetch right after a
 * restart cannot downgrade a domain that had `enforce`.
 * Standards: RFC 8461 §5.1 (senders should cache policies durably, for max_age).
 * Security: rows are values this process fetched over validated HTTPS; a row that does not
 *   parse is ignored (as no cached policy).
 * Limitations: one file per node; expired rows are deleted when read.
 */
import type Database from 'better-sqlite3';
import { openSmallStore } from '../directory/index.js';
import type { StsCache, StsPolicy } from './mta-sts.js';

const schema = `CREATE TABLE IF NOT EXISTS sts_policies (
  domain TEXT PRIMARY KEY, policy TEXT NOT NULL, expires INTEGER NOT NULL
) WITHOUT ROWID;`;

export class SqliteStsCache implements StsCache {
  private readonly db: Database.Database;

  constructor(file: string) {
    this.db = openSmallStore(file, schema);
  }

  get(domain: string): { policy: StsPolicy; expires: number } | undefined {
    const row = this.db.prepare('SELECT policy, expires FROM sts_policies WHERE domain = ?').get(domain) as { policy: string; expires: number } | undefined;
    if (!row) return undefined;
    try {
      const p = JSON.parse(row.policy) as StsPolicy;
      if (typeof p.id !== 'string' || !['enforce', 'testing', 'none'].includes(p.mode) || !Array.isArray(p.mx)) return undefined;
      return { policy: p, expires: row.expires };
    } catch {
      return undefined;
    }
  }

  set(domain: string, entry: { policy: StsPolicy; expires: number }): void {
    this.db.prepare('INSERT OR REPLACE INTO sts_policies (domain, policy, expires) VALUES (?, ?, ?)').run(domain, JSON.stringify(entry.policy), entry.expires);
  }

  close(): void {
    this.db.close();
  }
}
