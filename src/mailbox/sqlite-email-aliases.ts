/**
 * @module sqlite-email-aliases
 * JMAP Email ids kept across moves (core EmailAliases) on SQLite at `<data_dir>/email-ids.sqlite`:
 * one row per place a moved message was given (account, place id, Email id).
 * Standards: RFC 8621 §4.1.1 (an Email's id is immutable).
 * Security: every statement names the account. SQLite failures are thrown as MailError 451 4.3.0.
 * Limitations: rows are never removed (one small row per JMAP move; a place id names one UID
 *   of one UIDVALIDITY, never given again).
 */
import type Database from 'better-sqlite3';
import type { EmailAliases } from '../core/index.js';
import { openSmallStore, runStore } from '../util/sqlite-small-store.js';

const schema = 'CREATE TABLE IF NOT EXISTS aliases (account TEXT NOT NULL, place TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (account, place)) WITHOUT ROWID;';

export class SqliteEmailAliases implements EmailAliases {
  readonly #db: Database.Database;

  constructor(file: string) {
    this.#db = openSmallStore(file, schema);
  }

  aliases(account: string): Promise<Map<string, string>> {
    return runStore(() => new Map(this.#db.prepare('SELECT place, id FROM aliases WHERE account = ?').raw().all(account) as [string, string][]));
  }

  add(account: string, pairs: readonly (readonly [string, string])[]): Promise<void> {
    return runStore(() => {
      const ins = this.#db.prepare('INSERT INTO aliases (account, place, id) VALUES (?, ?, ?) ON CONFLICT (account, place) DO UPDATE SET id = excluded.id');
      this.#db.transaction(() => {
        for (const [place, id] of pairs) ins.run(account, place, id);
      })();
    });
  }

  close(): Promise<void> {
    if (this.#db.open) this.#db.close();
    return Promise.resolve();
  }
}
