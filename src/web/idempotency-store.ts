/**
 * @module idempotency-store
 * Where HTTP submission remembers its Idempotency-Key requests and answers: in memory (tests,
 * a server without a data directory) or in `<data_dir>/idempotency.sqlite` (on PostgreSQL
 * storage: pg-idempotency-store.ts, shared by every node), so that a client
 * retrying after the server restarted gets the first answer instead of sending twice.
 * A key is claimed before the message is submitted (a second request with it while the first
 * runs gets 409) and its answer is written when the first finishes; keys expire after 24 h.
 * Standards: draft-ietf-httpapi-idempotency-key-header (a replay gets the first answer; the key
 *   with another request is refused; a concurrent one gets 409).
 * Security: keys are namespaced by the caller (token id or account), so one caller cannot
 *   replay another's answers; the request is compared by a SHA-256 digest, never stored.
 * Limitations: a request still running when the server stopped is forgotten at the next start
 *   (its claim belonged to the old process): if the message was committed in the instant before
 *   its answer was written, a retry sends it again.
 */
import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import { openSmallStore, runStore } from '../directory/index.js';

export const IDEMPOTENCY_TTL_MS = 24 * 3_600_000;

export interface IdempotentAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/** What a claim found: the key is now ours ('new'), or it is someone's already. */
export type IdempotencyClaim =
  | { readonly kind: 'new' }
  | { readonly kind: 'other-request' }
  | { readonly kind: 'running' }
  | { readonly kind: 'done'; readonly answer: IdempotentAnswer };

export interface IdempotencyStore {
  /** claims `key` for a request with `digest` at `now` (ms) */
  claim(key: string, digest: string, now: number): Promise<IdempotencyClaim>;
  /** the answer of a claimed key, kept until it expires */
  finish(key: string, answer: IdempotentAnswer): Promise<void>;
  /** gives a claimed key up (a temporary failure may be tried again with it) */
  release(key: string): Promise<void>;
  close(): Promise<void>;
}

/** The memory store: forgets at a restart; at most `max` keys. */
export class MemoryIdempotencyStore implements IdempotencyStore {
  readonly #rows = new Map<string, { digest: string; at: number; answer?: IdempotentAnswer }>();
  constructor(private readonly max = 10_000) {}

  claim(key: string, digest: string, now: number): Promise<IdempotencyClaim> {
    for (const [k, v] of this.#rows) if (now - v.at > IDEMPOTENCY_TTL_MS || this.#rows.size > this.max) this.#rows.delete(k);
    const seen = this.#rows.get(key);
    if (!seen) {
      this.#rows.set(key, { digest, at: now });
      return Promise.resolve({ kind: 'new' });
    }
    return Promise.resolve(claimOf(seen.digest, digest, seen.answer));
  }
  finish(key: string, answer: IdempotentAnswer): Promise<void> {
    const r = this.#rows.get(key);
    if (r) r.answer = answer;
    return Promise.resolve();
  }
  release(key: string): Promise<void> {
    this.#rows.delete(key);
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** What a claim of a key found taken means (every store's rule). */
export function claimOf(stored: string, digest: string, answer: IdempotentAnswer | undefined): IdempotencyClaim {
  if (stored !== digest) return { kind: 'other-request' };
  return answer ? { kind: 'done', answer } : { kind: 'running' };
}

const schema = `CREATE TABLE IF NOT EXISTS idempotency (
  key TEXT PRIMARY KEY,
  digest TEXT NOT NULL,
  at INTEGER NOT NULL,
  owner TEXT NOT NULL,
  status INTEGER,
  body TEXT
);
CREATE INDEX IF NOT EXISTS idempotency_at ON idempotency (at);`;

interface Row {
  digest: string;
  owner: string;
  status: number | null;
  body: string | null;
}

/** The durable store in a SQLite file (`<data_dir>/idempotency.sqlite`). */
export class SqliteIdempotencyStore implements IdempotencyStore {
  /** this process's claims; a claim of another (a stopped server) is void */
  readonly #owner = randomBytes(8).toString('hex');
  private constructor(private readonly db: Database.Database) {}

  static open(file: string): SqliteIdempotencyStore {
    return new SqliteIdempotencyStore(openSmallStore(file, schema));
  }

  claim(key: string, digest: string, now: number): Promise<IdempotencyClaim> {
    return runStore(() =>
      this.db.transaction((): IdempotencyClaim => {
        this.db.prepare('DELETE FROM idempotency WHERE at < ?').run(now - IDEMPOTENCY_TTL_MS);
        const r = this.db.prepare('SELECT digest, owner, status, body FROM idempotency WHERE key = ?').get(key) as Row | undefined;
        const abandoned = r !== undefined && r.status === null && r.owner !== this.#owner;
        if (r === undefined || abandoned) {
          this.db.prepare('INSERT OR REPLACE INTO idempotency (key, digest, at, owner) VALUES (?, ?, ?, ?)').run(key, digest, now, this.#owner);
          return { kind: 'new' };
        }
        const answer = r.status === null ? undefined : { status: r.status, body: JSON.parse(r.body ?? '{}') as Record<string, unknown> };
        return claimOf(r.digest, digest, answer);
      }).immediate(),
    );
  }

  finish(key: string, answer: IdempotentAnswer): Promise<void> {
    return runStore(() => {
      this.db.prepare('UPDATE idempotency SET status = ?, body = ? WHERE key = ? AND owner = ?').run(answer.status, JSON.stringify(answer.body), key, this.#owner);
    });
  }

  release(key: string): Promise<void> {
    return runStore(() => {
      this.db.prepare('DELETE FROM idempotency WHERE key = ? AND owner = ? AND status IS NULL').run(key, this.#owner);
    });
  }

  close(): Promise<void> {
    if (this.db.open) this.db.close();
    return Promise.resolve();
  }
}
