/**
 * @module segment-messages
 * The messages of the files backend that live as records in segments (segment-log.ts): where
 * each one is, which segment is appended to, what left (done logs), and when a segment goes.
 *
 * Who appends: a caching owner (the server's delivering instance; an owner that does not
 * cache gives every message its own file), and acceptor processes (`[smtp] processes`), each
 * to segments of its own (segment-writers.ts): an acceptor keeps no index, removes nothing and
 * seals a segment when it stops appending. The owner follows their segments (refresh(): on an
 * acceptor's notice, and at each listing as the fallback: segment-follower.ts). Every instance
 * reads segments. The instance that changes committed messages (a caching one) loads the index
 * once and keeps it up to date itself; any other instance looks again for each call (another
 * process may have delivered or moved a record since), cheaply: a segment is rescanned only
 * when it has grown.
 *
 * A record leaves its segment when its message is delivered (a line in the done log) or when
 * its envelopes change (FsQueueStore writes msg/<id> first, then marks the record done; at
 * recovery a msg/<id> file wins over a record of the same id: the done line was lost). A
 * segment whose records are all done, and that is no longer appended to, is removed.
 * Standards: POSIX fdatasync(2) (group commit, segment-log.ts), fsync(2) of seg/ before the
 *   first record of a new segment is acknowledged.
 * Security: ids read from done logs and records are checked against the queue-id alphabet.
 * Limitations: done logs are not synced (a power failure can bring back a delivered message:
 *   a duplicate, never a loss). One delivering instance per spool (the lock's owner). The owner
 *   may see an acceptor's record between its write and its fdatasync: if that sync fails (EIO),
 *   the client is told to retry and the message may still be delivered (a duplicate).
 */
import { readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isQueueId, MailError, replies, type MessageId } from '../core/index.js';
import type { DirSyncer } from '../util/index.js';
import type { MessageCache } from './message-cache.js';
import { DoneLogs } from './done-logs.js';
import { SegmentFollower, segPattern } from './segment-follower.js';
import { SegmentWriter, readDoneLog, readRecordBody, readRecordTrailer, recordHeader } from './segment-log.js';
import { scanRecords, type ScannedRec, type SegRef, type SegState, type SegmentMessagesOptions, type SegmentRecovery } from './segment-records.js';
import { parseEnvelopeFile, type EnvelopeFile } from './spool-format.js';
import type { SpoolPaths } from './spool-layout.js';
import { OpenSegments, foreignSegment, newSegmentId, sealSegment, sealedPath, segmentOpen } from './segment-writers.js';
import { errorCode } from './storage-error.js';

export type { SegRef, SegState, SegmentMessagesOptions, SegmentRecovery } from './segment-records.js';

export class SegmentMessages {
  readonly appends: boolean;
  readonly #keepsIndex: boolean;
  readonly #acceptor: boolean;
  readonly #pid: number;
  /** (the owner) where its last scan of each segment ended, what it removed of other processes', its refresh */
  readonly #follower: SegmentFollower;
  /** (an acceptor) where its latest records went, until its notices take them */
  readonly #placed = new Map<MessageId, { ref: SegRef; body: readonly Buffer[] }>();
  readonly #paths: SpoolPaths;
  readonly #syncer: DirSyncer;
  readonly #cache: MessageCache;
  readonly #newId: () => string;
  readonly #segmentLimit: number;
  /** loaded at recovery, else at first use (readers reload for each call) */
  #seg: SegState | undefined;
  #writer: SegmentWriter | undefined;
  #writerSeg = '';
  /** resolves once the active segment's directory entry is durable */
  #writerReady: Promise<void> = Promise.resolve();
  /** what a reader last scanned of each segment (a segment only grows while its writer runs) */
  readonly #scans = new Map<string, { size: number; recs: ScannedRec[] }>();
  /** done logs opened for appending, by segment */
  readonly #doneLogs: DoneLogs;
  /** (the owner) whether other processes' segments are still open: looked at once a second after each delivery at most */
  readonly #open: OpenSegments;
  #closed = false;

  constructor(paths: SpoolPaths, syncer: DirSyncer, cache: MessageCache, opts: SegmentMessagesOptions) {
    this.#paths = paths;
    this.#doneLogs = new DoneLogs(paths);
    // a segment taken as open after a delivery is looked at again a moment later
    this.#open = new OpenSegments(paths, opts.pid ?? process.pid, (segId) => {
      if (!this.#closed) this.#removeIfFinished(segId).catch(() => undefined);
    });
    this.#follower = new SegmentFollower(paths, opts.pid ?? process.pid, {
      state: () => this.state(),
      writerSeg: () => this.#writerSeg,
      flushDone: (segId) => this.#doneLogs.flush(segId),
      removeIfFinished: (segId) => this.#removeIfFinished(segId),
    });
    this.#syncer = syncer;
    this.#cache = cache;
    this.appends = opts.appends;
    this.#keepsIndex = opts.keepsIndex;
    this.#acceptor = opts.acceptor === true;
    this.#pid = opts.pid ?? process.pid;
    this.#segmentLimit = opts.segmentLimit;
    this.#newId = opts.newId;
  }

  /**
   * Appends a small message as a record to this instance's segment and resolves once it is
   * durable. A record whose sync failed is marked done at once (its client is told to retry;
   * the record must not come back as a second copy).
   */
  async append(id: MessageId, body: readonly Buffer[], bodyLength: number, trailer: Buffer): Promise<void> {
    if (this.#closed) throw new MailError(replies.localError(), 'MAIL_ERR_STORE_CLOSED');
    // an acceptor keeps no index (nor a count of live records): the owner learns of the record
    // by its notice or a refresh; no throwaway maps per message either (session 17)
    const seg = this.#acceptor ? undefined : await this.state();
    const { writer, segId } = await this.#activeWriter();
    let offset: number;
    try {
      offset = writer.append([recordHeader(body, bodyLength, trailer), ...body, trailer]);
    } catch (err) {
      // (disk full, I/O error) the next commit starts a new segment; an empty one is removed
      if (this.#writer === writer) this.#retireWriter();
      throw err;
    }
    // counted live from the write on, so the segment is not removed while this record syncs
    seg?.live.set(segId, (seg.live.get(segId) ?? 0) + 1);
    try {
      await writer.sync();
    } catch (err) {
      seg?.live.set(segId, (seg.live.get(segId) ?? 1) - 1);
      this.#doneLogs.appendNow(segId, id);
      // after a failed fsync the file's state is unknown: the next commit starts a new segment
      if (this.#writer === writer) this.#retireWriter();
      throw err;
    }
    seg?.index.set(id, { seg: segId, offset, bodyLength, trailerLength: trailer.length });
    if (this.#acceptor) {
      // bounded: a commit whose notice never asks (none is lost: the owner's scans find it)
      if (this.#placed.size >= 1_000) this.#placed.clear();
      this.#placed.set(id, { ref: { seg: segId, offset, bodyLength, trailerLength: trailer.length }, body });
    }
  }

  /**
   * (An acceptor) where the record of `id` went and its body, once, for its notice to the owner
   * (which then delivers it without reading the segment): the body's pieces as they were
   * appended, written into the notice as they are (no copy of the body: session 17).
   */
  takePlace(id: MessageId): { ref: SegRef; body: readonly Buffer[] } | undefined {
    const p = this.#placed.get(id);
    this.#placed.delete(id);
    return p && { ref: p.ref, body: p.body };
  }

  /**
   * (The owner) an acceptor's notice of a record: taken into the index unless a scan has been
   * past it (it may be delivered already: never twice) or it is known; false when not taken.
   */
  async adopt(id: MessageId, ref: SegRef): Promise<boolean> {
    return this.#keepsIndex && this.#follower.adopt(id, ref);
  }

  async #activeWriter(): Promise<{ writer: SegmentWriter; segId: string }> {
    let writer = this.#writer;
    let segId = this.#writerSeg;
    if (!writer || writer.size >= this.#segmentLimit) {
      if (writer) this.#retireWriter();
      segId = newSegmentId(this.#newId, this.#pid);
      writer = SegmentWriter.create(this.#paths.segment(segId));
      this.#writer = writer;
      this.#writerSeg = segId;
      this.#seg?.live.set(segId, 0);
      // the segment's directory entry is durable before any record in it is acknowledged
      this.#writerReady = this.#syncer.sync(this.#paths.seg);
    }
    const ready = this.#writerReady;
    try {
      await ready;
    } catch (err) {
      if (this.#writer === writer) this.#retireWriter();
      throw err;
    }
    return { writer, segId };
  }

  /** Stops appending to the active segment; removes it if nothing in it is queued. */
  #retireWriter(): void {
    const writer = this.#writer;
    const segId = this.#writerSeg;
    if (!writer) return;
    this.#writer = undefined;
    this.#writerSeg = '';
    void writer.close().then(() => {
      if (this.#acceptor) return sealSegment(this.#paths, segId);
      if ((this.#seg?.live.get(segId) ?? 0) === 0) return this.#removeSegment(segId);
    }).catch(() => undefined);
  }

  /**
   * Removes a segment with no live record once nobody appends to it any more (segment-writers.ts);
   * another process's segment only when everything in it has been seen here. Not `fresh` (after
   * a delivery): a segment found open a moment ago is looked at again after that moment.
   */
  async #removeIfFinished(segId: string, fresh = true): Promise<void> {
    if ((this.#seg?.live.get(segId) ?? 0) > 0 || segId === this.#writerSeg || this.#acceptor) return;
    if (await this.#open.open(segId, fresh)) return;
    if (foreignSegment(segId, this.#pid)) {
      const size = await stat(this.#paths.segment(segId)).then((st) => st.size, () => undefined);
      if (size !== undefined && !(await this.#follower.seenAll(segId, size))) return; // not all of it seen yet
    }
    // looked again after the waits above: a notice or a refresh may have taken records of it in
    // meanwhile (and moved its end up to the size just read); removing it then lost them (issue 19)
    if ((this.#seg?.live.get(segId) ?? 0) > 0 || segId === this.#writerSeg) return;
    await this.#removeSegment(segId);
  }

  async #removeSegment(segId: string): Promise<void> {
    this.#seg?.live.delete(segId);
    this.#open.forget(segId);
    this.#scans.delete(segId);
    this.#doneLogs.close(segId);
    this.#follower.removed(segId);
    await unlink(this.#paths.segment(segId)).catch(() => undefined);
    await unlink(this.#paths.doneLog(segId)).catch(() => undefined);
    await unlink(sealedPath(this.#paths, segId)).catch(() => undefined);
  }

  /** A segment message left the queue (delivered, or moved to its own file). */
  async done(id: MessageId, ref: SegRef, seg: SegState): Promise<void> {
    // written with the other done marks of this turn; the index forgets it once the line is out
    await this.#doneLogs.append(ref.seg, id);
    seg.index.delete(id);
    const left = (seg.live.get(ref.seg) ?? 1) - 1;
    seg.live.set(ref.seg, left);
    if (left <= 0) await this.#removeIfFinished(ref.seg, false);
  }

  /**
   * (The owner) reads what other processes appended to their segments since the last look and
   * adds those records to the index; removes finished segments with nothing live. Calls that
   * come while one runs share the next one, which starts after them.
   */
  refresh(): Promise<void> {
    if (!this.#keepsIndex || this.#closed) return Promise.resolve();
    return this.#follower.refresh();
  }

  /** The segment record of `id`, if the message lives in a segment. */
  async find(id: MessageId, snapshot?: SegState): Promise<SegRef | undefined> {
    return (snapshot ?? (await this.state())).index.get(id);
  }

  /** The segment index: kept (see keepsIndex), or loaded again for this call. */
  async state(): Promise<SegState> {
    if (this.#keepsIndex) {
      this.#seg ??= (await this.#load(false)).state;
      return this.#seg;
    }
    this.#seg = (await this.#load(false)).state;
    return this.#seg;
  }

  /**
   * Recovery of the segments (open() as owner): marks records that moved to msg/ done, cuts a
   * damaged tail off (a copy goes to corrupt/), removes segments with nothing live and done
   * logs without a segment; warms the cache with the live records' envelopes. `hasFile`: whether
   * msg/<id> exists (a record moved out whose done line was lost), asked only of live records.
   */
  async recover(hasFile: (id: MessageId) => Promise<boolean>): Promise<SegmentRecovery> {
    const { state, report } = await this.#load(true, hasFile);
    this.#seg = state;
    return report;
  }

  /** Reads every segment: the live records (not in the done log, not moved to msg/). */
  async #load(repair: boolean, hasFile?: (id: MessageId) => Promise<boolean>): Promise<{ state: SegState; report: SegmentRecovery }> {
    const report: SegmentRecovery = { messages: 0, envelopes: 0, removed: [], corrupted: [] };
    const state: SegState = { index: new Map(), live: new Map() };
    const names = await readdir(this.#paths.seg);
    const segs = names.filter((n) => segPattern.test(n)).sort();
    // only recovery looks for records whose message also has a file (moved out, done line lost
    // in a crash), one live record at a time: listing msg/ costs a readdir of the whole queue,
    // too much for each reader's call (or before a restart serves) when 100,000 messages wait
    // there (issue 19); readers prefer a message's file instead
    const segSet = new Set(segs);
    for (const n of names) {
      if (n.endsWith('.done') && segSet.has(n.slice(0, -5))) continue;
      if (n.endsWith('.sealed') && segSet.has(n.slice(0, -7))) continue;
      if (segSet.has(n)) continue;
      if (repair) {
        await unlink(join(this.#paths.seg, n)).catch(() => undefined);
        report.removed.push(`seg/${n}`);
      }
    }
    for (const segId of segs) {
      if (segId === this.#writerSeg) continue; // our own, live in this.#seg
      // another process's segment it still appends to: read, never cut or removed (segment-writers.ts)
      const open = repair && (await segmentOpen(this.#paths, segId, this.#pid));
      this.#doneLogs.flush(segId);
      const done = new Set((await readDoneLog(this.#paths.doneLog(segId))).filter(isQueueId));
      const recs = await this.#records(segId, repair, report, !open);
      if (!recs) continue; // removed meanwhile: all done
      let live = 0;
      for (const { id, ref, envelopes, file } of recs) {
        if (done.has(id) || state.index.has(id)) continue;
        if (hasFile && (await hasFile(id))) {
          // moved to its own file; at recovery: the done line was lost in the crash
          if (repair) this.#doneLogs.appendNow(segId, id);
          continue;
        }
        state.index.set(id, ref);
        if (file) this.#cache.remember(id, { file, envFile: false, bodyLength: ref.bodyLength });
        report.messages++;
        report.envelopes += envelopes;
        live++;
      }
      state.live.set(segId, live);
      if (repair && live === 0 && !open) {
        await this.#removeSegment(segId);
        state.live.delete(segId);
      }
    }
    if (this.#writer && this.#seg) {
      // keep what this instance appended itself
      for (const [id, ref] of this.#seg.index) if (ref.seg === this.#writerSeg) state.index.set(id, ref);
      state.live.set(this.#writerSeg, this.#seg.live.get(this.#writerSeg) ?? 0);
    }
    return { state, report };
  }

  /**
   * The whole records of one segment. A reader rescans a segment only when it has grown since
   * its last look (undefined: the segment is gone). With `repair` (recovery) a damaged tail is
   * copied to corrupt/ and cut off (unless `cut` is false: a segment another process still
   * appends to ends in its record in progress), and the parsed envelopes come along.
   */
  async #records(segId: string, repair: boolean, report: SegmentRecovery, cut = repair): Promise<ScannedRec[] | undefined> {
    const path = this.#paths.segment(segId);
    let size: number | undefined;
    if (!repair) {
      try {
        size = (await stat(path)).size;
      } catch (err) {
        if (errorCode(err) === 'ENOENT') {
          this.#scans.delete(segId);
          return undefined;
        }
        throw err;
      }
      const cached = this.#scans.get(segId);
      if (cached?.size === size) return cached.recs;
    }
    const { recs, end } = await scanRecords(this.#paths, segId, repair && cut, repair, report);
    this.#follower.scanned(segId, end);
    if (size !== undefined) this.#scans.set(segId, { size, recs });
    return recs;
  }

  /** The envelope list of a record (CorruptItem when it does not belong to `id`). */
  async readTrailer(id: MessageId, ref: SegRef): Promise<EnvelopeFile> {
    const trailer = await readRecordTrailer(this.#paths.segment(ref.seg), ref);
    return parseEnvelopeFile(trailer.toString('utf8'), id);
  }

  /** The body of a record. */
  readBody(ref: SegRef): Promise<Buffer> {
    return readRecordBody(this.#paths.segment(ref.seg), ref);
  }

  /** Stops appending (the active segment goes if nothing in it is live) and closes done logs. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#open.close();
    const writer = this.#writer;
    const writerSeg = this.#writerSeg;
    this.#writer = undefined;
    this.#writerSeg = '';
    if (writer) {
      await writer.close();
      if (this.#acceptor) await sealSegment(this.#paths, writerSeg);
      else if ((this.#seg?.live.get(writerSeg) ?? 0) === 0) await this.#removeSegment(writerSeg);
    }
    this.#doneLogs.close();
  }
}
