/**
 * @module pg-session-store
 * Browser sessions (core/web-sessions.ts) in PostgreSQL, beside the directory (its migration
 * 3, table `web_sessions`), for `[storage] url = "postgres://…"`: every node finds a session
 * any node made, so a browser logged in through one node stays logged in behind a load
 * balancer, and a logout on one ends it on all. Rows as in sqlite-session-store.ts: found by
 * the SHA-256 of the cookie's secret; expired rows removed when met and at each creation.
 * Standards: RFC 6265 §4.1.1 (the secret is cookie-octets only: base64url).
 * Security: 256 random bits per secret, stored only as a hash. Every PostgreSQL failure is
 *   thrown as MailError 451 4.3.0, never answered as "no such session".
 * Limitations: the schema is the directory's (migrated when the directory opens: serve opens
 *   the directory first).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { WebSession, WebSessionStore } from '../core/index.js';
import { openPgPool, type PgPool } from '../util/pg-database.js';
import { storeFailure } from '../util/sqlite-small-store.js';

const secretPattern = /^[A-Za-z0-9_-]{43}$/;

const hashOf = (secret: string): Buffer => createHash('sha256').update(secret).digest();

export class PgSessionStore implements WebSessionStore {
  private constructor(
    private readonly pool: PgPool,
    private readonly now: () => number,
  ) {}

  static open(url: string, opts: { now?: () => number } = {}): PgSessionStore {
    return new PgSessionStore(openPgPool(url, { max: 3, applicationName: 'correio web sessions' }), opts.now ?? Date.now);
  }

  async #run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw storeFailure(err);
    }
  }

  create(owner: string, lifetimeMs: number): Promise<{ session: WebSession; secret: string }> {
    return this.#run(async () => {
      const now = this.now();
      const secret = randomBytes(32).toString('base64url');
      const session: WebSession = { owner, createdAt: now, expiresAt: now + lifetimeMs };
      await this.pool.query('DELETE FROM web_sessions WHERE expires_at <= $1', [now]);
      await this.pool.query('INSERT INTO web_sessions (hash, owner, created_at, expires_at) VALUES ($1, $2, $3, $4)', [hashOf(secret), owner, now, session.expiresAt]);
      return { session, secret };
    });
  }

  find(secret: string): Promise<WebSession | undefined> {
    if (!secretPattern.test(secret)) return Promise.resolve(undefined);
    return this.#run(async () => {
      const hash = hashOf(secret);
      const { rows } = await this.pool.query<{ owner: string; created_at: string; expires_at: string }>('SELECT owner, created_at, expires_at FROM web_sessions WHERE hash = $1', [hash]);
      const row = rows[0];
      if (!row) return undefined;
      if (Number(row.expires_at) <= this.now()) {
        await this.pool.query('DELETE FROM web_sessions WHERE hash = $1', [hash]);
        return undefined;
      }
      return { owner: row.owner, createdAt: Number(row.created_at), expiresAt: Number(row.expires_at) };
    });
  }

  delete(secret: string): Promise<boolean> {
    if (!secretPattern.test(secret)) return Promise.resolve(false);
    return this.#run(async () => ((await this.pool.query('DELETE FROM web_sessions WHERE hash = $1', [hashOf(secret)])).rowCount ?? 0) > 0);
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }
}
