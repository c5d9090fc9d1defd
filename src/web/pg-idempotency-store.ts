/**
 * @module pg-idempotency-store
 * HTTP submission's Idempotency-Key requests and answers (idempotency-store.ts) in PostgreSQL,
 * beside the directory (its migration 7, table `http_idempotency`), for `[storage] url =
 * "postgres://…"`: a client that retries through another node behind a load balancer gets
 * the first node's answer (or 409 while it runs), never a second message.
 * A claim is one statement (INSERT … ON CONFLICT DO UPDATE … WHERE the row is expired or
 * abandoned), so two nodes claiming one key at once cannot both get it.
 * Standards: draft-ietf-httpapi-idempotency-key-header.
 * Security: as idempotency-store.ts (keys namespaced by the caller, requests kept as a
 *   digest). Every PostgreSQL failure is thrown as MailError 451 4.3.0.
 * Limitations: a node cannot tell a claim of a stopped node from one still running on a live
 *   node, so a claim left unanswered is taken over only after IDEMPOTENCY_CLAIM_MS (until
 *   then a retry gets 409); if the message was committed in the instant before its answer
 *   was written, that retry sends it again. The schema is brought up to date at first use.
 */
import { randomBytes } from 'node:crypto';
import { pgStoreRunner, type PgStoreRun } from '../directory/index.js';
import { openPgPool, type PgPool } from '../util/index.js';
import { claimOf, IDEMPOTENCY_TTL_MS, type IdempotencyClaim, type IdempotencyStore, type IdempotentAnswer } from './idempotency-store.js';

/** The stored key: base64 of the UTF-8, since a caller's key holds a NUL (submission-api.ts), which PostgreSQL's text refuses. */
const stored = (key: string): string => Buffer.from(key, 'utf8').toString('base64');

/** an unanswered claim older than this is taken to be a stopped node's */
export const IDEMPOTENCY_CLAIM_MS = 5 * 60_000;

export class PgIdempotencyStore implements IdempotencyStore {
  /** this process's claims */
  readonly #owner = randomBytes(8).toString('hex');
  readonly #run: PgStoreRun;

  private constructor(private readonly pool: PgPool) {
    this.#run = pgStoreRunner(pool);
  }

  static open(url: string): PgIdempotencyStore {
    return new PgIdempotencyStore(openPgPool(url, { max: 3, applicationName: 'correio idempotency' }));
  }

  claim(key: string, digest: string, now: number): Promise<IdempotencyClaim> {
    return this.#run(async () => {
      await this.pool.query('DELETE FROM http_idempotency WHERE at < $1', [now - IDEMPOTENCY_TTL_MS]);
      // a key that is gone between the two statements (released) is claimed again
      for (;;) {
        const taken = await this.pool.query(
          `INSERT INTO http_idempotency AS i (key, digest, at, owner) VALUES ($1, $2, $3, $4)
           ON CONFLICT (key) DO UPDATE SET digest = excluded.digest, at = excluded.at, owner = excluded.owner, status = NULL, body = NULL
             WHERE i.at < $5 OR (i.status IS NULL AND i.at < $6)`,
          [stored(key), digest, now, this.#owner, now - IDEMPOTENCY_TTL_MS, now - IDEMPOTENCY_CLAIM_MS],
        );
        if (taken.rowCount === 1) return { kind: 'new' };
        const r = (await this.pool.query<{ digest: string; status: number | null; body: string | null }>('SELECT digest, status, body FROM http_idempotency WHERE key = $1', [stored(key)])).rows[0];
        if (r) return claimOf(r.digest, digest, r.status === null ? undefined : { status: r.status, body: JSON.parse(r.body ?? '{}') as Record<string, unknown> });
      }
    });
  }

  finish(key: string, answer: IdempotentAnswer): Promise<void> {
    return this.#run(async () => {
      await this.pool.query('UPDATE http_idempotency SET status = $1, body = $2 WHERE key = $3 AND owner = $4', [answer.status, JSON.stringify(answer.body), stored(key), this.#owner]);
    });
  }

  release(key: string): Promise<void> {
    return this.#run(async () => {
      await this.pool.query('DELETE FROM http_idempotency WHERE key = $1 AND owner = $2 AND status IS NULL', [stored(key), this.#owner]);
    });
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }
}
