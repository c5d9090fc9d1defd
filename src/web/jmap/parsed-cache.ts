/**
 * @module parsed-cache
 * Messages read and parsed for JMAP, kept across requests (least recently used first out, up
 * to a total of octets): a mail client asks for the same page again and again (the first page
 * of a folder after every change), and a message at a place (folder, UIDVALIDITY, UID) never
 * changes, so it is read from disk once while it stays in use.
 * Standards: RFC 9051 §2.3.1.1 (a UID names one message for its UIDVALIDITY).
 * Security: keyed by account and blob id: one account never gets another's message.
 * Limitations: per process; `maxOctets` (32 MiB of raw messages) bounds it, not the parsed
 *   objects' own size (about as large again).
 */
import type { ParsedEmail } from './email-parse.js';

export interface ParsedMessage {
  readonly raw: Buffer;
  readonly parsed: ParsedEmail;
}

export class ParsedCache {
  readonly #entries = new Map<string, ParsedMessage>();
  #octets = 0;

  constructor(readonly maxOctets = 32 * 1024 * 1024) {}

  get(account: string, blobId: string): ParsedMessage | undefined {
    const key = `${account}\0${blobId}`;
    const m = this.#entries.get(key);
    if (m) {
      // most recently used last
      this.#entries.delete(key);
      this.#entries.set(key, m);
    }
    return m;
  }

  set(account: string, blobId: string, m: ParsedMessage): void {
    if (m.raw.length > this.maxOctets / 8) return; // a big message would push out many small ones
    const key = `${account}\0${blobId}`;
    const old = this.#entries.get(key);
    if (old) this.#octets -= old.raw.length;
    this.#entries.delete(key);
    this.#entries.set(key, m);
    this.#octets += m.raw.length;
    for (const [k, v] of this.#entries) {
      if (this.#octets <= this.maxOctets) break;
      this.#entries.delete(k);
      this.#octets -= v.raw.length;
    }
  }
}
