/**
 * @module sqlite-session-store
 * Browser sessions (core/web-sessions.ts) on SQLite at `<data_dir>/sessions.sqlite`, beside the
 * API tokens. A row is found by the SHA-256 of the cookie's secret; expired rows are removed
 * when met and whenever a session is created.
 * Standards: RFC 6265 §4.1.1 (the secret is cookie-octets only: base64url).
 * Security: 256 random bits per secret, stored only as a hash, so a copy of the file logs no
 *   one in. Every SQLite failure is thrown as MailError 451 4.3.0, never answered as "no such
 *   session".
 * Limitations: one file, one host (sessions do not follow a user to another node).
 */
import { createHash, randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { WebSession, WebSessionStore } from '../core/index.js';
import { openSmallStore, runStore } from '../util/sqlite-small-store.js';

const schema = `CREATE TABLE IF NOT EXISTS web_sessions (
  hash BLOB PRIMARY KEY,
  owner TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS web_sessions_expiry ON web_sessions (expires_at);`;

interface Row {
  owner: string;
  created_at: number;
  expires_at: number;
}

const secretPattern = /^[A-Za-z0-9_-]{43}$/;

function hashOf(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}

export class SqliteSessionStore implements WebSessionStore {
  private constructor(
    private readonly db: Database.Database,
    private readonly now: () => number,
  ) {}

  static open(file: string, opts: { now?: () => number } = {}): SqliteSessionStore {
    return new SqliteSessionStore(openSmallStore(file, schema), opts.now ?? Date.now);
  }

  #run<T>(fn: () => T): Promise<T> {
    return runStore(fn);
  }

  create(owner: string, lifetimeMs: number): Promise<{ session: WebSession; secret: string }> {
    return this.#run(() => {
      const now = this.now();
      const secret = randomBytes(32).toString('base64url');
      const session: WebSession = { owner, createdAt: now, expiresAt: now + lifetimeMs };
      this.db.prepare('DELETE FROM web_sessions WHERE expires_at <= ?').run(now);
      this.db.prepare('INSERT INTO web_sessions (hash, owner, created_at, expires_at) VALUES (?, ?, ?, ?)').run(hashOf(secret), owner, now, session.expiresAt);
      return { session, secret };
    });
  }

  find(secret: string): Promise<WebSession | undefined> {
    if (!secretPattern.test(secret)) return Promise.resolve(undefined);
    return this.#run(() => {
      const hash = hashOf(secret);
      const row = this.db.prepare('SELECT owner, created_at, expires_at FROM web_sessions WHERE hash = ?').get(hash) as Row | undefined;
      if (!row) return undefined;
      if (row.expires_at <= this.now()) {
        this.db.prepare('DELETE FROM web_sessions WHERE hash = ?').run(hash);
        return undefined;
      }
      return { owner: row.owner, createdAt: row.created_at, expiresAt: row.expires_at };
    });
  }

  delete(secret: string): Promise<boolean> {
    if (!secretPattern.test(secret)) return Promise.resolve(false);
    return this.#run(() => this.db.prepare('DELETE FROM web_sessions WHERE hash = ?').run(hashOf(secret)).changes > 0);
  }

  close(): Promise<void> {
    if (this.db.open) this.db.close();
    return Promise.resolve();
  }
}
