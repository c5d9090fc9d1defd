/**
 * @module pg-mail-store
 * The mailboxes on PostgreSQL (`[storage] url = "postgres://…"`), shared by every node: the
 * MailboxStore face (local delivery, POP3) here, the folder face in pg-mail-folders (its
 * folders and subscriptions in pg-folder-tree), all on the tables of pg-mail-schema.
 * A message's content is stored once per content (SHA-256, bytea, CRLF line ends) with its
 * full-text vectors (the text's own tokens, for IMAP SEARCH; its words, for JMAP text
 * conditions); a folder's row is its lock, so the UIDs and MODSEQs handed out by any node
 * grow in commit order. Every change sends a notification (pg-mail-notifier) in its
 * transaction.
 * Delivery is idempotent on (user, uniqueKey) — the envelope id, i.e. (message, recipient) —
 * by a row in mail_deliveries taken in the delivery's transaction: a lease retried by another
 * node, or a node that died after COMMIT but before it recorded the result, stores nothing
 * the second time, even when the first copy was since moved or deleted.
 * Standards: RFC 9051 §2.3.1.1 (UIDs), RFC 7162 §3.1 (MODSEQ); RFC 1939 §11 and RFC 9051
 *   §2.3.4 (sizes counted with CRLF: bare LF is stored as CRLF).
 * Security: bound parameters only; a user is checked as local@domain (mailboxParts) and a
 *   folder by checkFolderName before any query; a PostgreSQL failure is a MailError 451 4.3.0
 *   (delivery is deferred, never lost).
 * A body over 1 MiB is streamed in as chunk rows inside the transaction of the delivery or
 * APPEND that stores it, and read back in slices (pg-mail-body.ts).
 * Limitations: a body of up to 1 MiB is held whole in memory while stored and read (bytea,
 *   bounded by smtp.max_message_size and imap.append_limit), and so is a bigger one while half
 *   of the store's connections stream bodies in, or given to MULTIAPPEND or `correio migrate`;
 *   mail_deliveries rows are kept 30 days (longer than any queue lifetime) and then pruned at open.
 */
import { Readable } from 'node:stream';
import { MailError, MailFolderError, replies, type MailboxMessage, type MailboxStore } from '../core/index.js';
import { inTransaction, migrateSchema, openPgPool, readPgChunks, uniqueId, type PgClient, type PgPool } from '../util/index.js';
import { checkFolderName } from './folder-name.js';
import { mailboxParts } from './maildir-store.js';
import { crlfBody, dropBody, mailChunkTable, putBody, putWholeBody, takeBody, type IncomingBody } from './pg-mail-body.js';
import { notifyFolder, PgMailNotifier } from './pg-mail-notifier.js';
import { mailSchema } from './pg-mail-schema.js';

export { crlfBody, searchText } from './pg-mail-body.js';

export interface PgMailStoreOptions {
  /** connections at most (default 10) */
  maxConnections?: number;
  /** ms since the epoch (tests) */
  now?: () => number;
  /** where the LISTEN connection goes (default: url), e.g. straight to PostgreSQL past PgBouncer */
  listenUrl?: string;
  /** a body over this many octets is streamed into chunk rows of this size (default 1 MiB) */
  chunkSize?: number;
}

/** A folder's row, locked by the transaction that read it. */
export interface FolderRow {
  readonly id: string;
  readonly owner: string;
  readonly name: string;
  readonly uidValidity: number;
  readonly uidNext: number;
  readonly highestModseq: number;
}

/** A message to insert into a locked folder (a new body, or one already stored). */
export interface NewMessage {
  readonly hash: Buffer;
  readonly size: number;
  readonly flags: string;
  readonly keywords: readonly string[];
  readonly receivedAt: number;
  /** the key it keeps (a MOVE: JMAP finds the moved Email by it); absent: a new one */
  readonly key?: string;
}

/** A stored message's row as read back. */
export interface MessageRow {
  readonly uid: string;
  readonly key: string;
  readonly flags: string;
  readonly keywords: string[];
  readonly modseq: string;
  readonly size: string;
  readonly received_at: string;
  readonly body_hash: Buffer;
}

export const messageColumns = 'uid, key, flags, keywords, modseq, size, received_at, body_hash';

/** How long a (user, delivery key) is remembered. */
const deliveryMemoryDays = 30;

/** "local@domain" with the domain lower-cased, checked (550 5.1.1 when it is no address). */
export function ownerOf(user: string): string {
  const { local, domain } = mailboxParts(user);
  return `${local}@${domain}`;
}

/** A MailboxStore folder argument (undefined or "" = INBOX) as its row name ("" = INBOX). */
function folderKey(folder: string | undefined): string {
  return checkFolderName(folder === undefined || folder === '' ? 'INBOX' : folder);
}

function notFound(key: string): Error {
  return Object.assign(new Error(`no such message: ${key}`), { code: 'ENOENT' });
}

/** A PostgreSQL failure as the reply a client gets (451 4.3.0); our own errors pass through. */
function pgFailure(err: unknown): Error {
  if (err instanceof MailError || err instanceof MailFolderError || (err as NodeJS.ErrnoException).code === 'ENOENT') return err as Error;
  return new MailError(replies.localError(), 'MAIL_ERR_STORAGE_IO', { cause: err });
}

export class PgMailStore implements MailboxStore {
  readonly notifier: PgMailNotifier;
  readonly #pool: PgPool;
  readonly #now: () => number;
  readonly #chunkSize: number;
  /** bodies being streamed in (each holds a connection), and at most */
  #streaming = 0;
  readonly #streamMax: number;
  #closed = false;

  private constructor(pool: PgPool, url: string, opts: PgMailStoreOptions) {
    this.#pool = pool;
    this.#now = opts.now ?? Date.now;
    this.#chunkSize = opts.chunkSize ?? 1024 * 1024;
    // half the connections at most: the others stay for every other change and read
    this.#streamMax = Math.max(1, Math.floor((opts.maxConnections ?? 10) / 2));
    this.notifier = new PgMailNotifier(opts.listenUrl ?? url);
  }

  /** Connects and migrates the mailbox schema. MailError 451 when PostgreSQL fails. */
  static async open(url: string, opts: PgMailStoreOptions = {}): Promise<PgMailStore> {
    const pool = openPgPool(url, { max: opts.maxConnections ?? 10, applicationName: 'correio mail' });
    try {
      await migrateSchema(pool, [mailSchema]);
      await pool.query(`DELETE FROM mail_deliveries WHERE delivered_at < now() - interval '${deliveryMemoryDays} days'`);
      // chunks of no body: none is left by a change that failed (its transaction is rolled
      // back) and those of changes in flight are not seen, so this only cleans up after a fault
      await pool.query(`DELETE FROM ${mailChunkTable} c WHERE NOT EXISTS (SELECT 1 FROM mail_bodies b WHERE b.chunk_key = c.chunk_key)`);
      return new PgMailStore(pool, url, opts);
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw pgFailure(err);
    }
  }

  now(): number {
    return this.#now();
  }

  /** Runs `work` in one transaction; failures as pgFailure. */
  async tx<T>(work: (c: PgClient) => Promise<T>): Promise<T> {
    if (this.#closed) throw new MailError(replies.localError(), 'MAIL_ERR_STORE_CLOSED');
    try {
      return await inTransaction(this.#pool, work);
    } catch (err) {
      throw pgFailure(err);
    }
  }

  /** One statement outside a transaction (one snapshot); failures as pgFailure. */
  async query<R extends object>(sql: string, params: unknown[]): Promise<R[]> {
    if (this.#closed) throw new MailError(replies.localError(), 'MAIL_ERR_STORE_CLOSED');
    try {
      return (await this.#pool.query<R>(sql, params)).rows;
    } catch (err) {
      throw pgFailure(err);
    }
  }

  /**
   * Locks a folder's row for the transaction (undefined when it does not exist). With
   * `create` a missing folder is made first (INBOX on first delivery, a delivery's folder).
   */
  async lockFolder(c: PgClient, owner: string, name: string, create: boolean): Promise<FolderRow | undefined> {
    if (create) await c.query('INSERT INTO mail_folders (owner, name) VALUES ($1, $2) ON CONFLICT DO NOTHING', [owner, name]);
    const r = await c.query<{ id: string; uid_validity: string; uid_next: string; highest_modseq: string }>(
      'SELECT id, uid_validity, uid_next, highest_modseq FROM mail_folders WHERE owner = $1 AND name = $2 FOR UPDATE',
      [owner, name],
    );
    const row = r.rows[0];
    if (!row) return undefined;
    return { id: row.id, owner, name, uidValidity: Number(row.uid_validity), uidNext: Number(row.uid_next), highestModseq: Number(row.highest_modseq) };
  }

  /** Stores a body held whole once per content (the row is locked until COMMIT, so no sweep removes it meanwhile). */
  putBody(c: PgClient, body: Buffer): Promise<Buffer> {
    return putWholeBody(c, body);
  }

  /**
   * Reads a message's first octets: the whole body when it is small (or while as many bodies
   * as may be are being streamed), else what putIncoming streams in. Give it to release().
   */
  async receive(message: Readable | Buffer): Promise<IncomingBody> {
    if (Buffer.isBuffer(message)) {
      if (message.length <= this.#chunkSize) return { whole: crlfBody(message) };
      message = Readable.from([message]);
    }
    const stream = this.#streaming < this.#streamMax;
    if (stream) this.#streaming++;
    let body: IncomingBody | undefined;
    try {
      body = await takeBody(message, this.#chunkSize, stream);
      return body;
    } finally {
      if (stream && (body === undefined || 'whole' in body)) this.#streaming--;
    }
  }

  /** Stores a received body inside `c`'s transaction; its hash and size (CRLF). */
  putIncoming(c: PgClient, body: IncomingBody): Promise<{ hash: Buffer; size: number }> {
    return putBody(c, body, this.#chunkSize);
  }

  /** A received body is done with (stored or not). */
  release(body: IncomingBody): void {
    if ('whole' in body) return;
    this.#streaming--;
    dropBody(body);
  }

  /**
   * Inserts messages into a locked folder: the next UIDs in order, one new MODSEQ shared by
   * them; raises the folder's UIDNEXT and HIGHESTMODSEQ and notifies. Their UIDs and keys.
   */
  async insertMessages(c: PgClient, f: FolderRow, msgs: readonly NewMessage[]): Promise<{ uid: number; key: string }[]> {
    if (msgs.length === 0) return [];
    const modseq = f.highestModseq + 1;
    const rows = msgs.map((m, i) => ({ ...m, uid: f.uidNext + i, key: m.key ?? uniqueId() }));
    await c.query(
      `INSERT INTO mail_messages (folder_id, uid, key, body_hash, size, flags, keywords, modseq, received_at)
       SELECT $1, m.uid, m.key, m.hash, m.size, m.flags, ARRAY(SELECT jsonb_array_elements_text(m.keywords)), $2, m.received_at
       FROM unnest($3::bigint[], $4::text[], $5::bytea[], $6::bigint[], $7::text[], $8::jsonb[], $9::bigint[])
         AS m (uid, key, hash, size, flags, keywords, received_at)`,
      [
        f.id, modseq,
        rows.map((m) => m.uid), rows.map((m) => m.key), rows.map((m) => m.hash), rows.map((m) => m.size),
        rows.map((m) => m.flags), rows.map((m) => JSON.stringify(m.keywords)), rows.map((m) => Math.floor(m.receivedAt)),
      ],
    );
    await this.bumpFolder(c, f, modseq, f.uidNext + msgs.length);
    return rows.map((m) => ({ uid: m.uid, key: m.key }));
  }

  /** Records a locked folder's new HIGHESTMODSEQ (and UIDNEXT) and notifies every node at COMMIT. */
  async bumpFolder(c: PgClient, f: FolderRow, modseq: number, uidNext = f.uidNext): Promise<void> {
    await c.query('UPDATE mail_folders SET highest_modseq = $2, uid_next = $3 WHERE id = $1', [f.id, modseq, uidNext]);
    await notifyFolder(c, f.owner, f.name);
  }

  /** Expunges messages of a locked folder by key: recorded for VANISHED under one new MODSEQ; the bodies they named. */
  async expunge(c: PgClient, f: FolderRow, keys: readonly string[]): Promise<Buffer[]> {
    const d = await c.query<{ uid: string; body_hash: Buffer }>(
      'DELETE FROM mail_messages WHERE folder_id = $1 AND key = ANY($2) RETURNING uid, body_hash',
      [f.id, keys],
    );
    if (d.rows.length === 0) return [];
    const modseq = f.highestModseq + 1;
    await c.query(
      'INSERT INTO mail_expunged (folder_id, uid, modseq) SELECT $1, u, $2 FROM unnest($3::bigint[]) AS u ON CONFLICT DO NOTHING',
      [f.id, modseq, d.rows.map((r) => r.uid)],
    );
    await this.bumpFolder(c, f, modseq);
    return d.rows.map((r) => r.body_hash);
  }

  /** Removes bodies no message names any more (one named again meanwhile is kept: the foreign key refuses). */
  async collectBodies(hashes: readonly Buffer[]): Promise<void> {
    for (const hash of new Set(hashes.map((h) => h.toString('hex')))) {
      try {
        await this.#pool.query('DELETE FROM mail_bodies WHERE hash = $1 AND NOT EXISTS (SELECT 1 FROM mail_messages WHERE body_hash = $1)', [Buffer.from(hash, 'hex')]);
      } catch {
        // 23503 (a new message names it) or the database away: a later sweep collects it
      }
    }
  }

  async deliver(user: string, message: Readable | Buffer, opts: { uniqueKey: string; folder?: string }): Promise<{ key: string }> {
    const owner = ownerOf(user);
    const name = folderKey(opts.folder);
    if (opts.uniqueKey.length === 0) throw new RangeError('uniqueKey must not be empty');
    const body = await this.receive(message);
    try {
      return await this.tx(async (c) => {
        // the delivery's key is taken first: a second delivery of it (another node, a retried
        // lease) waits here for the first to commit, then finds it and stores nothing
        const placeholder = uniqueId();
        const d = await c.query<{ key: string }>(
          `INSERT INTO mail_deliveries (owner, unique_key, key) VALUES ($1, $2, $3)
           ON CONFLICT (owner, unique_key) DO UPDATE SET owner = excluded.owner RETURNING key, (xmax = 0) AS fresh`,
          [owner, opts.uniqueKey, placeholder],
        );
        const first = d.rows[0] as { key: string; fresh: boolean };
        if (!first.fresh) return { key: first.key };
        // the body first (a streamed one takes as long as its sender), then the folder's lock
        const { hash, size } = await this.putIncoming(c, body);
        const f = (await this.lockFolder(c, owner, name, true))!;
        const [{ key }] = await this.insertMessages(c, f, [{ hash, size, flags: '', keywords: [], receivedAt: this.#now() }]);
        await c.query('UPDATE mail_deliveries SET key = $3 WHERE owner = $1 AND unique_key = $2', [owner, opts.uniqueKey, key]);
        return { key };
      });
    } finally {
      this.release(body);
    }
  }

  async list(user: string, folder?: string): Promise<MailboxMessage[]> {
    const owner = ownerOf(user);
    const name = folderKey(folder);
    const rows = await this.query<{ key: string; size: string; flags: string; received_at: string }>(
      `SELECT m.key, m.size, m.flags, m.received_at FROM mail_messages m JOIN mail_folders f ON f.id = m.folder_id
       WHERE f.owner = $1 AND f.name = $2 ORDER BY m.uid`,
      [owner, name],
    );
    return rows.map((r) => ({ key: r.key, size: Number(r.size), flags: r.flags, receivedAt: Number(r.received_at), folder: folder ?? '' }));
  }

  async open(user: string, key: string, folder?: string): Promise<Readable> {
    const owner = ownerOf(user);
    const name = folderKey(folder);
    const rows = await this.query<{ body: Buffer; chunk_key: string | null; size: string }>(
      `SELECT b.body, b.chunk_key, b.size FROM mail_messages m JOIN mail_folders f ON f.id = m.folder_id JOIN mail_bodies b ON b.hash = m.body_hash
       WHERE f.owner = $1 AND f.name = $2 AND m.key = $3`,
      [owner, name, key],
    );
    if (!rows[0]) throw notFound(key);
    const { body, chunk_key: chunkKey, size } = rows[0];
    // highWaterMark 0: a slice is read when the reader asks for it, none ahead, and 4 slices per
    // query (issue 17: slices held while the client is slow outlive scavenges and pile up until
    // a full collection)
    if (chunkKey !== null) return Readable.from(readPgChunks(this.#pool, mailChunkTable, chunkKey, Number(size), pgFailure, 4), { objectMode: false, highWaterMark: 0 });
    return Readable.from(body.length > 0 ? [body] : [], { objectMode: false });
  }

  async setFlags(user: string, key: string, flags: string, folder?: string): Promise<void> {
    if (!/^[A-Za-z]*$/.test(flags)) throw new RangeError(`bad Maildir flags "${flags}"`);
    const norm = [...new Set(flags)].sort().join('');
    const owner = ownerOf(user);
    const name = folderKey(folder);
    await this.tx(async (c) => {
      const f = await this.lockFolder(c, owner, name, false);
      if (!f) throw notFound(key);
      const r = await c.query<{ flags: string }>('SELECT flags FROM mail_messages WHERE folder_id = $1 AND key = $2', [f.id, key]);
      if (!r.rows[0]) throw notFound(key);
      if (r.rows[0].flags === norm) return;
      await c.query('UPDATE mail_messages SET flags = $3, modseq = $4 WHERE folder_id = $1 AND key = $2', [f.id, key, norm, f.highestModseq + 1]);
      await this.bumpFolder(c, f, f.highestModseq + 1);
    });
  }

  async remove(user: string, key: string, folder?: string): Promise<void> {
    const owner = ownerOf(user);
    const name = folderKey(folder);
    const bodies = await this.tx(async (c) => {
      const f = await this.lockFolder(c, owner, name, false);
      return f ? this.expunge(c, f, [key]) : [];
    });
    await this.collectBodies(bodies);
  }

  /**
   * What the user's mailbox holds, every folder together: octets (CRLF, as served) and
   * messages — the usage a quota is checked against (one indexed aggregate, no rescan).
   */
  async usage(user: string): Promise<{ storage: number; messages: number }> {
    const [r] = await this.query<{ storage: string; messages: string }>(
      `SELECT coalesce(sum(m.size), 0) AS storage, count(m.uid) AS messages
       FROM mail_folders f LEFT JOIN mail_messages m ON m.folder_id = f.id WHERE f.owner = $1`,
      [ownerOf(user)],
    );
    return { storage: Number(r.storage), messages: Number(r.messages) };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.notifier.close();
    await this.#pool.end();
  }
}
