/**
 * @module done-logs
 * The done logs of the segments one instance writes to (`seg/<segid>.done`, segment-log.ts):
 * one id per line, appended, not synced, each file kept open until its segment goes.
 * The lines of one turn of the event loop go out together, one write(2) per segment: a
 * delivering process marks every delivered message done, and under load a turn ends several
 * deliveries at once. Each caller waits for the write of its own line (and sees its failure),
 * as when every line was its own write, so nothing that follows a done mark comes before it.
 * Standards: POSIX write(2) with O_APPEND (an acceptor and the owner may both append a line).
 * Security: files are made 0600; ids were checked by the caller.
 * Limitations: not synced (segment-log.ts says why a lost line is a duplicate, never a loss).
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import type { SpoolPaths } from './spool-layout.js';

interface Batch {
  ids: string[];
  written: Promise<void>;
  settle: (err?: Error) => void;
}

export class DoneLogs {
  readonly #paths: SpoolPaths;
  readonly #fds = new Map<string, number>();
  /** lines waiting for the end of this turn, by segment */
  readonly #waiting = new Map<string, Batch>();
  #flushing: NodeJS.Immediate | undefined;

  constructor(paths: SpoolPaths) {
    this.#paths = paths;
  }

  /** Records that `id` left segment `segId`; resolves once the line is written (at the end of this turn). */
  append(segId: string, id: string): Promise<void> {
    let b = this.#waiting.get(segId);
    if (!b) {
      let settle!: (err?: Error) => void;
      const written = new Promise<void>((resolve, reject) => (settle = (err) => (err === undefined ? resolve() : reject(err))));
      b = { ids: [], written, settle };
      this.#waiting.set(segId, b);
    }
    b.ids.push(id);
    if (this.#flushing === undefined) {
      this.#flushing = setImmediate(() => {
        this.#flushing = undefined;
        this.flush();
      });
    }
    return b.written;
  }

  /** Records that `id` left segment `segId` now (rare paths: a failed sync, a repair at recovery). */
  appendNow(segId: string, id: string): void {
    this.flush(segId);
    this.#write(segId, [id]);
  }

  /** Writes the lines waiting (of `segId`, or all): before a done log is read or closed. */
  flush(segId?: string): void {
    for (const [seg, b] of this.#waiting) {
      if (segId !== undefined && seg !== segId) continue;
      this.#waiting.delete(seg);
      try {
        this.#write(seg, b.ids);
        b.settle();
      } catch (err) {
        // fs calls throw Errors
        b.settle(err as Error);
      }
    }
  }

  #write(segId: string, ids: readonly string[]): void {
    let fd = this.#fds.get(segId);
    if (fd === undefined) {
      fd = openSync(this.#paths.doneLog(segId), 'a', 0o600);
      this.#fds.set(segId, fd);
    }
    const lines = Buffer.from(`${ids.join('\n')}\n`, 'latin1');
    const n = writeSync(fd, lines);
    if (n !== lines.length) throw new Error(`${segId}.done: short write`);
  }

  /** Closes the log of `segId` (its segment goes), or every log, after writing what waits for it. */
  close(segId?: string): void {
    this.flush(segId);
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
