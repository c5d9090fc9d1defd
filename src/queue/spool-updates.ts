/**
 * @module spool-updates
 * How the files spool (fs-queue-store.ts) changes a committed message's envelopes, under the
 * message's lock: a message in its own file gets an env override (`env/<id>.json`), or is
 * removed with its last envelope; a segment message whose envelopes change moves to its own
 * file first (written, synced, renamed), then its record is marked done.
 * Standards: RFC 5321 §6.1 (nothing accepted is lost: a moved message is durable before its
 *   record is marked done).
 * Security: the envelope's id is checked (core/envelope.ts) before it becomes a path.
 * Limitations: changes are serialized per message inside one process only. A deletion lost in
 *   a power failure causes a duplicate delivery, never a loss (deleting the last envelope does
 *   not fsync the directory).
 */
import { MailError, messageIdOfEnvelope, replies, type Envelope, type EnvelopeId, type MessageId } from '../core/index.js';
import type { DirSyncer, KeyedMutex } from '../util/index.js';
import type { MessageCache } from './message-cache.js';
import type { MessageFiles } from './message-files.js';
import { dropSchedule } from './schedule-checkpoint.js';
import type { SegRef, SegmentMessages, SegState } from './segment-messages.js';
import { envelopeFile, type EnvelopeFile } from './spool-format.js';
import type { SpoolParts, SpoolReads } from './spool-reads.js';
import { errorCode, storageError } from './storage-error.js';

export class SpoolUpdates {
  readonly #dir: string;
  readonly #syncer: DirSyncer;
  readonly #cache: MessageCache;
  readonly #files: MessageFiles;
  readonly #segments: SegmentMessages;
  readonly #locks: KeyedMutex;
  readonly #reads: SpoolReads;
  /** (an instance that does not cache) the saved schedule removed before its first change */
  #scheduleDropped: Promise<void> | undefined;

  constructor(parts: SpoolParts, reads: SpoolReads) {
    this.#dir = parts.dir;
    this.#syncer = parts.syncer;
    this.#cache = parts.cache;
    this.#files = parts.files;
    this.#segments = parts.segments;
    this.#locks = parts.locks;
    this.#reads = reads;
  }

  /** QueueStore.putEnvelope: replaces one envelope of a committed message. */
  async put(env: Envelope): Promise<void> {
    const msg = messageIdOfEnvelope(env.id);
    if (!msg || msg !== env.messageId) throw new MailError(replies.localError(), 'MAIL_ERR_BAD_QUEUE_ID');
    await this.#dropStaleSchedule();
    await this.#locks.run(msg, async () => {
      try {
        const seg = await this.#segments.state();
        const file = await this.#reads.read(msg, true, seg);
        const i = file?.envelopes.findIndex((e) => e.id === env.id) ?? -1;
        if (!file || i < 0) throw new MailError(replies.localError(), 'MAIL_ERR_NO_SUCH_ENVELOPE');
        const next = [...file.envelopes];
        next[i] = env;
        const ref = seg.index.get(msg);
        if (ref) await this.#promote(msg, ref, next, seg);
        else await this.#writeOverride(msg, next);
      } catch (err) {
        throw storageError(err);
      }
    });
  }

  /** QueueStore.deleteEnvelope: the message goes with its last envelope. */
  async delete(id: EnvelopeId): Promise<void> {
    const msg = messageIdOfEnvelope(id);
    if (!msg) return;
    await this.#dropStaleSchedule();
    await this.#locks.run(msg, async () => {
      try {
        const seg = await this.#segments.state();
        const file = await this.#reads.read(msg, true, seg);
        if (!file) return;
        const rest = file.envelopes.filter((e) => e.id !== id);
        if (rest.length === file.envelopes.length) return;
        const ref = seg.index.get(msg);
        if (ref && rest.length > 0) {
          await this.#promote(msg, ref, rest, seg);
        } else if (ref) {
          this.#cache.forget(msg);
          await this.#segments.done(msg, ref, seg);
          // a reader's index may list a record whose message was moved to its own file
          if (!this.#cache.remembers) await this.#files.remove(msg, undefined).catch((err: unknown) => {
            if (errorCode(err) !== 'ENOENT') throw err;
          });
        } else if (rest.length > 0) {
          await this.#writeOverride(msg, rest);
        } else {
          const k = this.#cache.get(msg);
          this.#cache.forget(msg);
          await this.#files.remove(msg, k?.envFile);
        }
      } catch (err) {
        throw storageError(err);
      }
    });
  }

  /**
   * Moves a segment message to its own file with new envelopes: its envelopes change (a retry,
   * a hold, some recipients done), so it leaves the segment, which can then be removed once its
   * other records are delivered. The file is durable before the record is marked done.
   */
  async #promote(id: MessageId, ref: SegRef, envelopes: Envelope[], seg: SegState): Promise<void> {
    const body = this.#cache.get(id)?.body ?? (await this.#segments.readBody(ref));
    const file = envelopeFile(id, envelopes);
    await this.#files.writeWhole(id, body, file);
    await this.#segments.done(id, ref, seg);
    this.#cache.remember(id, { file, envFile: false, bodyLength: body.length }, [body]);
  }

  /** Writes the env override; the cache follows it (or forgets, when the write failed). */
  async #writeOverride(id: MessageId, envelopes: readonly Envelope[]): Promise<void> {
    let file: EnvelopeFile;
    try {
      file = await this.#files.writeOverride(id, envelopes);
    } catch (err) {
      this.#cache.forget(id); // the env file's state is unknown now
      throw err;
    }
    const k = this.#cache.get(id);
    if (k) {
      k.file = file;
      k.envFile = true;
    }
  }

  /** A change made without the runner (the offline CLI: an instance that does not cache) makes a saved schedule stale. */
  #dropStaleSchedule(): Promise<void> {
    if (this.#cache.remembers) return Promise.resolve();
    return (this.#scheduleDropped ??= dropSchedule(this.#dir, this.#syncer));
  }
}
