/**
 * @module pg-chunks
 * A big value streamed into PostgreSQL as chunk rows and read back in slices: what the queue's
 * streamed bodies (queue_body_chunks) and the mailboxes' (mail_body_chunks) share. A chunk
 * table has the columns (chunk_key text, seq integer, data bytea), primary key (chunk_key, seq).
 * PgChunkSink gathers the octets given to it and writes them, `chunkSize` at a time, as rows
 * 1, 2, … under its key through the client (inside the caller's transaction), keeping their
 * SHA-256; readPgChunks reads them back in 48 KiB slices, eight per query (four for POP3 and
 * IMAP: 192 KiB held at most, issue 17; eight held 384 KiB for no CPU saved that the bench
 * measured): the pg driver reads
 * bytea as hex text, and whole 1 MiB chunks made 2 MiB strings that only a full garbage
 * collection frees (RSS grew by 24–52 MB delivering 20 MB, t-94), where small ones die young.
 * Standards: none.
 * Security: bound parameters only; table names are the callers' constants, never input.
 * Limitations: a slice of a compressed chunk makes PostgreSQL decompress the chunk up to it.
 */
import { createHash, type Hash } from 'node:crypto';
import type { PgClient, PgPool } from './pg-database.js';

/** Octets of a chunk per row of a read: its hex text (twice that) stays under V8's large-object size (128 KiB). */
const sliceSize = 48 * 1024;
/** Slices read per query, unless the caller says (the mailboxes' serve path reads 4: issue 17). */
const slicesPerQuery = 8;

export class PgChunkSink {
  /** SHA-256 of the octets written so far */
  readonly hash: Hash = createHash('sha256');
  /** octets written */
  written = 0;
  #pending: Buffer[] = [];
  #pendingSize = 0;
  #seq = 0;
  readonly #insert: string;

  constructor(
    readonly table: string,
    readonly key: string,
    readonly chunkSize: number,
  ) {
    this.#insert = `INSERT INTO ${table} (chunk_key, seq, data) VALUES ($1, $2, $3)`;
  }

  /** Octets given and not yet written. */
  get pendingSize(): number {
    return this.#pendingSize;
  }

  push(b: Buffer): void {
    if (b.length === 0) return;
    this.#pending.push(b);
    this.#pendingSize += b.length;
  }

  /** The octets not written, taken out (a value kept in memory after all). */
  take(): Buffer[] {
    const out = this.#pending;
    this.#pending = [];
    this.#pendingSize = 0;
    return out;
  }

  /** Writes the pending octets as rows of chunkSize (the rest too when `all`), unless `stop()` says so. */
  async flush(client: PgClient, all: boolean, stop: () => boolean = () => false): Promise<void> {
    while (this.#pendingSize > (all ? 0 : this.chunkSize) && !stop()) {
      const whole = this.#pending.length === 1 ? this.#pending[0] : Buffer.concat(this.#pending);
      const piece = whole.subarray(0, this.chunkSize);
      const rest = whole.subarray(piece.length);
      this.#pending = rest.length > 0 ? [rest] : [];
      this.#pendingSize = rest.length;
      this.hash.update(piece);
      this.written += piece.length;
      await client.query(this.#insert, [this.key, ++this.#seq, piece]);
    }
  }

  /**
   * What was given so far: the rows written through `client` (visible to its transaction only,
   * read in slices as readPgChunks reads), then the octets still held (as they are now).
   */
  readBack(client: PgClient | undefined): AsyncGenerator<Buffer> {
    // taken now, not at the first read
    const { table, key } = this;
    const rows = this.#seq;
    const held = [...this.#pending];
    return (async function* () {
      for (let seq = 1; client && seq <= rows; seq++) {
        for (let from = 0; ; from += sliceSize) {
          const r = await client.query<{ data: Buffer }>(`SELECT substring(data FROM $3::int + 1 FOR $4::int) AS data FROM ${table} WHERE chunk_key = $1 AND seq = $2`, [key, seq, from, sliceSize]);
          if (r.rows.length === 0 || r.rows[0].data.length === 0) break;
          yield r.rows[0].data;
        }
      }
      yield* held;
    })();
  }

  /** Writes row `seq` (0: a piece that goes before the others, outside the hash and count). */
  async insertRow(client: PgClient, seq: number, data: Buffer): Promise<void> {
    await client.query(this.#insert, [this.key, seq, data]);
  }
}

/**
 * The value stored in `table` under `key`, read as the reader asks for more. Errors of the
 * queries go through `fail`; fails too when the chunks end before `size` octets (the value was
 * removed meanwhile): a reader never gets part of a value as if it were whole.
 */
export async function* readPgChunks(pool: PgPool, table: string, key: string, size: number, fail: (err: unknown) => Error, slices = slicesPerQuery): AsyncGenerator<Buffer> {
  const query = async <R extends object>(sql: string, values: unknown[]): Promise<R[]> => {
    try {
      return (await pool.query<R>(sql, values)).rows;
    } catch (err) {
      throw fail(err);
    }
  };
  const chunks = await query<{ seq: number; len: number }>(`SELECT seq, octet_length(data) AS len FROM ${table} WHERE chunk_key = $1 ORDER BY seq`, [key]);
  let read = 0;
  for (const { seq, len } of chunks) {
    for (let from = 0; from < len; from += sliceSize * slices) {
      const rows = await query<{ data: Buffer }>(
        `SELECT substring(c.data FROM s.o + 1 FOR ${sliceSize}) AS data
         FROM ${table} c, generate_series($3::int, least($4::int, $3 + ${(slices - 1) * sliceSize}), ${sliceSize}) AS s (o)
         WHERE c.chunk_key = $1 AND c.seq = $2 ORDER BY s.o`,
        [key, seq, from, len - 1],
      );
      if (rows.length === 0) break;
      // each slice let go of as it is given: the array does not keep those written alive
      for (let row = rows.shift(); row; row = rows.shift()) {
        read += row.data.length;
        yield row.data;
      }
    }
  }
  if (read !== size) throw fail(new Error(`${key}: its value ended after ${read} of ${size} octets`));
}
