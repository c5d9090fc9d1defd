/**
 * @module file-commit
 * The commit strategy "one file per message" (like Postfix's queue files): the rest of the
 * body, the trailer and the footer go to tmp/<id> in one write, one fdatasync makes all of it
 * durable (fdatasync covers the file size, which is what reading the data back needs: POSIX),
 * the rename into msg/ is the commit point, and a (shared) fsync of msg/ makes it durable. One
 * file created, one file sync, one rename per message.
 * Used by every instance but the server's delivering one, and by that one for a body over
 * 64 KB (segment-commit.ts).
 * Standards: RFC 5321 §6.1; POSIX fdatasync(2), rename(2), fsync(2) of the directory.
 * Security: the target name comes from a checked queue id (SpoolPaths.message).
 * Limitations: a directory fsync that fails after the rename removes the file again (the
 *   client is told to retry); a crash in that window may leave it (a duplicate, never a loss).
 */
import { renameDurable, writeAll, type DirSyncer } from '../util/index.js';
import type { CommitStrategy, CommittingDraft } from './fs-message-draft.js';
import type { MessageCache } from './message-cache.js';
import { makeFooter } from './spool-format.js';
import type { SpoolPaths } from './spool-layout.js';

export class FileCommit implements CommitStrategy {
  readonly fileAtCreate = true;
  readonly #paths: SpoolPaths;
  readonly #syncer: DirSyncer;
  readonly #cache: MessageCache;

  constructor(paths: SpoolPaths, syncer: DirSyncer, cache: MessageCache) {
    this.#paths = paths;
    this.#syncer = syncer;
    this.#cache = cache;
  }

  async commit(d: CommittingDraft): Promise<void> {
    const target = this.#paths.message(d.id);
    const fh = await d.openFile();
    // the file was only ever appended to (writeAll at its own position): this continues it
    await writeAll(fh, [...d.pending, d.trailer, makeFooter(d.size, d.trailer)]);
    await fh.datasync();
    // closing needs nothing from the rename: both run at once
    await Promise.all([d.closeFile().catch(() => undefined), renameDurable(d.tmpPath, target, { syncer: this.#syncer })]);
    this.#cache.remember(d.id, { file: d.file, envFile: false, bodyLength: d.size }, d.whole);
  }
}
