/**
 * @module pg-queue-store
 * The queue on PostgreSQL (`[storage] url = "postgres://…"`), shared by several nodes: a
 * message is committed (body, message row and one envelope row per recipient) by one INSERT
 * statement, so the 250 after DATA is sent only after PostgreSQL's COMMIT (synchronous_commit,
 * RFC 5321 §6.1). Bodies are content-addressed (SHA-256) and stored once as bytea; a body is
 * collected when its last message goes, and a message with its last envelope. A body over
 * 1 MiB is streamed in as chunk rows inside a transaction of its own connection that the same
 * commit ends, and read back a chunk at a time (pg-streamed-body.ts). Delivery
 * claims envelopes through `leases` (pg-envelope-leases.ts); while this node holds a lease,
 * its writes to that envelope are fenced by the lease's token (an UPDATE … WHERE lease_token),
 * so only the lease holder records a result. The commit is a named prepared statement (parsed
 * and planned once per connection) unless `preparedStatements` is false.
 * Standards: RFC 5321 §6.1 (accept only what is stored).
 * Security: bound parameters only; ids are checked (core/envelope.ts isQueueId) before any query; every
 *   PostgreSQL failure is a MailError 451 4.3.0 (storageError), never a lost message.
 * Limitations: a body of up to 1 MiB is held whole in memory while it is committed and read
 *   (bytea), and so is a bigger one while every streaming connection is taken (importMessage,
 *   `correio migrate`, streams as SMTP does); a transaction-pooling PgBouncer before 1.21, or without
 *   max_prepared_statements, cannot carry the named commit (set preparedStatements false); an operator change (hold, bounce) written by a node that holds no
 *   lease can be overwritten by the outcome of a delivery running elsewhere at that moment.
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { Readable } from 'node:stream';
import { isQueueId, MailError, messageIdOfEnvelope, replies, type Envelope, type EnvelopeId, type MessageDraft, type MessageId, type QueueStore } from '../core/index.js';
import { inTransaction, migrateSchema, openPgPool, uniqueId, type PgClient, type PgPool } from '../util/index.js';
import { commitImport } from './buffered-draft.js';
import { PgEnvelopeLeases } from './pg-envelope-leases.js';
import { queueSchema } from './pg-queue-schema.js';
import { PgMessageDraft, readChunks, type StreamedBodyStore } from './pg-streamed-body.js';
import { isImport } from './queue-ids.js';
import { noSuchMessage, storageError } from './storage-error.js';

export interface PgQueueStoreOptions {
  /** how long a delivery lease lasts without its heartbeat (default 60 s) */
  leaseMs?: number;
  /** this node's name in the lease columns (default hostname/pid) */
  owner?: string;
  /** connections at most (default 10) */
  maxConnections?: number;
  /** creates message ids (default util's uniqueId) */
  newId?: () => string;
  /**
   * the commit as a named prepared statement, parsed and planned once per connection (default
   * true); false where a transaction-pooling PgBouncer cannot carry named statements
   */
  preparedStatements?: boolean;
  /** a body over this many octets is streamed in as chunk rows of this size (default 1 MiB) */
  chunkSize?: number;
  /** connections for bodies being streamed in at once, beside maxConnections (default 4) */
  streamConnections?: number;
}

/** Envelopes read per query while walking the queue. */
const walkPage = 500;

/** One statement: the body (once per content), the message, its envelopes. */
const commitHead = `WITH b AS (
    INSERT INTO queue_bodies (hash, size, body) VALUES ($2, $3, $4) ON CONFLICT (hash) DO NOTHING
  ), m AS (
    INSERT INTO queue_messages (id, body_hash, size) VALUES ($1, $2, $3)
  )
  INSERT INTO queue_envelopes (id, message_id, seq, data, next_attempt_at)`;
const commitSql = `${commitHead}
  SELECT e.id, $1, e.seq, e.data, e.next FROM unnest($5::text[], $6::int[], $7::jsonb[], $8::bigint[]) AS e (id, seq, data, next)`;
/**
 * The same for one recipient, the common case: plain values instead of arrays, which both the
 * driver and PostgreSQL must escape and parse (about a tenth of each side's CPU per message,
 * measured with the commit prepared, PostgreSQL 15).
 */
const commitOneSql = `${commitHead} VALUES ($5, $1, $6, $7::jsonb, $8)`;

function leaseLost(id: EnvelopeId): MailError {
  return new MailError(replies.localError(), 'MAIL_ERR_LEASE_LOST', { cause: new Error(`envelope ${id}: lease taken over by another node`) });
}

export class PgQueueStore implements QueueStore {
  readonly leases: PgEnvelopeLeases;
  readonly #pool: PgPool;
  readonly #newId: () => string;
  /** the commit statement's name, when it is prepared */
  readonly #commitName: string | undefined;
  #closed = false;
  /** the streamed drafts' connections (opened when first needed), how many are taken, at most */
  readonly #streamPool: PgPool;
  #streaming = 0;
  readonly #streamMax: number;
  readonly #chunkSize: number;
  readonly #streamed: StreamedBodyStore;

  private constructor(pool: PgPool, url: string, opts: PgQueueStoreOptions) {
    this.#pool = pool;
    this.#streamMax = opts.streamConnections ?? 4;
    this.#chunkSize = opts.chunkSize ?? 1024 * 1024;
    this.#streamPool = openPgPool(url, { max: Math.max(1, this.#streamMax), applicationName: 'correio queue bodies' });
    this.#streamed = {
      connect: async () => {
        if (this.#closed || this.#streaming >= this.#streamMax) return undefined;
        this.#streaming++;
        try {
          return await this.#streamPool.connect();
        } catch (err) {
          this.#streaming--;
          throw storageError(err);
        }
      },
      release: (client, broken) => {
        this.#streaming--;
        client.release(broken);
      },
      saveMessage: async (client, id, key, size, envelopes) => {
        // the body row names its chunks; an equal streamed body stored already is used instead
        const b = await client.query('INSERT INTO queue_bodies (hash, size, body, chunk_key) VALUES ($1, $2, $3, $4) ON CONFLICT (hash) DO NOTHING', [key, size, Buffer.alloc(0), id]);
        if (b.rowCount === 0) await client.query('DELETE FROM queue_body_chunks WHERE chunk_key = $1', [id]);
        // the commit statement's body insert then finds the row there and does nothing
        await this.#insert(client, id, key, size, Buffer.alloc(0), envelopes);
      },
    };
    this.#newId = opts.newId ?? (() => uniqueId());
    this.#commitName = opts.preparedStatements === false ? undefined : 'correio_queue_commit';
    this.leases = new PgEnvelopeLeases(pool, { owner: opts.owner ?? `${hostname()}/${process.pid}`, leaseMs: opts.leaseMs ?? 60_000 });
  }

  /** Connects and migrates the queue schema (under the migration lock). MailError 451 when PostgreSQL fails. */
  static async open(url: string, opts: PgQueueStoreOptions = {}): Promise<PgQueueStore> {
    const pool = openPgPool(url, { max: opts.maxConnections ?? 10, applicationName: 'correio queue' });
    let store: PgQueueStore | undefined;
    try {
      await migrateSchema(pool, [queueSchema]);
      store = new PgQueueStore(pool, url, opts);
      await store.collectBodies();
      return store;
    } catch (err) {
      await (store ? store.close() : pool.end()).catch(() => undefined);
      throw storageError(err);
    }
  }

  async #run<T>(work: (pool: PgPool) => Promise<T>): Promise<T> {
    if (this.#closed) throw new MailError(replies.localError(), 'MAIL_ERR_STORE_CLOSED');
    try {
      return await work(this.#pool);
    } catch (err) {
      throw storageError(err);
    }
  }

  async createMessage(): Promise<MessageDraft> {
    if (this.#closed) throw new MailError(replies.localError(), 'MAIL_ERR_STORE_CLOSED');
    const id = this.#newId();
    if (!isQueueId(id)) throw new MailError(replies.localError(), 'MAIL_ERR_BAD_QUEUE_ID');
    return new PgMessageDraft(id, (body, envelopes) => this.#saveWhole(id, body, envelopes), this.#streamed, this.#chunkSize);
  }

  /** A message held whole: one statement. */
  async #saveWhole(id: MessageId, body: Buffer, envelopes: readonly Envelope[]): Promise<void> {
    const hash = createHash('sha256').update(body).digest();
    await this.#run((pool) => this.#insert(pool, id, hash, body.length, body, envelopes));
  }

  /** The one statement: body `hash` (unless stored already), the message, its envelopes. */
  async #insert(q: PgPool | PgClient, id: MessageId, hash: Buffer, size: number, body: Buffer, envelopes: readonly Envelope[]): Promise<void> {
    const seq = (e: Envelope): number => Number(e.id.slice(e.id.lastIndexOf('-') + 1));
    const one = envelopes.length === 1 ? envelopes[0] : undefined;
    const values = one
      ? [id, hash, size, body, one.id, seq(one), JSON.stringify(one), one.nextAttemptAt]
      : [id, hash, size, body, envelopes.map((e) => e.id), envelopes.map(seq), envelopes.map((e) => JSON.stringify(e)), envelopes.map((e) => e.nextAttemptAt)];
    // named: PostgreSQL parses and plans it once per connection (about a third of its CPU per accepted message)
    const name = this.#commitName && (one ? `${this.#commitName}_one` : this.#commitName);
    await q.query({ text: one ? commitOneSql : commitSql, values, ...(name && { name }) });
  }

  /**
   * Stores a message from another queue (`correio migrate`) under its own id and envelopes,
   * its body streamed from `body` as an SMTP body is (past `chunkSize` into chunk rows, never
   * held whole); false (`body` destroyed) when a message of that id is here already (a
   * migration run again skips it).
   */
  async importMessage(id: MessageId, body: Readable, envelopes: readonly Envelope[]): Promise<boolean> {
    if (!isImport(id, envelopes)) {
      body.destroy();
      throw new MailError(replies.localError(), 'MAIL_ERR_BAD_QUEUE_ID');
    }
    if ((await this.#run((pool) => pool.query('SELECT 1 FROM queue_messages WHERE id = $1', [id]))).rowCount !== 0) {
      body.destroy();
      return false;
    }
    await commitImport(new PgMessageDraft(id, (whole, envs) => this.#saveWhole(id, whole, envs), this.#streamed, this.#chunkSize), body, envelopes);
    return true;
  }

  /** How many of `ids` are stored here, and how many envelopes they have (a migration's check). */
  async countMessages(ids: readonly MessageId[]): Promise<{ messages: number; envelopes: number }> {
    const r = await this.#run((pool) =>
      pool.query<{ m: string; e: string }>(
        'SELECT (SELECT count(*) FROM queue_messages WHERE id = ANY($1)) AS m, (SELECT count(*) FROM queue_envelopes WHERE message_id = ANY($1)) AS e',
        [ids],
      ),
    );
    return { messages: Number(r.rows[0].m), envelopes: Number(r.rows[0].e) };
  }

  /** How many envelopes a node holds a lease on now, and until when the last runs (a node is delivering them). */
  async countLeases(): Promise<{ envelopes: number; until: number | undefined }> {
    const r = await this.#run((pool) =>
      pool.query<{ n: string; until: Date | null }>('SELECT count(*) AS n, max(lease_until) AS until FROM queue_envelopes WHERE lease_until > now()'),
    );
    return { envelopes: Number(r.rows[0].n), until: r.rows[0].until?.getTime() };
  }

  async openMessage(id: MessageId): Promise<Readable> {
    if (!isQueueId(id)) throw noSuchMessage(id);
    const r = await this.#run((pool) =>
      pool.query<{ body: Buffer; chunk_key: string | null; size: string }>(
        'SELECT b.body, b.chunk_key, b.size FROM queue_messages m JOIN queue_bodies b ON b.hash = m.body_hash WHERE m.id = $1',
        [id],
      ),
    );
    const row = r.rows[0];
    if (row === undefined) throw noSuchMessage(id);
    if (row.chunk_key !== null) return Readable.from(readChunks(this.#pool, row.chunk_key, Number(row.size)), { objectMode: false });
    return Readable.from(row.body.length > 0 ? [row.body] : [], { objectMode: false });
  }

  async messageSize(id: MessageId): Promise<number> {
    const r = await this.#run((pool) => pool.query<{ size: string }>('SELECT size FROM queue_messages WHERE id = $1', [id]));
    if (r.rows[0] === undefined) throw noSuchMessage(id);
    return Number(r.rows[0].size);
  }

  async findEnvelope(id: EnvelopeId): Promise<Envelope | undefined> {
    if (messageIdOfEnvelope(id) === undefined) return undefined;
    const r = await this.#run((pool) => pool.query<{ data: Envelope }>('SELECT data FROM queue_envelopes WHERE id = $1', [id]));
    return r.rows[0]?.data;
  }

  /** Every envelope of one message, in recipient order (empty when the message is not queued). */
  async findMessageEnvelopes(messageId: MessageId): Promise<Envelope[]> {
    const r = await this.#run((pool) =>
      pool.query<{ data: Envelope }>('SELECT data FROM queue_envelopes WHERE message_id = $1 ORDER BY seq', [messageId]),
    );
    return r.rows.map((row) => row.data);
  }

  async #exists(id: EnvelopeId): Promise<boolean> {
    return (await this.#pool.query('SELECT 1 FROM queue_envelopes WHERE id = $1', [id])).rowCount !== 0;
  }

  async putEnvelope(env: Envelope): Promise<void> {
    const msg = messageIdOfEnvelope(env.id);
    if (!msg || msg !== env.messageId) throw new MailError(replies.localError(), 'MAIL_ERR_BAD_QUEUE_ID');
    const token = this.leases.token(env.id);
    await this.#run(async (pool) => {
      const r = await pool.query(
        `UPDATE queue_envelopes SET data = $2, next_attempt_at = $3 WHERE id = $1 ${token === undefined ? '' : 'AND lease_token = $4'}`,
        token === undefined ? [env.id, JSON.stringify(env), env.nextAttemptAt] : [env.id, JSON.stringify(env), env.nextAttemptAt, token],
      );
      if (r.rowCount !== 0) return;
      if (token !== undefined && (await this.#exists(env.id))) throw leaseLost(env.id);
      throw new MailError(replies.localError(), 'MAIL_ERR_NO_SUCH_ENVELOPE');
    });
  }

  async deleteEnvelope(id: EnvelopeId): Promise<void> {
    const msg = messageIdOfEnvelope(id);
    if (msg === undefined) return;
    const token = this.leases.token(id);
    const body = await this.#run((pool) =>
      inTransaction(pool, async (c) => {
        // the message row is the lock: two deletes of its last envelopes see each other
        const m = await c.query<{ body_hash: Buffer }>('SELECT body_hash FROM queue_messages WHERE id = $1 FOR UPDATE', [msg]);
        const d = await c.query(
          `DELETE FROM queue_envelopes WHERE id = $1 ${token === undefined ? '' : 'AND lease_token = $2'}`,
          token === undefined ? [id] : [id, token],
        );
        if (d.rowCount === 0 && token !== undefined && (await c.query('SELECT 1 FROM queue_envelopes WHERE id = $1', [id])).rowCount !== 0) {
          throw leaseLost(id);
        }
        if (!m.rows[0] || (await c.query('SELECT 1 FROM queue_envelopes WHERE message_id = $1 LIMIT 1', [msg])).rowCount !== 0) return undefined;
        await c.query('DELETE FROM queue_messages WHERE id = $1', [msg]);
        return m.rows[0].body_hash;
      }),
    );
    this.leases.forget(id);
    if (body) await this.#collectBody(body);
  }

  /** Removes a body no message names any more; one named again meanwhile is kept (the foreign key refuses). */
  async #collectBody(hash: Buffer): Promise<void> {
    try {
      await this.#pool.query('DELETE FROM queue_bodies WHERE hash = $1 AND NOT EXISTS (SELECT 1 FROM queue_messages WHERE body_hash = $1)', [hash]);
    } catch {
      // 23503 (a new message refers to it) or the database away: the sweep at open collects it later
    }
  }

  /**
   * Removes every body no message names (left by a collection that failed), with its chunks,
   * and chunks of no body (none is left by a streamed draft, whose chunks are invisible until
   * the commit that adds its body row; chunks of drafts in flight are not seen, so not removed).
   */
  async collectBodies(): Promise<number> {
    const r = await this.#run((pool) =>
      pool.query('DELETE FROM queue_bodies b WHERE NOT EXISTS (SELECT 1 FROM queue_messages m WHERE m.body_hash = b.hash)'),
    );
    await this.#run((pool) =>
      pool.query('DELETE FROM queue_body_chunks c WHERE NOT EXISTS (SELECT 1 FROM queue_bodies b WHERE b.chunk_key = c.chunk_key)'),
    );
    return r.rowCount ?? 0;
  }

  /** Ids of the queued messages, in id order (oldest first). */
  async listMessageIds(): Promise<MessageId[]> {
    const r = await this.#run((pool) => pool.query<{ id: string }>('SELECT id FROM queue_messages ORDER BY id'));
    return r.rows.map((row) => row.id);
  }

  async *walkEnvelopes(afterMessage?: MessageId): AsyncIterable<Envelope> {
    // keyset pages, so a long queue is neither read whole nor held in one transaction; a message
    // after `afterMessage` starts past its largest possible seq (an int4)
    let after: [string, number] = afterMessage === undefined ? ['', 0] : [afterMessage, 2 ** 31 - 1];
    for (;;) {
      const r = await this.#run((pool) =>
        pool.query<{ message_id: string; seq: number; data: Envelope }>(
          `SELECT message_id, seq, data FROM queue_envelopes WHERE (message_id, seq) > ($1, $2)
           ORDER BY message_id, seq LIMIT ${walkPage}`,
          after,
        ),
      );
      for (const row of r.rows) yield row.data;
      if (r.rows.length < walkPage) return;
      const last = r.rows[r.rows.length - 1];
      after = [last.message_id, last.seq];
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.leases.close();
    await this.#pool.end();
    await this.#streamPool.end();
  }
}
