/**
 * @module segment-commit
 * The commit strategy of the server's delivering instance (a caching owner): a body that stayed
 * within 64 KB never touches tmp/; it is appended with its envelopes as one record to the active
 * segment and the commit waits for a shared fdatasync (group commit: N concurrent commits cost
 * about one sync, where one file per message costs N file syncs plus shared directory syncs).
 * A larger body goes to its own file (file-commit.ts). This is the accept benchmark's hot
 * path: no syscall or copy beyond the segment write and the shared sync.
 * Standards: RFC 5321 §6.1 (the record is durable before commit resolves); POSIX fdatasync(2).
 * Security: see segment-log.ts (checksummed records).
 * Limitations: one appending instance per spool (the lock's owner); see segment-messages.ts.
 */
import type { CommitStrategy, CommittingDraft } from './fs-message-draft.js';
import type { FileCommit } from './file-commit.js';
import type { MessageCache } from './message-cache.js';
import type { SegmentMessages } from './segment-messages.js';

export class SegmentCommit implements CommitStrategy {
  readonly fileAtCreate = false;
  readonly #segments: SegmentMessages;
  readonly #cache: MessageCache;
  readonly #large: FileCommit;

  constructor(segments: SegmentMessages, cache: MessageCache, large: FileCommit) {
    this.#segments = segments;
    this.#cache = cache;
    this.#large = large;
  }

  async commit(d: CommittingDraft): Promise<void> {
    if (!d.whole) return this.#large.commit(d);
    await this.#segments.append(d.id, d.whole, d.size, d.trailer);
    this.#cache.remember(d.id, { file: d.file, envFile: false, bodyLength: d.size }, d.whole);
  }
}
