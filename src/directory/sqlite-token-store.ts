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
 * Limitations: one file, one host (PostgreSQL storage: pg-token-store.ts).
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

/** A row of api_tokens (the PostgreSQL store's too: pg-token-store.ts). */
export interface TokenRow {
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
const tokenUseResolutionMs = 60_000;

function tokenHash(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/** The id of a well-formed token, else undefined (never looked up). */
export function tokenIdOf(token: string): string | undefined {
  return tokenPattern.exec(token)?.[1];
}

/**
 * Whether `secret` is the token of `row` (hashes compared in constant time), and if so whether
 * its use at `now` is to be recorded (last_used_at older than tokenUseResolutionMs): the one
 * rule both stores apply.
 */
export function tokenUse(row: TokenRow, secret: string, now: number): { recordUse: boolean } | undefined {
  if (!timingSafeEqual(row.hash, tokenHash(secret))) return undefined;
  return { recordUse: row.last_used_at === null || now - row.last_used_at >= tokenUseResolutionMs };
}

/** A new token's row and the secret the client gets (not kept). */
export function newTokenRow(owner: string, scopes: readonly TokenScope[], label: string | undefined, now: number): { row: TokenRow; secret: string } {
  const id = randomBytes(6).toString('hex');
  const secret = `correio_${id}_${randomBytes(32).toString('base64url')}`;
  return { row: { id, hash: tokenHash(secret), owner, scopes: [...new Set(scopes)].join(','), label: label ?? null, created_at: now, last_used_at: null }, secret };
}

export function toApiToken(r: TokenRow): ApiToken {
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
      const { row, secret } = newTokenRow(owner, scopes, label, this.now());
      this.db
        .prepare('INSERT INTO api_tokens (id, hash, owner, scopes, label, created_at, last_used_at) VALUES (@id, @hash, @owner, @scopes, @label, @created_at, @last_used_at)')
        .run(row);
      return { token: toApiToken(row), secret };
    });
  }

  verify(secret: string): Promise<ApiToken | undefined> {
    const id = tokenIdOf(secret);
    if (id === undefined) return Promise.resolve(undefined);
    return this.#run(() => {
      const row = this.db.prepare('SELECT * FROM api_tokens WHERE id = ?').get(id) as TokenRow | undefined;
      const now = this.now();
      const use = row && tokenUse(row, secret, now);
      if (!row || !use) return undefined;
      if (use.recordUse) {
        this.db.prepare('UPDATE api_tokens SET last_used_at = ? WHERE id = ?').run(now, row.id);
        row.last_used_at = now;
      }
      return toApiToken(row);
    });
  }

  list(owner?: string): Promise<ApiToken[]> {
    return this.#run(() => {
      const rows = (
        owner === undefined
          ? this.db.prepare('SELECT * FROM api_tokens ORDER BY created_at, id').all()
          : this.db.prepare('SELECT * FROM api_tokens WHERE owner = ? ORDER BY created_at, id').all(owner)
      ) as TokenRow[];
      return rows.map(toApiToken);
    });
  }

  /** Every row as stored, by id (`correio migrate` copies them). */
  rows(): Promise<TokenRow[]> {
    return this.#run(() => this.db.prepare('SELECT * FROM api_tokens ORDER BY id').all() as TokenRow[]);
  }

  /** Adds rows as they are (`correio migrate --to file:`); an id already there is left as it was. Returns how many were added. */
  importRows(rows: readonly TokenRow[]): Promise<number> {
    return this.#run(() => {
      const add = this.db.prepare('INSERT OR IGNORE INTO api_tokens (id, hash, owner, scopes, label, created_at, last_used_at) VALUES (@id, @hash, @owner, @scopes, @label, @created_at, @last_used_at)');
      return this.db.transaction(() => rows.reduce((n, r) => n + add.run(r).changes, 0))();
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
