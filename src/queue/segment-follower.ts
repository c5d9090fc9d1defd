/**
 * @module segment-follower
 * How the owner (the delivering instance, which keeps the segment index of segment-messages.ts)
 * follows the segments other processes append to (acceptors, `[smtp] processes`;
 * segment-writers.ts): where its last read of each segment ended, so that a refresh reads on
 * from there and an acceptor's notice of a record is taken only past it (never twice); the
 * highest generation of their segments it removed, so that a late notice of one is refused,
 * however late; and the refresh itself, one at a time (calls that come while one runs share
 * the next one).
 * Standards: none (the record format is segment-log.ts).
 * Security: a notice's place is taken only when its numbers are whole, its segment id matches
 *   the segment alphabet and names another process, and that segment was not removed; a
 *   record whose trailer does not parse is left for the recovery to report.
 * Limitations: a live segment whose generation falls at or below the removed watermark (made in
 *   the same millisecond as a removed one, or after a clock step back) has its notices refused
 *   until a refresh has read it (a refresh each, never a loss); the index and removal are
 *   segment-messages.ts's, reached through FollowHost.
 */
import { readdir, stat } from 'node:fs/promises';
import { isQueueId, type MessageId } from '../core/index.js';
import { readDoneLog, recordBeginsAt, recordEnd, scanSegment } from './segment-log.js';
import type { SegRef, SegState } from './segment-records.js';
import { parseRecordTrailer } from './spool-format.js';
import type { SpoolPaths } from './spool-layout.js';
import { foreignSegment } from './segment-writers.js';
import { errorCode } from './storage-error.js';

/** A segment's file name in seg/ (beside it: its `.done` log and `.sealed` mark). */
export const segPattern = /^[0-9a-z]{1,64}$/;

/**
 * A segment's generation: its id without the writer's tag (uniqueId: creation time, then random),
 * ordered by length, then by text. The owner refuses a notice of a segment it does not follow
 * whose generation is at or below the highest it removed (adopt): exact whatever the order of
 * creation across processes or a clock step, since every removed segment is at or below that
 * watermark; a live segment wrongly below it costs only a refresh (its notice is refused).
 */
function generation(segId: string): string {
  const u = segId.lastIndexOf('u');
  return u < 0 ? segId : segId.slice(0, u);
}
function laterGeneration(a: string, b: string): boolean {
  return a.length !== b.length ? a.length > b.length : a > b;
}

/** What the follower asks of segment-messages.ts. */
export interface FollowHost {
  /** the owner's segment index */
  state(): Promise<SegState>;
  /** the segment this process appends to ('' when none) */
  writerSeg(): string;
  /** writes out this turn's done lines of the segment, before its done log is read */
  flushDone(segId: string): void;
  /** removes a segment with nothing live once nobody appends to it */
  removeIfFinished(segId: string): Promise<void>;
}

export class SegmentFollower {
  readonly #paths: SpoolPaths;
  readonly #pid: number;
  readonly #host: FollowHost;
  /** where the last scan of each segment ended: refresh() reads on from there */
  readonly #ends = new Map<string, number>();
  /** the highest generation of another process's segment removed: a notice of a segment not followed at or below it is refused */
  #removedUpTo = '';
  #refreshRun: Promise<void> | undefined;
  #refreshNext: Promise<void> | undefined;

  constructor(paths: SpoolPaths, pid: number, host: FollowHost) {
    this.#paths = paths;
    this.#pid = pid;
    this.#host = host;
  }

  /**
   * Whether every record of a finished segment `size` octets long has been scanned here: its last
   * scan ended at its end, or only the zeros its writer wrote ahead follow (segment-log.ts; read
   * again now, since the writer may have written records there after that scan).
   */
  async seenAll(segId: string, size: number): Promise<boolean> {
    const end = this.#ends.get(segId);
    if (end === size) return true;
    if (end === undefined || end > size) return false;
    const rest = await scanSegment(this.#paths.segment(segId), end).catch(() => undefined);
    return rest !== undefined && rest.records.length === 0 && rest.problem === undefined;
  }

  /** A scan of `segId` (a whole one, at a load) ended at `end`. */
  scanned(segId: string, end: number): void {
    this.#ends.set(segId, end);
  }

  /** `segId` was removed: its end is forgotten, and another process's is remembered as removed. */
  removed(segId: string): void {
    this.#ends.delete(segId);
    if (foreignSegment(segId, this.#pid)) {
      // all of it was seen and done: a notice read after the removal (the pipe is read apart from
      // the writer's exit) must not take a delivered record in again, its boundary forgotten
      // (refused by generation, however late: no list of removed segments to fall out of)
      if (laterGeneration(generation(segId), this.#removedUpTo)) this.#removedUpTo = generation(segId);
    }
  }

  /**
   * An acceptor's notice of a record: taken into the index unless a scan has been past it (it
   * may be delivered already: never twice) or it is known; false when not taken.
   */
  async adopt(id: MessageId, ref: SegRef): Promise<boolean> {
    const whole = [ref.offset, ref.bodyLength, ref.trailerLength].every((n) => Number.isSafeInteger(n) && n >= 0);
    if (!whole || !segPattern.test(ref.seg) || !foreignSegment(ref.seg, this.#pid)) return false;
    const state = await this.#host.state();
    // every look from here to the take is in one synchronous run, as the removal's own steps
    // are (removed()): a removal during the wait above is seen (issue 19: it let a delivered
    // record in again, its boundary forgotten)
    const followed = this.#ends.get(ref.seg);
    if (followed === undefined && !laterGeneration(generation(ref.seg), this.#removedUpTo)) return false;
    const end = followed ?? 0;
    if (ref.offset < end || state.index.has(id)) return false;
    state.index.set(id, ref);
    state.live.set(ref.seg, (state.live.get(ref.seg) ?? 0) + 1);
    // the next scan reads on after it when nothing lies between
    if (ref.offset === end) this.#ends.set(ref.seg, recordEnd(ref));
    return true;
  }

  /**
   * Reads what other processes appended to their segments since the last look and adds those
   * records to the index; removes finished segments with nothing live. Calls that come while
   * one runs share the next one, which starts after them.
   */
  refresh(): Promise<void> {
    if (this.#refreshNext) return this.#refreshNext;
    const next = (this.#refreshRun ?? Promise.resolve()).catch(() => undefined).then(() => {
      this.#refreshNext = undefined;
      const run = this.#follow();
      this.#refreshRun = run;
      return run.finally(() => {
        if (this.#refreshRun === run) this.#refreshRun = undefined;
      });
    });
    this.#refreshNext = next;
    return next;
  }

  async #follow(): Promise<void> {
    const state = await this.#host.state();
    for (const segId of (await readdir(this.#paths.seg)).filter((n) => segPattern.test(n)).sort()) {
      if (segId === this.#host.writerSeg() || !foreignSegment(segId, this.#pid)) continue; // this process's own: all known
      const from = this.#ends.get(segId) ?? 0;
      const size = await stat(this.#paths.segment(segId)).then((st) => st.size, () => undefined);
      if (size === undefined) continue;
      // past `from` only the zeros its writer wrote ahead: nothing new, and no need to read them all
      if (size > from && (await recordBeginsAt(this.#paths.segment(segId), from).catch(() => true))) {
        // removed since its stat (all seen and done meanwhile): the other segments are still read,
        // as a refresh that failed left them to the next listing (issue 19: the exit's rescan)
        const scan = await scanSegment(this.#paths.segment(segId), from).catch((err: unknown) => {
          if (errorCode(err) === 'ENOENT') return undefined;
          throw err;
        });
        if (!scan) continue;
        this.#host.flushDone(segId);
        const done = scan.records.length > 0 ? new Set((await readDoneLog(this.#paths.doneLog(segId))).filter(isQueueId)) : new Set();
        let added = 0;
        for (const rec of scan.records) {
          let id: MessageId;
          try {
            id = parseRecordTrailer(rec.trailer.toString('utf8')).messageId;
          } catch {
            continue; // left for the recovery to report
          }
          if (done.has(id) || state.index.has(id)) continue;
          state.index.set(id, { seg: segId, offset: rec.offset, bodyLength: rec.bodyLength, trailerLength: rec.trailerLength });
          added++;
        }
        this.#ends.set(segId, scan.validEnd);
        state.live.set(segId, (state.live.get(segId) ?? 0) + added);
      }
      if ((state.live.get(segId) ?? 0) === 0) await this.#host.removeIfFinished(segId);
    }
  }
}
