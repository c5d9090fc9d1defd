/**
 * @module done-logs
 * The done logs of the segments one instance writes to (`seg/<segid>.done`, segment-log.ts):
 * one id per line, appended, not synced, each file kept open until its segment goes.
 * Standards: POSIX write(2) with O_APPEND (an acceptor and the owner may both append a line).
 * Security: files are made 0600; ids were checked by the caller.
 * Limitations: not synced (segment-log.ts says why a lost line is a duplicate, never a loss).
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import type { SpoolPaths } from './spool-layout.js';

export class DoneLogs {
  readonly #paths: SpoolPaths;
  readonly #fds = new Map<string, number>();

  constructor(paths: SpoolPaths) {
    this.#paths = paths;
  }

  /** Records that `id` left segment `segId`. */
  append(segId: string, id: string): void {
    let fd = this.#fds.get(segId);
    if (fd === undefined) {
      fd = openSync(this.#paths.doneLog(segId), 'a', 0o600);
      this.#fds.set(segId, fd);
    }
    const line = Buffer.from(`${id}\n`, 'latin1');
    const n = writeSync(fd, line);
    if (n !== line.length) throw new Error(`${segId}.done: short write`);
  }

  /** Closes the log of `segId` (its segment goes), or every log. */
  close(segId?: string): void {
    for (const [seg, fd] of this.#fds) {
      if (segId !== undefined && seg !== segId) continue;
      this.#fds.delete(seg);
      try {
        closeSync(fd);
      } catch {
        // gone already
      }
    }
  }
}
