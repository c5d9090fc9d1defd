/**
 * @module pg-mail-body
 * A message's content into the PostgreSQL mailboxes (mail_bodies), stored once per content
 * (SHA-256 of its octets with CRLF line ends) with its search columns. A body of up to
 * `chunkSize` octets (1 MiB) is read whole and stored by one statement, as before; a bigger one
 * is streamed: the octets read past the first chunk are written, `chunkSize` at a time, as rows
 * of mail_body_chunks (util/pg-chunks, lz4 where PostgreSQL has it) inside the transaction of
 * the change that stores it (delivery, APPEND), and its body row holds no octets but the
 * chunks' key. The row of an equal content stored before is used instead, and the chunks just
 * written removed. The transaction's COMMIT makes the chunks and the message visible together:
 * a change that fails, or whose process dies, leaves no chunk (PostgreSQL rolls back the
 * transaction of a closed connection; a sweep at open removes chunks of no body anyway).
 * A streamed body's text columns are made of its first 256 KiB: `grams` (JMAP text conditions)
 * holds the text of the header and of that prefix, `search` (IMAP SEARCH's vector) none, so
 * IMAP SEARCH reads it as for any body too long to index.
 * Standards: RFC 1939 §11, RFC 9051 §2.3.4 (sizes counted with CRLF: bare LF stored as CRLF);
 *   RFC 3516 §4.4 (so a binary APPEND holding a bare LF is refused: pgExactOctets).
 * Security: bound parameters only; the chunk key is an id made here.
 * Limitations: a streamed body holds one of the store's connections, and an open
 *   transaction, for as long as its sender takes; a JMAP text condition does not find a word
 *   past the first 256 KiB of a body over 1 MiB.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { messageText } from '../protocol/imap/index.js';
import { PgChunkSink, uniqueId, type PgClient } from '../util/index.js';
import { gramsText } from './search-words.js';

export const mailChunkTable = 'mail_body_chunks';

/** Bare LF → CRLF (what POP3 and IMAP count and serve). */
export function crlfBody(b: Buffer): Buffer {
  let bare = false;
  for (let i = b.indexOf(0x0a); i >= 0; i = b.indexOf(0x0a, i + 1)) {
    if (i === 0 || b[i - 1] !== 0x0d) {
      bare = true;
      break;
    }
  }
  return bare ? Buffer.from(b.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1') : b;
}

const cr = Buffer.from('\r');

/**
 * The octets crlfBody keeps exactly (MailFolderStore.exactOctets): those without a bare LF, i.e.
 * those CrlfPieces gives back as they are.
 */
export const pgExactOctets = {
  check(): (piece: Buffer) => boolean {
    const fixer = new CrlfPieces();
    let ok = true;
    return (b) => (ok &&= fixer.fix(b) === b);
  },
  why: 'This mailbox keeps line ends as CRLF: a bare LF would come back as CRLF',
} as const;

/** crlfBody piece by piece: a LF at the start of a piece is bare unless the last piece ended with CR. */
export class CrlfPieces {
  #afterCr = false;

  fix(b: Buffer): Buffer {
    if (b.length === 0) return b;
    const parts: Buffer[] = [];
    let from = 0;
    for (let i = b.indexOf(0x0a); i >= 0; i = b.indexOf(0x0a, i + 1)) {
      if (i === 0 ? this.#afterCr : b[i - 1] === 0x0d) continue;
      parts.push(b.subarray(from, i), cr);
      from = i;
    }
    this.#afterCr = b[b.length - 1] === 0x0d;
    if (parts.length === 0) return b;
    parts.push(b.subarray(from));
    return Buffer.concat(parts);
  }
}

/** Text indexed per body (a tsvector holds at most 1 MB; a longer text gets no vector). */
export const maxIndexedText = 256 * 1024;

function textOf(body: Buffer): string {
  try {
    return messageText(body);
  } catch {
    return body.toString('latin1').toLowerCase();
  }
}

/**
 * The text a body's full-text vector is made of: headers and decoded text parts (message-text);
 * null when it is too long to index whole (such a body is a candidate of every text search).
 */
export function searchText(body: Buffer): string | null {
  const text = textOf(body);
  if (text.length > maxIndexedText) return null;
  // PostgreSQL text holds no NUL
  return text.replace(/\0/g, ' ');
}

/** Stores a body held whole once per content (the row is locked until COMMIT, so no sweep removes it meanwhile); its hash. */
export async function putWholeBody(c: PgClient, body: Buffer): Promise<Buffer> {
  const hash = createHash('sha256').update(body).digest();
  const text = searchText(body);
  // a body stored before its text was kept gets it when the same content comes again
  await c.query(
    `INSERT INTO mail_bodies (hash, size, body, search, grams) VALUES ($1, $2, $3, to_tsvector('simple', $4), $5)
     ON CONFLICT (hash) DO UPDATE SET size = excluded.size, grams = coalesce(mail_bodies.grams, excluded.grams)`,
    [hash, body.length, body, text, text === null ? null : gramsText(text)],
  );
  return hash;
}

/** A message's content as it came: read whole, or its first octets and the rest still to read. */
export type IncomingBody =
  | { readonly whole: Buffer }
  | { readonly head: readonly Buffer[]; readonly rest: AsyncIterator<Buffer>; readonly source: Readable; readonly fixer: CrlfPieces };

/**
 * Reads `message` up to `chunkSize` octets: the whole body (CRLF) when it ends there or may not
 * be streamed (`stream` false: it is then read whole), else what was read and the rest.
 */
export async function takeBody(message: Readable, chunkSize: number, stream: boolean): Promise<IncomingBody> {
  const rest = (message as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let size = 0;
  for (;;) {
    if (stream && size > chunkSize) {
      const fixer = new CrlfPieces();
      return { head: head.map((b) => fixer.fix(b)), rest, source: message, fixer };
    }
    const next = await rest.next();
    if (next.done) break;
    const b = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value);
    head.push(b);
    size += b.length;
  }
  return { whole: crlfBody(head.length === 1 ? head[0] : Buffer.concat(head)) };
}

/** Gives up a body not stored (a delivery found done already): the rest is not read. */
export function dropBody(body: IncomingBody): void {
  if ('source' in body) body.source.destroy();
}

/**
 * Stores an incoming body inside `c`'s transaction: whole by one statement, or streamed into
 * chunk rows of `chunkSize`. Its hash and size (CRLF).
 */
export async function putBody(c: PgClient, body: IncomingBody, chunkSize: number): Promise<{ hash: Buffer; size: number }> {
  if ('whole' in body) return { hash: await putWholeBody(c, body.whole), size: body.whole.length };
  const sink = new PgChunkSink(mailChunkTable, uniqueId(), chunkSize);
  const prefix: Buffer[] = [];
  let prefixSize = 0;
  const add = (b: Buffer): void => {
    if (prefixSize < maxIndexedText) {
      prefix.push(b.subarray(0, maxIndexedText - prefixSize));
      prefixSize += prefix[prefix.length - 1].length;
    }
    sink.push(b);
  };
  for (const b of body.head) add(b);
  await sink.flush(c, false);
  for (let next = await body.rest.next(); !next.done; next = await body.rest.next()) {
    const b = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value);
    add(body.fixer.fix(b));
    await sink.flush(c, false);
  }
  await sink.flush(c, true);
  const hash = sink.hash.digest();
  // the header and the text of the first 256 KiB (a prefix cut anywhere: its last part may be cut short)
  const text = textOf(Buffer.concat(prefix)).slice(0, maxIndexedText);
  const made = await c.query(
    `INSERT INTO mail_bodies (hash, size, body, search, grams, chunk_key) VALUES ($1, $2, '\\x'::bytea, NULL, $3, $4)
     ON CONFLICT (hash) DO NOTHING`,
    [hash, sink.written, gramsText(text), sink.key],
  );
  if (made.rowCount === 0) {
    // an equal content is stored already: its row (whole or in chunks) serves, and is locked
    // by this transaction so that no sweep removes it before COMMIT
    await c.query(`DELETE FROM ${mailChunkTable} WHERE chunk_key = $1`, [sink.key]);
    await c.query('SELECT 1 FROM mail_bodies WHERE hash = $1 FOR UPDATE', [hash]);
  }
  return { hash, size: sink.written };
}
