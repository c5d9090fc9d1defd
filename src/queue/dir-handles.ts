/**
 * @module dir-handles
 * Directory fsyncs through handles kept open, one per directory, for the spool's DirSyncer:
 * opening a directory for each fsync would cost an open and a close per commit.
 * Standards: POSIX fsync(2) on a directory (a rename or unlink in it becomes durable).
 * Security: paths come from SpoolPaths, never from input.
 * Limitations: where directories cannot be synced (EISDIR/EPERM/EINVAL) the sync is a no-op,
 *   as util's fsyncDir does.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { dirSyncUnsupported } from '../util/index.js';

export class DirHandles {
  readonly #handles = new Map<string, Promise<FileHandle | undefined>>();

  /** fsyncs `dir` through its kept handle (opened on first use). */
  async sync(dir: string): Promise<void> {
    let h = this.#handles.get(dir);
    if (!h) {
      h = open(dir, 'r').catch((err: unknown) => {
        this.#handles.delete(dir);
        if (dirSyncUnsupported(err)) return undefined;
        throw err;
      });
      this.#handles.set(dir, h);
    }
    const fh = await h;
    if (!fh) return;
    try {
      await fh.sync();
    } catch (err) {
      if (!dirSyncUnsupported(err)) throw err;
    }
  }

  /** Closes every kept handle. */
  async close(): Promise<void> {
    const handles = [...this.#handles.values()];
    this.#handles.clear();
    await Promise.all(handles.map((h) => h.then((fh) => fh?.close()).catch(() => undefined)));
  }
}
