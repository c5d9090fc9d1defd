/**
 * @module sqlite-token-store
 * API tokens (core/api-tokens.ts) on SQLite at `<data_dir>/tokens.sqlite`, beside the directory.
 * A token reads `correio_<id>_<secret>`: the id (12 hex digits) finds the row, the SHA-256 of
 * the whole token is compared in constant time with the stored one.
 * Standards: RFC 6750 §2.1 (the token is b64token characters only).
 * Security: 256 random bits per secret, so a fast hash is enough (no password to stretch); the
 *   secret itself is never stored or logged. Use is recorded at most once a minute per token
 *   (no write per request). Every SQLite failure is thrown as MailError 451 4.3.0, like the
 *   directory's, never answered as "no such token".
 * Limitations: one file, one host.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { ApiToken, TokenScope, TokenStore } from '../core/index.js';
import { isTokenScope } from '../core/index.js';
import { openSmallStore, runStore } from '../util/sqlite-small-store.js';

const schema = `CREATE TABLE IF NOT EXISTS api_tokens (
  id TEXT PRIMARY KEY,
  hash BLOB NOT NULL,
  owner TEXT NOT NULL,
  scopes TEXT NOT NULL,
  label TEXT,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER
);
CREATE INDEX IF NOT EXISTS api_tokens_owner ON api_tokens (owner);`;

interface Row {
  id: string;
  hash: Buffer;
  owner: string;
  scopes: string;
  label: string | null;
  created_at: number;
  last_used_at: number | null;
}

const tokenPattern = /^correio_([0-9a-f]{12})_[A-Za-z0-9_-]{43}$/;
/** last_used_at is rewritten only when older than this */
const useResolutionMs = 60_000;

function hashOf(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

function toToken(r: Row): ApiToken {
  return {
    id: r.id,
    owner: r.owner,
    scopes: r.scopes.split(',').filter(isTokenScope),
    ...(r.label !== null && { label: r.label }),
    createdAt: r.created_at,
    ...(r.last_used_at !== null && { lastUsedAt: r.last_used_at }),
  };
}

export class SqliteTokenStore implements TokenStore {
  private constructor(
    private readonly db: Database.Database,
    private readonly now: () => number,
  ) {}

  static open(file: string, opts: { now?: () => number } = {}): SqliteTokenStore {
    return new SqliteTokenStore(openSmallStore(file, schema), opts.now ?? Date.now);
  }

  #run<T>(fn: () => T): Promise<T> {
    return runStore(fn);
  }

  create(owner: string, scopes: readonly TokenScope[], label?: string): Promise<{ token: ApiToken; secret: string }> {
    return this.#run(() => {
      const id = randomBytes(6).toString('hex');
      const secret = `correio_${id}_${randomBytes(32).toString('base64url')}`;
      const row: Row = {
        id,
        hash: hashOf(secret),
        owner,
        scopes: [...new Set(scopes)].join(','),
        label: label ?? null,
        created_at: this.now(),
        last_used_at: null,
      };
      this.db
        .prepare('INSERT INTO api_tokens (id, hash, owner, scopes, label, created_at, last_used_at) VALUES (@id, @hash, @owner, @scopes, @label, @created_at, @last_used_at)')
        .run(row);
      return { token: toToken(row), secret };
    });
  }

  verify(secret: string): Promise<ApiToken | undefined> {
    const m = tokenPattern.exec(secret);
    if (!m) return Promise.resolve(undefined);
    return this.#run(() => {
      const row = this.db.prepare('SELECT * FROM api_tokens WHERE id = ?').get(m[1]) as Row | undefined;
      if (!row || !timingSafeEqual(row.hash, hashOf(secret))) return undefined;
      const now = this.now();
      if (row.last_used_at === null || now - row.last_used_at >= useResolutionMs) {
        this.db.prepare('UPDATE api_tokens SET last_used_at = ? WHERE id = ?').run(now, row.id);
        row.last_used_at = now;
      }
      return toToken(row);
    });
  }

  list(owner?: string): Promise<ApiToken[]> {
    return this.#run(() => {
      const rows = (
        owner === undefined
          ? this.db.prepare('SELECT * FROM api_tokens ORDER BY created_at, id').all()
          : this.db.prepare('SELECT * FROM api_tokens WHERE owner = ? ORDER BY created_at, id').all(owner)
      ) as Row[];
      return rows.map(toToken);
    });
  }

  revoke(id: string): Promise<boolean> {
    return this.#run(() => this.db.prepare('DELETE FROM api_tokens WHERE id = ?').run(id).changes > 0);
  }

  close(): Promise<void> {
    if (this.db.open) this.db.close();
    return Promise.resolve();
  }
}
