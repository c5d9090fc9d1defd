/**
 * @module fetch-cache
 * The encoded ENVELOPE, BODYSTRUCTURE and BODY of messages already fetched, shared by the
 * server's sessions, so that a client listing a folder again (`FETCH 1:* (FLAGS ENVELOPE)`, the
 * usual resync) is answered without reading and parsing every message file again.
 * A message's content never changes under its key (a Maildir name or a stored body's row), so
 * an entry needs no invalidation; flags, UIDs and sizes are never cached.
 * Standards: RFC 9051 §7.5.2 (the items cached are computed from the content only).
 * Security: entries are keyed by user, folder and key: a session only gets what it asked for
 *   of its own user's messages.
 * Limitations: in memory, bounded by `maxBytes` (least recently used out); with a `disk` tier
 *   (fetch-cache-disk, `<data_dir>/imap-cache.sqlite` under `correio serve`) a miss in memory is
 *   looked up there and every entry is also written there, so it survives restarts.
 */
import type { FetchCacheDisk } from './fetch-cache-disk.js';

/** The FETCH items whose answer depends on the message's content only, and is small. */
export type CachedItem = 'ENVELOPE' | 'BODYSTRUCTURE' | 'BODY';

export class FetchCache {
  readonly #entries = new Map<string, Buffer>();
  #bytes = 0;

  constructor(
    private readonly maxBytes = 32 * 1024 * 1024,
    private readonly disk?: FetchCacheDisk,
  ) {}

  #id(user: string, folder: string, key: string, item: CachedItem): string {
    return `${user}\0${folder}\0${key}\0${item}`;
  }

  get(user: string, folder: string, key: string, item: CachedItem): Buffer | undefined {
    const id = this.#id(user, folder, key, item);
    const hit = this.#entries.get(id);
    if (hit) {
      // most recently used last
      this.#entries.delete(id);
      this.#entries.set(id, hit);
      return hit;
    }
    const stored = this.disk?.get(id, user, folder, key, item);
    if (stored) this.#remember(id, stored);
    return stored;
  }

  /** Forgets a message's entries (it was expunged or moved away). */
  drop(user: string, folder: string, key: string): void {
    for (const item of ['ENVELOPE', 'BODYSTRUCTURE', 'BODY'] as const) {
      const id = this.#id(user, folder, key, item);
      const old = this.#entries.get(id);
      if (old) this.#bytes -= old.length + id.length;
      this.#entries.delete(id);
    }
    this.disk?.drop(user, folder, key);
  }

  /** Writes the disk tier's waiting entries and closes it. */
  close(): void {
    this.disk?.close();
  }

  set(user: string, folder: string, key: string, item: CachedItem, data: Buffer): void {
    if (data.length > this.maxBytes / 100) return;
    const id = this.#id(user, folder, key, item);
    this.disk?.set(id, [user, folder, key, item, data]);
    this.#remember(id, data);
  }

  #remember(id: string, data: Buffer): void {
    const old = this.#entries.get(id);
    if (old) this.#bytes -= old.length + id.length;
    this.#entries.delete(id);
    this.#entries.set(id, data);
    this.#bytes += data.length + id.length;
    for (const [k, v] of this.#entries) {
      if (this.#bytes <= this.maxBytes) break;
      this.#entries.delete(k);
      this.#bytes -= v.length + k.length;
    }
  }
}
