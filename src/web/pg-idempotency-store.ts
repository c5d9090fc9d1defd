/**
 * @module pg-idempotency-store
 * HTTP submission's Idempotency-Key requests and answers (idempotency-store.ts) in PostgreSQL,
 * beside the directory (its migration 7, table `http_idempotency`), for `[storage] url =
 * "postgres://…"`: a client that retries through another node behind a load balancer gets
 * the first node's answer (or 409 while it runs), never a second message.
 * A claim is one statement (INSERT … ON CONFLICT DO UPDATE … WHERE the row is expired or
 * abandoned), so two nodes claiming one key at once cannot both get it. A claim is abandoned
 * when unanswered for IDEMPOTENCY_CLAIM_MS, or at once when its node is dead: each store keeps
 * a heartbeat row (migration 8, `http_idempotency_nodes`: alive until PostgreSQL's now() +
 * aliveMs, renewed every aliveMs / 3 from its first claim on, deleted at close), so a claim of a
 * node killed mid-request is taken over within aliveMs (default 30 s), not 5 min.
 * Standards: draft-ietf-httpapi-idempotency-key-header.
 * Security: as idempotency-store.ts (keys namespaced by the caller, requests kept as a
 *   digest). Every PostgreSQL failure is thrown as MailError 451 4.3.0.
 * Limitations: a node whose heartbeat cannot reach PostgreSQL for aliveMs (then it cannot
 *   commit a message either) or that runs one request longer than IDEMPOTENCY_CLAIM_MS loses its
 *   claim to a retry on another node; if the message was committed in the instant before its
 *   answer was written, that retry sends it again. Liveness is judged by PostgreSQL's clock, the
 *   claim's age by the nodes'. The schema is brought up to date at first use.
 */
import { randomBytes } from 'node:crypto';
import { pgStoreRunner, type PgStoreRun } from '../directory/index.js';
import { openPgPool, type PgPool } from '../util/index.js';
import { claimOf, IDEMPOTENCY_TTL_MS, type IdempotencyClaim, type IdempotencyStore, type IdempotentAnswer } from './idempotency-store.js';

/** The stored key: base64 of the UTF-8, since a caller's key holds a NUL (submission-api.ts), which PostgreSQL's text refuses. */
const stored = (key: string): string => Buffer.from(key, 'utf8').toString('base64');

/** an unanswered claim older than this is taken to be a stopped node's, even with the node alive */
export const IDEMPOTENCY_CLAIM_MS = 5 * 60_000;

/** how long a node's heartbeat keeps its claims (default 30 s; renewed every third of it) */
export const IDEMPOTENCY_ALIVE_MS = 30_000;

export interface PgIdempotencyOptions {
  /** ms a heartbeat keeps this node's claims (tests shorten it) */
  readonly aliveMs?: number;
}

export class PgIdempotencyStore implements IdempotencyStore {
  /** this process's claims */
  readonly #owner = randomBytes(8).toString('hex');
  readonly #run: PgStoreRun;
  readonly #aliveMs: number;
  /** renews the heartbeat, from the first claim until close */
  #timer: NodeJS.Timeout | undefined;

  private constructor(private readonly pool: PgPool, opts: PgIdempotencyOptions) {
    this.#run = pgStoreRunner(pool);
    this.#aliveMs = Math.max(300, Math.round(opts.aliveMs ?? IDEMPOTENCY_ALIVE_MS));
  }

  static open(url: string, opts: PgIdempotencyOptions = {}): PgIdempotencyStore {
    return new PgIdempotencyStore(openPgPool(url, { max: 3, applicationName: 'correio idempotency' }), opts);
  }

  /** This node alive for aliveMs more (PostgreSQL's clock). */
  async #beat(): Promise<void> {
    await this.pool.query(
      `INSERT INTO http_idempotency_nodes (owner, alive_until) VALUES ($1, now() + $2 * interval '1 millisecond')
       ON CONFLICT (owner) DO UPDATE SET alive_until = excluded.alive_until`,
      [this.#owner, this.#aliveMs],
    );
  }

  /** The heartbeat is written before this node's first claim (a claim without one is a dead node's), then renewed. */
  async #alive(): Promise<void> {
    if (this.#timer) return;
    // the heartbeats of nodes gone for a day (every start is a new owner)
    await this.pool.query("DELETE FROM http_idempotency_nodes WHERE alive_until < now() - interval '1 day'");
    await this.#beat();
    this.#timer ??= setInterval(() => {
      // a missed beat is retried at the next one; aliveMs allows two to fail
      this.#run(() => this.#beat()).catch(() => undefined);
    }, Math.round(this.#aliveMs / 3));
    this.#timer.unref();
  }

  claim(key: string, digest: string, now: number): Promise<IdempotencyClaim> {
    return this.#run(async () => {
      await this.#alive();
      await this.pool.query('DELETE FROM http_idempotency WHERE at < $1', [now - IDEMPOTENCY_TTL_MS]);
      // a key that is gone between the two statements (released) is claimed again
      for (;;) {
        const taken = await this.pool.query(
          `INSERT INTO http_idempotency AS i (key, digest, at, owner) VALUES ($1, $2, $3, $4)
           ON CONFLICT (key) DO UPDATE SET digest = excluded.digest, at = excluded.at, owner = excluded.owner, status = NULL, body = NULL
             WHERE i.at < $5 OR (i.status IS NULL AND (i.at < $6
               OR NOT EXISTS (SELECT 1 FROM http_idempotency_nodes n WHERE n.owner = i.owner AND n.alive_until > now())))`,
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
    if (this.#timer) {
      clearInterval(this.#timer);
      // stopped: this node's claims left unanswered are free at once
      await this.pool.query('DELETE FROM http_idempotency_nodes WHERE owner = $1', [this.#owner]).catch(() => undefined);
    }
    await this.pool.end().catch(() => undefined);
  }
}
