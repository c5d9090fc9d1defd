/**
 * @module pg-envelope-leases
 * Leases on queue envelopes in PostgreSQL (core EnvelopeLeases), for several nodes delivering
 * from one queue. A claim takes the envelopes no live lease holds with
 * `FOR UPDATE SKIP LOCKED` (two nodes claiming at once never wait on, nor get, the same rows),
 * stamps them with this node, an expiry (the database's clock, so nodes' clocks do not matter)
 * and a fencing token from a sequence. While held, a heartbeat renews the expiry every third
 * of the lease; a node that dies stops renewing and another node claims the envelopes once
 * the lease has run out. The store asks token() to fence its writes (pg-queue-store.ts).
 * Standards: none (fencing tokens: a write names the lease it was made under).
 * Security: the owner name is for operators (hostname/pid); it is never trusted: only the
 *   token fences.
 * Limitations: a node that stalls longer than the lease (a stopped VM) may still deliver once
 *   more to a remote peer after another node took over; its result is then refused (fenced).
 */
import type { Envelope, EnvelopeId, EnvelopeLeases, QueueChanges } from '../core/index.js';

/** How long records of envelopes that left the queue are kept (ms). */
const goneKeptMs = 3_600_000;
import { inTransaction, type PgPool } from '../util/index.js';

export interface PgEnvelopeLeasesOptions {
  /** who holds the leases (shown in the table): hostname and pid */
  readonly owner: string;
  /** how long a lease lasts without renewal, ms */
  readonly leaseMs: number;
}

export class PgEnvelopeLeases implements EnvelopeLeases {
  readonly #pool: PgPool;
  readonly #owner: string;
  readonly #leaseMs: number;
  /** envelope id → the fencing token of the lease this node holds on it */
  readonly #held = new Map<EnvelopeId, string>();
  /** route slots this node holds: fencing token → the slot */
  readonly #slots = new Map<string, { route: string; slot: number }>();
  #heartbeat: NodeJS.Timeout | undefined;
  /** when this node last removed old records of envelopes that left (ms) */
  #pruned = 0;

  constructor(pool: PgPool, opts: PgEnvelopeLeasesOptions) {
    this.#pool = pool;
    this.#owner = opts.owner;
    this.#leaseMs = Math.max(1000, opts.leaseMs);
  }

  /** The token of this node's lease on `id`, if it holds one. */
  token(id: EnvelopeId): string | undefined {
    return this.#held.get(id);
  }

  /** The envelope left the queue: nothing to renew or release. */
  forget(id: EnvelopeId): void {
    this.#held.delete(id);
  }

  get held(): number {
    return this.#held.size;
  }

  async claim(ids: readonly EnvelopeId[]): Promise<Envelope[]> {
    if (ids.length === 0) return [];
    const r = await this.#pool.query<{ id: string; data: Envelope; lease_token: string }>(
      `UPDATE queue_envelopes SET lease_owner = $2, lease_until = now() + $3 * interval '1 millisecond',
         lease_token = nextval('queue_lease_tokens')
       WHERE id IN (SELECT id FROM queue_envelopes
                    WHERE id = ANY($1) AND (lease_until IS NULL OR lease_until < now())
                    FOR UPDATE SKIP LOCKED)
       RETURNING id, data, lease_token`,
      [ids, this.#owner, this.#leaseMs],
    );
    for (const row of r.rows) this.#held.set(row.id, row.lease_token);
    if (r.rows.length > 0) this.#arm();
    return r.rows.map((row) => row.data);
  }

  async release(ids: readonly EnvelopeId[]): Promise<void> {
    const pairs = this.#pairs(ids);
    for (const id of pairs.ids) this.#held.delete(id);
    if (pairs.ids.length === 0) return;
    await this.#pool.query(
      `UPDATE queue_envelopes e SET lease_owner = NULL, lease_until = NULL
       FROM unnest($1::text[], $2::bigint[]) AS l (id, token)
       WHERE e.id = l.id AND e.lease_token = l.token`,
      [pairs.ids, pairs.tokens],
    );
  }

  /**
   * The changes since `cursor` ("<xid8>:<ms>"): a cursor is the oldest transaction still
   * running when it was taken (pg_snapshot_xmin), so every change committed after it has an id
   * at or above it. Records of envelopes that left are kept an hour; a cursor older than half
   * of that (or none) asks for a full read.
   */
  async changesSince(cursor: string | undefined): Promise<QueueChanges> {
    const m = cursor === undefined ? undefined : /^(\d+):(\d+)$/.exec(cursor);
    return inTransaction(this.#pool, async (client) => {
      // one snapshot: the cursor and the reads agree
      await client.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
      const h = await client.query<{ xmin: string; now: string }>(
        'SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin, (extract(epoch FROM clock_timestamp()) * 1000)::bigint::text AS now',
      );
      const next = `${h.rows[0].xmin}:${h.rows[0].now}`;
      if (Number(h.rows[0].now) - this.#pruned > goneKeptMs / 6) {
        this.#pruned = Number(h.rows[0].now);
        this.pruneGone().catch(() => undefined);
      }
      if (!m || Number(h.rows[0].now) - Number(m[2]) > goneKeptMs / 2) return { cursor: next, full: true, changed: [], gone: [] };
      const changed = await client.query<{ data: Envelope }>(
        'SELECT data FROM queue_envelopes WHERE changed_xid >= $1::xid8 OR lease_until < now() ORDER BY message_id, seq',
        [m[1]],
      );
      const gone = await client.query<{ id: string }>('SELECT DISTINCT id FROM queue_gone WHERE gone_xid >= $1::xid8', [m[1]]);
      return { cursor: next, full: false, changed: changed.rows.map((r) => r.data), gone: gone.rows.map((r) => r.id) };
    });
  }

  /** Forgets records of envelopes that left more than an hour ago (their readers read the whole queue since). */
  async pruneGone(): Promise<void> {
    await this.#pool.query(`DELETE FROM queue_gone WHERE gone_at < now() - $1 * interval '1 millisecond'`, [goneKeptMs]);
  }

  /**
   * One free slot of `route` (0 … limit-1: free when no row is there or its holder's time ran
   * out). Two nodes taking the same free slot at once: the primary key lets one win, the other
   * tries the next free one.
   */
  async routeSlot(route: string, limit: number): Promise<(() => Promise<void>) | undefined> {
    for (let tries = 0; tries < 3; tries++) {
      const r = await this.#pool.query<{ slot: number; token: string }>(
        `WITH free AS (
           SELECT s FROM generate_series(0, $3::int - 1) AS s
           WHERE NOT EXISTS (SELECT 1 FROM queue_route_slots q WHERE q.route = $1 AND q.slot = s AND q.until >= now())
           ORDER BY random() LIMIT 1)
         INSERT INTO queue_route_slots (route, slot, owner, token, until)
         SELECT $1, s, $2, nextval('queue_lease_tokens'), now() + $4 * interval '1 millisecond' FROM free
         ON CONFLICT (route, slot) DO UPDATE SET owner = excluded.owner, token = excluded.token, until = excluded.until
           WHERE queue_route_slots.until < now()
         RETURNING slot, token::text`,
        [route, this.#owner, limit, this.#leaseMs],
      );
      const row = r.rows[0];
      if (row) {
        this.#slots.set(row.token, { route, slot: row.slot });
        this.#arm();
        return async () => {
          this.#slots.delete(row.token);
          await this.#pool.query('DELETE FROM queue_route_slots WHERE route = $1 AND slot = $2 AND token = $3', [route, row.slot, row.token]);
        };
      }
      const busy = await this.#pool.query<{ n: string }>('SELECT count(*) AS n FROM queue_route_slots WHERE route = $1 AND slot < $2 AND until >= now()', [route, limit]);
      if (Number(busy.rows[0].n) >= limit) return undefined;
    }
    return undefined;
  }

  /** Renews every lease and route slot held now; a lease taken over meanwhile is not renewed (its writes stay fenced). */
  async renew(): Promise<void> {
    if (this.#slots.size > 0) {
      await this.#pool.query(`UPDATE queue_route_slots SET until = now() + $2 * interval '1 millisecond' WHERE token = ANY($1::bigint[])`, [
        [...this.#slots.keys()],
        this.#leaseMs,
      ]);
    }
    const pairs = this.#pairs([...this.#held.keys()]);
    if (pairs.ids.length === 0) return;
    await this.#pool.query(
      `UPDATE queue_envelopes e SET lease_until = now() + $3 * interval '1 millisecond'
       FROM unnest($1::text[], $2::bigint[]) AS l (id, token)
       WHERE e.id = l.id AND e.lease_token = l.token`,
      [pairs.ids, pairs.tokens, this.#leaseMs],
    );
  }

  close(): void {
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
  }

  #pairs(ids: readonly EnvelopeId[]): { ids: string[]; tokens: string[] } {
    const out = { ids: [] as string[], tokens: [] as string[] };
    for (const id of ids) {
      const t = this.#held.get(id);
      if (t === undefined) continue;
      out.ids.push(id);
      out.tokens.push(t);
    }
    return out;
  }

  #arm(): void {
    if (this.#heartbeat) return;
    this.#heartbeat = setInterval(() => {
      if (this.#held.size === 0 && this.#slots.size === 0) {
        this.close();
        return;
      }
      // a failed renewal (database briefly away) is retried at the next beat; the lease has
      // two more beats before it runs out
      this.renew().catch(() => undefined);
    }, Math.floor(this.#leaseMs / 3));
    this.#heartbeat.unref();
  }
}
