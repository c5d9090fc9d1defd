/**
 * @module pg-streamed-body
 * The PostgreSQL queue's MessageDraft, and the reading of a body stored in chunks. A body of up
 * to `chunkSize` octets (1 MiB) is gathered in memory and committed by the store's one
 * statement (body, message and envelopes), as before. A bigger one is streamed: once more than
 * `chunkSize` octets have arrived, the draft takes a connection of its own, opens a transaction
 * and writes the body into queue_body_chunks, a row per `chunkSize` octets, while it arrives
 * (each write waits for its INSERT: the sender is slowed to PostgreSQL's pace, never held in
 * memory). commit() adds the prepended header (chunk 0), the body row (no octets, its
 * `chunk_key`), the message and its envelopes in that same transaction and commits it, so the
 * 250 follows PostgreSQL's COMMIT as for a small message; a draft aborted, or whose process or
 * connection dies, leaves nothing behind (PostgreSQL rolls back the transaction of a closed
 * connection). A streamed body is keyed by 0x01 followed by the SHA-256 of the SHA-256 digests
 * of its header and its body: 33 octets, so no body stored whole (keyed by the 32-octet SHA-256
 * of its content) can take its place; equal streamed bodies are still stored once.
 * Standards: RFC 5321 §6.1 (commit resolves only after COMMIT).
 * Security: bound parameters only; the chunk key is the message id the store made.
 * Limitations: a streamed draft holds one connection (of `streamConnections`) and an open
 *   transaction for as long as its sender takes, which holds back the queue's incremental rescans
 *   (PgEnvelopeLeases.changesSince) for that long; when every such connection is taken, a
 *   draft holds its body in memory as a small one does (bounded by smtp.max_message_size).
 */
import { createHash, type Hash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { MailError, replies, type Envelope, type EnvelopeInit, type MessageDraft, type MessageId } from '../core/index.js';
import type { PgClient, PgPool } from '../util/index.js';
import { checkCommit, envelopesOf, type SaveMessage } from './buffered-draft.js';
import { storageError } from './storage-error.js';

/** What a streamed draft needs of its store. */
export interface StreamedBodyStore {
  /** a connection for one streamed body's transaction; undefined when none may be taken now */
  connect(): Promise<PgClient | undefined>;
  /** gives back a connection from connect() (broken: it is closed) */
  release(client: PgClient, broken: boolean): void;
  /** inside `client`'s transaction: the message of body `key` (stored already) and its envelopes */
  saveMessage(client: PgClient, id: MessageId, key: Buffer, size: number, envelopes: readonly Envelope[]): Promise<void>;
}

const insertChunk = 'INSERT INTO queue_body_chunks (chunk_key, seq, data) VALUES ($1, $2, $3)';

export class PgMessageDraft implements MessageDraft {
  readonly id: MessageId;
  readonly #saveWhole: SaveMessage;
  readonly #store: StreamedBodyStore;
  readonly #chunkSize: number;
  /** octets not yet written (all of them while the body is held in memory) */
  #pending: Buffer[] = [];
  #pendingSize = 0;
  #header: Buffer | undefined;
  #body: Writable | undefined;
  #state: 'open' | 'committing' | 'committed' | 'aborted' = 'open';
  /** while streaming: the connection, the body's digest so far, its size and the last chunk's number */
  #client: PgClient | undefined;
  #hash: Hash | undefined;
  #streamed = 0;
  #seq = 0;
  /** no connection could be had: held in memory to the end */
  #inMemory = false;
  /** the chunk writes in flight (abort waits for them before it rolls back) */
  #io: Promise<void> = Promise.resolve();

  constructor(id: MessageId, saveWhole: SaveMessage, store: StreamedBodyStore, chunkSize: number) {
    this.id = id;
    this.#saveWhole = saveWhole;
    this.#store = store;
    this.#chunkSize = chunkSize;
  }

  get body(): Writable {
    this.#body ??= new Writable({
      write: (chunk: Buffer | string, encoding, cb) => {
        const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, encoding);
        this.#pending.push(b);
        this.#pendingSize += b.length;
        if (this.#inMemory || this.#pendingSize <= this.#chunkSize) return cb();
        this.#io = this.#write(false);
        this.#io.then(() => cb(), cb);
      },
    });
    return this.#body;
  }

  /** Writes the pending octets as chunks of chunkSize (the rest too when `all`), starting the transaction first. */
  async #write(all: boolean): Promise<void> {
    if (this.#aborted()) throw new MailError(replies.localError(), 'MAIL_ERR_DRAFT_STATE');
    if (this.#client === undefined) {
      const client = await this.#store.connect();
      if (client === undefined) {
        this.#inMemory = true;
        return;
      }
      this.#client = client;
      this.#hash = createHash('sha256');
      await client.query('BEGIN');
    }
    while (this.#pendingSize > (all ? 0 : this.#chunkSize) && !this.#aborted()) {
      const whole = this.#pending.length === 1 ? this.#pending[0] : Buffer.concat(this.#pending);
      const piece = whole.subarray(0, this.#chunkSize);
      const rest = whole.subarray(piece.length);
      this.#pending = rest.length > 0 ? [rest] : [];
      this.#pendingSize = rest.length;
      this.#hash!.update(piece);
      this.#streamed += piece.length;
      await this.#client.query(insertChunk, [this.id, ++this.#seq, piece]);
    }
  }

  /** abort() may come while a write waits (a state test TypeScript would narrow) */
  #aborted(): boolean {
    return this.#state === 'aborted';
  }

  /** The header goes before the body (chunk 0 when streamed), once the body has finished. */
  async prepend(header: Buffer): Promise<void> {
    if (this.#state !== 'open' || this.#header) throw new MailError(replies.localError(), 'MAIL_ERR_DRAFT_STATE');
    await finished(this.body);
    this.#header = header;
  }

  /**
   * The body written so far, once it has finished (before prepend): the chunks this draft's
   * transaction inserted (visible only to its connection, read in slices as readChunks reads),
   * then what is still held.
   */
  written(): Readable {
    const client = this.#client;
    const id = this.id;
    const chunks = this.#seq;
    const held = [...this.#pending];
    return Readable.from(
      (async function* () {
        for (let seq = 1; client && seq <= chunks; seq++) {
          for (let from = 0; ; from += sliceSize) {
            const { rows } = await client.query<{ data: Buffer }>('SELECT substring(data FROM $3::int + 1 FOR $4::int) AS data FROM queue_body_chunks WHERE chunk_key = $1 AND seq = $2', [id, seq, from, sliceSize]);
            if (rows.length === 0 || rows[0].data.length === 0) break;
            yield rows[0].data;
          }
        }
        yield* held;
      })(),
      { objectMode: false },
    );
  }

  async commit(inits: readonly EnvelopeInit[], whole?: readonly Buffer[]): Promise<Envelope[]> {
    checkCommit(this.#state, inits, whole !== undefined && this.#body !== undefined);
    this.#state = 'committing';
    try {
      if (!whole) await finished(this.body);
      const client = this.#client;
      if (client === undefined) {
        const pieces = whole ?? (this.#header ? [this.#header, ...this.#pending] : this.#pending);
        const body = pieces.length === 1 ? pieces[0] : Buffer.concat(pieces);
        this.#pending = [];
        const envelopes = envelopesOf(this.id, inits, body.length);
        await this.#saveWhole(body, envelopes);
        this.#state = 'committed';
        return envelopes;
      }
      await this.#write(true);
      const header = this.#header ?? Buffer.alloc(0);
      if (header.length > 0) await client.query(insertChunk, [this.id, 0, header]);
      const digests = Buffer.concat([createHash('sha256').update(header).digest(), this.#hash!.digest()]);
      const key = Buffer.concat([Buffer.of(1), createHash('sha256').update(digests).digest()]);
      const envelopes = envelopesOf(this.id, inits, header.length + this.#streamed);
      await this.#store.saveMessage(client, this.id, key, header.length + this.#streamed, envelopes);
      await client.query('COMMIT');
      this.#client = undefined;
      this.#store.release(client, false);
      this.#state = 'committed';
      return envelopes;
    } catch (err) {
      this.#state = 'aborted';
      await this.#rollback();
      throw storageError(err);
    }
  }

  async abort(): Promise<void> {
    if (this.#state !== 'open') return;
    this.#state = 'aborted';
    this.#pending = [];
    if (this.#body && !this.#body.destroyed) this.#body.destroy();
    await this.#io.catch(() => undefined);
    await this.#rollback();
  }

  async #rollback(): Promise<void> {
    const client = this.#client;
    if (client === undefined) return;
    this.#client = undefined;
    let broken = false;
    await client.query('ROLLBACK').catch(() => (broken = true));
    this.#store.release(client, broken);
  }
}

/** Octets of a chunk per row of a read: its hex text (twice that) stays under V8's large-object size (128 KiB). */
const sliceSize = 48 * 1024;
/** Slices read per query. */
const slicesPerQuery = 8;

/**
 * A body stored in chunks, read as the reader asks for more, in slices of 48 KiB, eight per
 * query: a driver reads bytea as hex text, and whole 1 MiB chunks made 2 MiB strings that
 * only a full garbage collection frees (RSS grew by 24–52 MB delivering 20 MB, t-94), where
 * small ones die young. Fails when the chunks end before `size` octets (the body was collected
 * meanwhile): a delivery never sends part of a message as if it were whole.
 */
export async function* readChunks(pool: PgPool, id: MessageId, chunkKey: string, size: number): AsyncGenerator<Buffer> {
  const query = async <R extends object>(sql: string, values: unknown[]): Promise<R[]> => {
    try {
      return (await pool.query<R>(sql, values)).rows;
    } catch (err) {
      throw storageError(err);
    }
  };
  const chunks = await query<{ seq: number; len: number }>('SELECT seq, octet_length(data) AS len FROM queue_body_chunks WHERE chunk_key = $1 ORDER BY seq', [chunkKey]);
  let read = 0;
  for (const { seq, len } of chunks) {
    for (let from = 0; from < len; from += sliceSize * slicesPerQuery) {
      const rows = await query<{ data: Buffer }>(
        `SELECT substring(c.data FROM s.o + 1 FOR ${sliceSize}) AS data
         FROM queue_body_chunks c, generate_series($3::int, least($4::int, $3 + ${(slicesPerQuery - 1) * sliceSize}), ${sliceSize}) AS s (o)
         WHERE c.chunk_key = $1 AND c.seq = $2 ORDER BY s.o`,
        [chunkKey, seq, from, len - 1],
      );
      if (rows.length === 0) break;
      for (const row of rows) {
        read += row.data.length;
        yield row.data;
      }
    }
  }
  if (read !== size) throw storageError(new Error(`message ${id}: its body ended after ${read} of ${size} octets`));
}
