/**
 * @module fetch-cache
 * The encoded ENVELOPE, BODYSTRUCTURE and BODY of messages already fetched, shared by the
 * server's sessions, so that a client listing a folder again (`FETCH 1:* (FLAGS ENVELOPE)`, the
 * usual resync) is answered without reading and parsing every message file again; and the
 * header fields SORT and THREAD read (sort-fields), kept when an ENVELOPE is made or a SORT
 * or a SEARCH header key reads them.
 * A message's content never changes under its key (a Maildir name or a stored body's row), so
 * an entry needs no invalidation; flags, UIDs and sizes are never cached.
 * Standards: RFC 9051 §7.5.2 (the items cached are computed from the content only).
 * Security: entries are keyed by user, folder and key: a session only gets what it asked for
 *   of its own user's messages.
 * Limitations: in memory, one entry per message, bounded by `maxBytes` (64 MiB by default,
 *   counted as the items' octets plus ~200 octets per message: about 100,000 messages' envelopes
 *   of ordinary mail); over it, the least recently used tenth goes at once (the entries of the
 *   least recently used folder first, per folder by their own use). With a `disk` tier
 *   (fetch-cache-disk, `<data_dir>/imap-cache.sqlite` under `correio serve`) every entry is also
 *   written there, so it survives restarts, and what memory lacks is read from there in bulk
 *   (getMany: one query per few hundred messages), so a folder larger than the memory bound
 *   costs a SQLite read per message, not a file read and parse.
 */
import type { CachedItem, FetchCacheDisk } from './fetch-cache-disk.js';

export type { CachedItem };

/** What is cached of one message. */
export type CachedEntry = Partial<Record<CachedItem, Buffer>>;

/** Counted per message beside its items' octets: the Map slot, the key string, the objects. */
const overhead = 200;

function sizeOf(key: string, e: CachedEntry): number {
  return overhead + key.length + (e.ENVELOPE?.length ?? 0) + (e.BODYSTRUCTURE?.length ?? 0) + (e.BODY?.length ?? 0) + (e.SORT?.length ?? 0);
}

/** One folder's entries in memory: key → the message's items, least recently used first. */
type FolderEntries = Map<string, CachedEntry>;

export class FetchCache {
  /**
   * `user\0folder` → its entries, the least recently used folder first: per folder, so that a
   * lookup is by the message's key as the view holds it (no id string made per message)
   */
  readonly #folders = new Map<string, FolderEntries>();
  #bytes = 0;

  constructor(
    private readonly maxBytes = 64 * 1024 * 1024,
    private readonly disk?: FetchCacheDisk,
  ) {}

  /** The octets counted in memory (at most `maxBytes`). */
  get bytes(): number {
    return this.#bytes;
  }

  /** The folder's entries, made the most recently used folder (made when `make`). */
  #folder(user: string, folder: string, make: boolean): FolderEntries | undefined {
    const id = `${user}\0${folder}`;
    let f = this.#folders.get(id);
    if (f) {
      this.#folders.delete(id);
      this.#folders.set(id, f);
    } else if (make) this.#folders.set(id, (f = new Map()));
    return f;
  }

  /** The memory entry, made most recently used. */
  #touch(f: FolderEntries, key: string): CachedEntry | undefined {
    const hit = f.get(key);
    if (hit) {
      f.delete(key);
      f.set(key, hit);
    }
    return hit;
  }

  get(user: string, folder: string, key: string, item: CachedItem): Buffer | undefined {
    const f = this.#folder(user, folder, false);
    const hit = f && this.#touch(f, key)?.[item];
    if (hit) return hit;
    return this.getMany(user, folder, [key], [item]).get(key)?.[item];
  }

  /**
   * The entries of many messages of one folder: from memory, and for those whose entry in
   * memory lacks one of `items`, those items from the disk tier in one query per few hundred
   * keys (kept in memory then). Keys with nothing cached are absent from the answer.
   */
  getMany(user: string, folder: string, keys: readonly string[], items: readonly CachedItem[] = ['ENVELOPE', 'BODYSTRUCTURE', 'BODY']): Map<string, CachedEntry> {
    const out = new Map<string, CachedEntry>();
    const missing: string[] = [];
    const f = this.#folder(user, folder, false);
    for (const key of keys) {
      const hit = f && this.#touch(f, key);
      if (hit) out.set(key, hit);
      // (an item made in the background is in the disk tier only: fillFetchCache)
      if (!hit || items.some((i) => !hit[i])) missing.push(key);
    }
    if (missing.length === 0 || !this.disk) return out;
    const found = new Map<string, CachedEntry>();
    for (const [key, item, data] of this.disk.getMany(user, folder, missing, items)) {
      let e = found.get(key);
      if (!e) {
        const had = out.get(key);
        found.set(key, (e = had ? { ...had } : {}));
      }
      e[item] = data;
    }
    if (found.size === 0) return out;
    const into = f ?? this.#folder(user, folder, true)!;
    for (const [key, e] of found) {
      out.set(key, e);
      this.#remember(into, key, e);
    }
    return out;
  }

  /** Forgets a message's entries (it was expunged or moved away). */
  drop(user: string, folder: string, key: string): void {
    this.#forget(user, folder, [key]);
    this.disk?.drop(user, folder, key);
  }

  /**
   * Forgets the entries of messages removed by another program (the text index saw them gone):
   * the disk tier's rows are deleted with its next write, in one transaction.
   */
  gone(user: string, folder: string, keys: readonly string[]): void {
    this.#forget(user, folder, keys);
    this.disk?.gone(user, folder, keys);
  }

  /** The memory tier's entries of these messages of a folder removed. */
  #forget(user: string, folder: string, keys: readonly string[]): void {
    const id = `${user}\0${folder}`;
    const f = this.#folders.get(id);
    if (!f) return;
    for (const key of keys) {
      const old = f.get(key);
      if (!old) continue;
      this.#bytes -= sizeOf(key, old);
      f.delete(key);
    }
    if (f.size === 0) this.#folders.delete(id);
  }

  /** Writes the disk tier's waiting entries and closes it. */
  close(): void {
    this.disk?.close();
  }

  set(user: string, folder: string, key: string, item: CachedItem, data: Buffer): void {
    if (data.length > this.maxBytes / 100) return;
    this.disk?.set(user, folder, key, item, data);
    const f = this.#folder(user, folder, true)!;
    this.#remember(f, key, { ...f.get(key), [item]: data });
  }

  /**
   * Keeps an item made in the background (fillFetchCache) in the disk tier only: memory holds
   * what sessions fetched, and a folder filled in the background must not push it out. Without
   * a disk tier, nothing is kept.
   */
  store(user: string, folder: string, key: string, item: CachedItem, data: Buffer): void {
    if (data.length > this.maxBytes / 100) return;
    this.disk?.set(user, folder, key, item, data);
  }

  /** Keeps `e` in `f` (the most recently used folder), evicting the least recently used over the bound. */
  #remember(f: FolderEntries, key: string, e: CachedEntry): void {
    const old = f.get(key);
    if (old) {
      this.#bytes -= sizeOf(key, old);
      f.delete(key);
    }
    f.set(key, e);
    this.#bytes += sizeOf(key, e);
    if (this.#bytes <= this.maxBytes) return;
    // a tenth at once, with one walk from the oldest: evicting one entry per insertion would
    // walk again over every slot already deleted at the front of a Map each time
    const target = this.maxBytes * 0.9;
    for (const [id, entries] of this.#folders) {
      for (const [k, v] of entries) {
        if (this.#bytes <= target) break;
        entries.delete(k);
        this.#bytes -= sizeOf(k, v);
      }
      // (the folder being filled stays, emptied or not: its caller goes on adding to it)
      if (entries.size === 0 && entries !== f) this.#folders.delete(id);
      if (this.#bytes <= target) return;
    }
  }
}
