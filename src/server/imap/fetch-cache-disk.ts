/**
 * @module fetch-cache-disk
 * The fetch cache's second tier on disk (`<data_dir>/imap-cache.sqlite`): the encoded ENVELOPE,
 * BODYSTRUCTURE and BODY of messages once computed, kept across restarts, so that the first
 * `FETCH 1:* (FLAGS ENVELOPE)` after a restart (a client's usual resync) reads no message file,
 * as Dovecot answers it from `dovecot.index.cache`.
 * A message's content never changes under its key (a Maildir unique name or a stored body's
 * row, never reused), so an entry is valid as long as the message lives: it does not depend on
 * UIDs, and a new UIDVALIDITY (UIDs given again to the same files) keeps it.
 * Standards: RFC 9051 §7.5.2 (the items kept are computed from the content only).
 * Security: rows are keyed by user, folder and key; only the server's own sessions read them,
 *   each for its own user. The file holds header data (addresses, subjects): it is created in
 *   data_dir, which only the server's user reads.
 * Limitations: it is a cache: any SQLite failure is a miss (the file is read and parsed as
 *   without it), and a write lost at a crash is computed again. Writes are gathered and written
 *   in one transaction per turn of the event loop; reads are in bulk (getMany: the rows of up to
 *   500 keys per query, packed into one row by SQLite's aggregates), as a FETCH of a folder asks for many messages at once. Under serve it
 *   is filled for every message the text index reads (fillFetchCache), so the file grows with
 *   the mail on Maildir: its ENVELOPE, BODYSTRUCTURE and SORT fields, some hundreds of octets per
 *   message. Entries are dropped when this server expunges
 *   or moves a message, and (gone) when the text index finds a message removed by another
 *   program (POP3 DELE, mutt) at its folder's next sync (or, removed while the server was down,
 *   at its first). Rows stay behind, never read again (the key is not reused), without the
 *   text index (no serve), for a message over 8 MiB removed while the server was down (the
 *   index never held it), and for rows a FETCH writes as the message goes.
 *   The rows are correio's own encoding of the items: a change to how ENVELOPE, BODYSTRUCTURE,
 *   BODY or the SORT fields are computed or encoded (protocol/imap envelope.ts, body-structure.ts,
 *   the MIME reading, sort-fields) must raise
 *   `FETCH_CACHE_FORMAT`, or an upgraded server would go on answering with the old form.
 */
import type Database from 'better-sqlite3';
import { openSmallStore } from '../../util/sqlite-small-store.js';

const schema = `CREATE TABLE IF NOT EXISTS items (
  user TEXT NOT NULL, folder TEXT NOT NULL, key TEXT NOT NULL, item TEXT NOT NULL, data BLOB NOT NULL,
  PRIMARY KEY (user, folder, key, item)) WITHOUT ROWID;`;

/**
 * The encoding's version, kept as the file's user_version: a file of another version is emptied
 * when opened (the items are computed again from the messages).
 */
export const FETCH_CACHE_FORMAT = 1;

/**
 * The FETCH items whose answer depends on the message's content only, and is small; and `SORT`,
 * the header fields SORT and THREAD read (sort-fields).
 */
export type CachedItem = 'ENVELOPE' | 'BODYSTRUCTURE' | 'BODY' | 'SORT';

type Row = readonly [user: string, folder: string, key: string, item: CachedItem, data: Buffer];

/** Keys per bulk query (getMany). */
const perQuery = 500;

export class FetchCacheDisk {
  readonly #db: Database.Database;
  readonly #getMany: Database.Statement;
  readonly #put: Database.Statement;
  readonly #drop: Database.Statement;
  readonly #dropMany: Database.Statement;
  /** `user\0folder\0key\0item` → the row waiting to be written */
  readonly #pending = new Map<string, Row>();
  /** messages gone (gone), their rows to delete in the next transaction */
  #gone: [user: string, folder: string, keys: readonly string[]][] = [];
  #flushing: NodeJS.Immediate | undefined;
  #failed = false;

  constructor(file: string) {
    this.#db = openSmallStore(file, schema);
    if (this.#db.pragma('user_version', { simple: true }) !== FETCH_CACHE_FORMAT) {
      this.#db.exec('DELETE FROM items');
      this.#db.pragma(`user_version = ${FETCH_CACHE_FORMAT}`);
    }
    // a lost write is only a miss later: no fsync per transaction
    this.#db.pragma('synchronous = NORMAL');
    // the keys as one JSON array: one query (and one walk of the primary key) for many messages;
    // the rows come back packed as one row (their keys, items and lengths as JSON arrays, their
    // data end to end as one blob): one Buffer per query instead of one row and Buffer each
    this.#getMany = this.#db.prepare(`SELECT json_group_array(key), json_group_array(item), json_group_array(length(data)), CAST(group_concat(data, '') AS BLOB)
      FROM (SELECT key, item, data FROM items WHERE user = ? AND folder = ? AND key IN (SELECT value FROM json_each(?)) AND item IN (SELECT value FROM json_each(?)))`).raw();
    this.#put = this.#db.prepare('INSERT OR REPLACE INTO items (user, folder, key, item, data) VALUES (?, ?, ?, ?, ?)');
    this.#drop = this.#db.prepare('DELETE FROM items WHERE user = ? AND folder = ? AND key = ?');
    this.#dropMany = this.#db.prepare('DELETE FROM items WHERE user = ? AND folder = ? AND key IN (SELECT value FROM json_each(?))');
  }

  /** The rows (key, item, data) of these messages and items of a folder, read a few hundred keys per query. */
  getMany(user: string, folder: string, keys: readonly string[], items: readonly CachedItem[] = ['ENVELOPE', 'BODYSTRUCTURE', 'BODY']): [key: string, item: CachedItem, data: Buffer][] {
    const out: [string, CachedItem, Buffer][] = [];
    if (this.#pending.size > 0) {
      for (const key of keys) {
        for (const item of items) {
          const waiting = this.#pending.get(`${user}\0${folder}\0${key}\0${item}`);
          if (waiting) out.push([key, item, waiting[4]]);
        }
      }
    }
    if (this.#failed) return out;
    try {
      for (let i = 0; i < keys.length; i += perQuery) {
        const [k, it, lengths, blob] = this.#getMany.get(user, folder, JSON.stringify(keys.slice(i, i + perQuery)), JSON.stringify(items)) as [string, string, string, Buffer | null];
        const rowKeys = JSON.parse(k) as string[];
        const rowItems = JSON.parse(it) as CachedItem[];
        const sizes = JSON.parse(lengths) as number[];
        let at = 0;
        for (let r = 0; r < rowKeys.length; r++) {
          // copied out (into Node's pool for small ones): a kept entry must not hold the whole blob
          const data = Buffer.from(blob!.subarray(at, at + sizes[r]));
          at += sizes[r];
          // a row also waiting was taken above
          if (this.#pending.size === 0 || !this.#pending.has(`${user}\0${folder}\0${rowKeys[r]}\0${rowItems[r]}`)) out.push([rowKeys[r], rowItems[r], data]);
        }
      }
    } catch {
      // a miss: the messages are read
    }
    return out;
  }

  set(user: string, folder: string, key: string, item: CachedItem, data: Buffer): void {
    if (this.#failed) return;
    this.#pending.set(`${user}\0${folder}\0${key}\0${item}`, [user, folder, key, item, data]);
    this.#flushing ??= setImmediate(() => this.flush());
  }

  drop(user: string, folder: string, key: string): void {
    for (const [id, r] of this.#pending) if (r[0] === user && r[1] === folder && r[2] === key) this.#pending.delete(id);
    if (this.#failed) return;
    try {
      this.#drop.run(user, folder, key);
    } catch {
      // rows left behind are never read again (the key is not reused)
    }
  }

  /**
   * Messages of a folder gone (removed by another program, seen by the text index): their rows
   * are deleted in the next turn's transaction, a few hundred keys per statement.
   */
  gone(user: string, folder: string, keys: readonly string[]): void {
    if (keys.length === 0) return;
    if (this.#pending.size > 0) {
      const set = new Set(keys);
      for (const [id, r] of this.#pending) if (r[0] === user && r[1] === folder && set.has(r[2])) this.#pending.delete(id);
    }
    if (this.#failed) return;
    this.#gone.push([user, folder, keys]);
    this.#flushing ??= setImmediate(() => this.flush());
  }

  /** Writes what is waiting, in one transaction. */
  flush(): void {
    if (this.#flushing) clearImmediate(this.#flushing);
    this.#flushing = undefined;
    const rows = [...this.#pending.values()];
    this.#pending.clear();
    const gone = this.#gone;
    this.#gone = [];
    if ((rows.length === 0 && gone.length === 0) || this.#failed) return;
    try {
      this.#db.transaction(() => {
        for (const [user, folder, keys] of gone) {
          for (let i = 0; i < keys.length; i += perQuery) this.#dropMany.run(user, folder, JSON.stringify(keys.slice(i, i + perQuery)));
        }
        for (const r of rows) this.#put.run(...r);
      })();
    } catch {
      // a full or broken disk: the cache stays in memory only from now on
      this.#failed = true;
    }
  }

  close(): void {
    this.flush();
    this.#db.close();
  }
}
