/**
 * @module message-cache
 * What the files backend remembers of messages so that it need not read their files again,
 * as one of two strategies chosen at open (FsQueueStoreOptions.cache):
 * - BoundedMessageCache: for the one instance that changes committed messages (the server's
 *   delivering instance). It keeps each message's envelope list, whether an env override
 *   exists, the body's length and, for small messages committed or promoted here, the body:
 *   a delivery then reads no file at all. Bounded in entries and body octets; oldest first out.
 * - NoMessageCache: every other instance (CLI, readers). Another process may change a message at any time, so each read goes to disk.
 * Standards: none.
 * Security: holds message bodies in memory (bounded by `bodyBudget`).
 * Limitations: a change made to a remembered message by another process is not seen; that is
 *   why only the spool's single writer of committed messages may cache.
 */
import type { MessageId } from '../core/index.js';
import type { EnvelopeFile } from './spool-format.js';

/** What an instance knows about a message without reading its files. */
export interface KnownMessage {
  file: EnvelopeFile;
  /** env/<id>.json exists (the trailer's envelopes are overridden) */
  envFile: boolean;
  /** the body's length, when known */
  bodyLength?: number;
  /** the whole body, for a small message committed here */
  body?: Buffer;
}

export interface MessageCache {
  /** true for the strategy that remembers (the instance that changes committed messages) */
  readonly remembers: boolean;
  get(id: MessageId): KnownMessage | undefined;
  /** records what is now known of a message (body: its pieces, kept when small) */
  remember(id: MessageId, known: KnownMessage, body?: readonly Buffer[]): void;
  /** remembers only when that pushes nothing out (a walk's read, issue 19: a walk of a million messages turned the whole cache over, and each pushed-out entry was old-generation garbage) */
  fill(id: MessageId, known: KnownMessage): void;
  forget(id: MessageId): void;
}

/** The strategy of every instance that does not own the committed messages: remembers nothing. */
export class NoMessageCache implements MessageCache {
  readonly remembers = false;
  get(): KnownMessage | undefined {
    return undefined;
  }
  remember(): void {}
  fill(): void {}
  forget(): void {}
}

export interface BoundedMessageCacheOptions {
  /** messages remembered, at most (default 50,000) */
  maxMessages?: number;
  /** body octets kept in all, at most (default 64 MB) */
  bodyBudget?: number;
  /** a body longer than this is never kept (default 64 KB: what a draft holds in memory) */
  maxBody?: number;
}

/** The caching strategy of the spool's delivering instance. Map order is age: oldest first. */
export class BoundedMessageCache implements MessageCache {
  readonly remembers = true;
  readonly #known = new Map<MessageId, KnownMessage>();
  readonly #maxMessages: number;
  readonly #bodyBudget: number;
  readonly #maxBody: number;
  #bodyBytes = 0;

  constructor(opts: BoundedMessageCacheOptions = {}) {
    this.#maxMessages = opts.maxMessages ?? 50_000;
    this.#bodyBudget = opts.bodyBudget ?? 64 * 1024 * 1024;
    this.#maxBody = opts.maxBody ?? 64 * 1024;
  }

  get(id: MessageId): KnownMessage | undefined {
    return this.#known.get(id);
  }

  remember(id: MessageId, k: KnownMessage, body?: readonly Buffer[]): void {
    this.forget(id);
    const length = body?.reduce((n, b) => n + b.length, 0) ?? 0;
    if (body && length <= this.#maxBody && this.#bodyBytes + length <= this.#bodyBudget) {
      k.body = body.length === 1 ? body[0] : Buffer.concat(body, length);
      this.#bodyBytes += length;
    }
    this.#known.set(id, k);
    if (this.#known.size > this.#maxMessages) this.forget(this.#known.keys().next().value!);
  }

  fill(id: MessageId, k: KnownMessage): void {
    // one remembered meanwhile is as new as this read, or newer
    if (!this.#known.has(id) && this.#known.size < this.#maxMessages) this.#known.set(id, k);
  }

  forget(id: MessageId): void {
    const k = this.#known.get(id);
    if (!k) return;
    if (k.body) this.#bodyBytes -= k.body.length;
    this.#known.delete(id);
  }
}
