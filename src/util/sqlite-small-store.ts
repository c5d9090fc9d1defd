/**
 * @module sqlite-small-store
 * What the small SQLite files in data_dir (API tokens, browser sessions, the search index) share: open
 * a file (made with its folder when missing) in WAL mode with a schema, and run a statement
 * turning any SQLite failure into MailError 451 4.3.0.
 * Standards: none.
 * Security: a failure is never mistaken for "not found": it is thrown as a temporary error.
 * Limitations: none.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { MailError, replies } from '../core/index.js';

export function storeFailure(cause: unknown): MailError {
  return new MailError(replies.localError(), 'MAIL_ERR_DIRECTORY', { cause });
}

/** Opens (or creates) a SQLite file with `schema`; ":memory:" for tests. */
export function openSmallStore(file: string, schema: string): Database.Database {
  let db: Database.Database | undefined;
  try {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    db = new Database(file);
    db.pragma('busy_timeout = 5000');
    db.pragma('journal_mode = WAL');
    db.exec(schema);
    return db;
  } catch (err) {
    db?.close();
    throw storeFailure(err);
  }
}

/** Runs a synchronous SQLite step as a promise; failures become MailError 451. */
export function runStore<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(storeFailure(err));
  }
}
