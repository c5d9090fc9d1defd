/**
 * @module pg-token-store
 * API tokens (core/api-tokens.ts) in PostgreSQL, beside the directory (its migration 6, table
 * `api_tokens`), for `[storage] url = "postgres://…"`: a token made through one node (`correio
 * token create`, the admin API) works on every node, and a revocation on one ends it on all.
 * Rows and token form as in sqlite-token-store.ts (`correio_<id>_<secret>`, found by the id,
 * the SHA-256 of the whole token compared in constant time).
 * Standards: RFC 6750 §2.1 (the token is b64token characters only).
 * Security: 256 random bits per secret, stored only as a hash, never logged. Use is recorded
 *   at most once a minute per token. Every PostgreSQL failure is thrown as MailError 451
 *   4.3.0, never answered as "no such token".
 * Limitations: the directory schema is brought up to date at the first call (a `correio token`
 *   command may run before any node started).
 */
import type { ApiToken, TokenScope, TokenStore } from '../core/index.js';
import { openPgPool, type PgPool } from '../util/pg-database.js';
import { pgStoreRunner, type PgStoreRun } from './pg-small-store.js';
import { newTokenRow, toApiToken, tokenIdOf, tokenUse, type TokenRow } from './sqlite-token-store.js';

/** bigint columns arrive as strings */
type PgRow = Omit<TokenRow, 'created_at' | 'last_used_at'> & { created_at: string; last_used_at: string | null };

const rowOf = (r: PgRow): TokenRow => ({ ...r, created_at: Number(r.created_at), last_used_at: r.last_used_at === null ? null : Number(r.last_used_at) });

export class PgTokenStore implements TokenStore {
  readonly #run: PgStoreRun;

  private constructor(
    private readonly pool: PgPool,
    private readonly now: () => number,
  ) {
    this.#run = pgStoreRunner(pool);
  }

  static open(url: string, opts: { now?: () => number } = {}): PgTokenStore {
    return new PgTokenStore(openPgPool(url, { max: 3, applicationName: 'correio api tokens' }), opts.now ?? Date.now);
  }

  create(owner: string, scopes: readonly TokenScope[], label?: string): Promise<{ token: ApiToken; secret: string }> {
    return this.#run(async () => {
      const { row, secret } = newTokenRow(owner, scopes, label, this.now());
      await this.pool.query('INSERT INTO api_tokens (id, hash, owner, scopes, label, created_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, NULL)', [
        row.id,
        row.hash,
        row.owner,
        row.scopes,
        row.label,
        row.created_at,
      ]);
      return { token: toApiToken(row), secret };
    });
  }

  verify(secret: string): Promise<ApiToken | undefined> {
    const id = tokenIdOf(secret);
    if (id === undefined) return Promise.resolve(undefined);
    return this.#run(async () => {
      const found = (await this.pool.query<PgRow>('SELECT * FROM api_tokens WHERE id = $1', [id])).rows[0];
      if (!found) return undefined;
      const row = rowOf(found);
      const now = this.now();
      const use = tokenUse(row, secret, now);
      if (!use) return undefined;
      if (use.recordUse) {
        await this.pool.query('UPDATE api_tokens SET last_used_at = $1 WHERE id = $2', [now, row.id]);
        row.last_used_at = now;
      }
      return toApiToken(row);
    });
  }

  list(owner?: string): Promise<ApiToken[]> {
    return this.#run(async () => {
      const { rows } =
        owner === undefined
          ? await this.pool.query<PgRow>('SELECT * FROM api_tokens ORDER BY created_at, id')
          : await this.pool.query<PgRow>('SELECT * FROM api_tokens WHERE owner = $1 ORDER BY created_at, id', [owner]);
      return rows.map((r) => toApiToken(rowOf(r)));
    });
  }

  /** Every row as stored, by id. */
  rows(): Promise<TokenRow[]> {
    return this.#run(async () => (await this.pool.query<PgRow>('SELECT * FROM api_tokens ORDER BY id')).rows.map(rowOf));
  }

  /** Adds rows as they are (`correio migrate`); an id already there is left as it was. Returns how many were added. */
  importRows(rows: readonly TokenRow[]): Promise<number> {
    return this.#run(async () => {
      let added = 0;
      for (const r of rows) {
        const q = await this.pool.query(
          'INSERT INTO api_tokens (id, hash, owner, scopes, label, created_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING',
          [r.id, r.hash, r.owner, r.scopes, r.label, r.created_at, r.last_used_at],
        );
        added += q.rowCount ?? 0;
      }
      return added;
    });
  }

  revoke(id: string): Promise<boolean> {
    return this.#run(async () => ((await this.pool.query('DELETE FROM api_tokens WHERE id = $1', [id])).rowCount ?? 0) > 0);
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }
}
