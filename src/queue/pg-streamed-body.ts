/**
 * @module pg-streamed-body
 * The PostgreSQL queue's MessageDraft, and the reading of a body stored in chunks. A body of up
 * to `chunkSize` octets (1 MiB) is gathered in memory and committed by the store's one
 * statement (body, message and envelopes), as before. A bigger one is streamed: once more than
 * `chunkSize` octets have arrived, the draft takes a connection of its own, opens a transaction
 * and writes the body into queue_body_chunks, a row per `chunkSize` octets, while it arrives
 * (util/pg-chunks, shared with the mailboxes' chunked bodies)
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
import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { MailError, replies, type Envelope, type EnvelopeInit, type MessageDraft, type MessageId } from '../core/index.js';
import { PgChunkSink, readPgChunks, type PgClient, type PgPool } from '../util/index.js';
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

const chunkTable = 'queue_body_chunks';

export class PgMessageDraft implements MessageDraft {
  readonly id: MessageId;
  readonly #saveWhole: SaveMessage;
  readonly #store: StreamedBodyStore;
  /** octets not yet written (all of them while the body is held in memory), the chunks written */
  readonly #sink: PgChunkSink;
  #header: Buffer | undefined;
  #body: Writable | undefined;
  #state: 'open' | 'committing' | 'committed' | 'aborted' = 'open';
  /** while streaming: the connection */
  #client: PgClient | undefined;
  /** no connection could be had: held in memory to the end */
  #inMemory = false;
  /** the chunk writes in flight (abort waits for them before it rolls back) */
  #io: Promise<void> = Promise.resolve();

  constructor(id: MessageId, saveWhole: SaveMessage, store: StreamedBodyStore, chunkSize: number) {
    this.id = id;
    this.#saveWhole = saveWhole;
    this.#store = store;
    this.#sink = new PgChunkSink(chunkTable, id, chunkSize);
  }

  get body(): Writable {
    this.#body ??= new Writable({
      write: (chunk: Buffer | string, encoding, cb) => {
        const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, encoding);
        this.#sink.push(b);
        if (this.#inMemory || this.#sink.pendingSize <= this.#sink.chunkSize) return cb();
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
      await client.query('BEGIN');
    }
    await this.#sink.flush(this.#client, all, () => this.#aborted());
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
    return Readable.from(this.#sink.readBack(this.#client), { objectMode: false });
  }

  async commit(inits: readonly EnvelopeInit[], whole?: readonly Buffer[]): Promise<Envelope[]> {
    checkCommit(this.#state, inits, whole !== undefined && this.#body !== undefined);
    return this.#commit((size) => envelopesOf(this.id, inits, size), whole);
  }

  /**
   * Commits the body written to `body` (streamed into chunk rows past `chunkSize`, as an SMTP
   * body is) with envelopes kept exactly as given: a message copied from another queue
   * (`correio migrate`). The caller checked that they belong to this message (isImport).
   */
  async commitCopy(envelopes: readonly Envelope[]): Promise<void> {
    checkCommit(this.#state, envelopes, false);
    await this.#commit(() => [...envelopes], undefined);
  }

  async #commit(envelopesFor: (size: number) => Envelope[], whole: readonly Buffer[] | undefined): Promise<Envelope[]> {
    this.#state = 'committing';
    try {
      if (!whole) await finished(this.body);
      const client = this.#client;
      if (client === undefined) {
        const held = this.#sink.take();
        const pieces = whole ?? (this.#header ? [this.#header, ...held] : held);
        const body = pieces.length === 1 ? pieces[0] : Buffer.concat(pieces);
        const envelopes = envelopesFor(body.length);
        await this.#saveWhole(body, envelopes);
        this.#state = 'committed';
        return envelopes;
      }
      await this.#write(true);
      const header = this.#header ?? Buffer.alloc(0);
      if (header.length > 0) await this.#sink.insertRow(client, 0, header);
      const digests = Buffer.concat([createHash('sha256').update(header).digest(), this.#sink.hash.digest()]);
      const key = Buffer.concat([Buffer.of(1), createHash('sha256').update(digests).digest()]);
      const size = header.length + this.#sink.written;
      const envelopes = envelopesFor(size);
      await this.#store.saveMessage(client, this.id, key, size, envelopes);
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
    this.#sink.take();
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

/**
 * A body stored in chunks, read as the reader asks for more (util/pg-chunks: 48 KiB slices).
 * Fails when the chunks end before `size` octets (the body was collected meanwhile): a
 * delivery never sends part of a message as if it were whole.
 */
export function readChunks(pool: PgPool, chunkKey: string, size: number): AsyncGenerator<Buffer> {
  return readPgChunks(pool, chunkTable, chunkKey, size, storageError);
}
