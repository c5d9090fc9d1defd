/**
 * @module segment-log
 * Segments: append-only files that hold many small messages, one record each, made durable by a
 * shared fdatasync (group commit): the file format and its reader and writer. Which messages
 * go to segments and how an instance keeps track of them is segment-messages.ts.
 *
 *   seg/<segid>        records, appended by one store instance only, never rewritten
 *   seg/<segid>.done   ids of the records that left the queue, one per line (appended, not synced)
 *
 * A record is a 32-octet header, the body, then the trailer (the envelope list as JSON):
 *
 *   [0, 8)    "CRQREC03"
 *   [8, 16)   u64 body length B            [16, 20) u32 trailer length T
 *   [20, 24)  u32 CRC-32 of the body        [24, 28) u32 CRC-32 of the trailer
 *   [28, 32)  u32 CRC-32 of octets [0, 28)  (all big-endian)
 *
 * A writer keeps zeros written past its last record (up to `preallocation` octets, extended a
 * chunk at a time and cut off when it closes the segment): a record then overwrites blocks the
 * file system has allocated already, and the fdatasync that makes it durable writes data only,
 * with no journal commit for a new size or new blocks (on a journaled ext4 ~170 µs against ~370
 * for an append; docs/performance.md, session 19). The scan takes zeros after the last record
 * for the end of the records, not for damage.
 *
 * Durability: a commit writes its record at the segment's end and waits for an fdatasync that
 * started after the write; concurrent commits share one (a sync starts at the end of the event
 * loop's turn, so the commits of every session whose data came in that turn join it). A record is acknowledged only after that
 * sync, so every record before the last completed sync is whole on disk. After a crash the
 * records written but not yet synced may be torn (any of their blocks missing): the checksums
 * find the first bad record and the scan stops there; after a crash, what follows was never
 * acknowledged.
 * Standards: POSIX fdatasync(2) (covers the data and the file size).
 * Security: lengths are checked against the file size and checksums before they are used; ids
 *   in done logs are checked by the caller.
 * Limitations: a done log is not synced (a power failure can bring back a delivered message: a
 *   duplicate, never a loss, as with the one-file layout); a segment stays on disk until every
 *   record in it is done, with up to 1 MiB of zeros after its records while it is written to (and
 *   when its writer was killed, until it goes). A record damaged after it was acknowledged (a bad block, not a crash)
 *   also ends the scan: the records after it leave the queue with it, copied to corrupt/ by
 *   recovery for the operator, not deleted.
 */
import { closeSync, fdatasync, ftruncateSync, openSync, writeSync, writevSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { writeFileDurable } from '../util/index.js';
import { CorruptItem } from './spool-format.js';

const recordHeaderSize = 32;
const recordMagic = Buffer.from('CRQREC03', 'latin1');
/** how far past its last record a writer keeps the file written with zeros */
const preallocation = 1 << 20;
const zeros = Buffer.alloc(64 * 1024);
const zeroChunk: Buffer[] = new Array<Buffer>(preallocation / zeros.length).fill(zeros);

/** Whether `data` holds nothing but zero octets (a writer's preallocated tail, or nothing). */
function onlyZeros(data: Buffer): boolean {
  for (let at = 0; at < data.length; at += zeros.length) {
    const part = data.subarray(at, at + zeros.length);
    if (!part.equals(part.length === zeros.length ? zeros : zeros.subarray(0, part.length))) return false;
  }
  return true;
}

/** Where a record's parts are in its segment. */
export interface SegmentRecord {
  offset: number;
  bodyLength: number;
  trailerLength: number;
}

/** Where the record at `rec` ends (the next one begins). */
export function recordEnd(rec: SegmentRecord): number {
  return rec.offset + recordHeaderSize + rec.bodyLength + rec.trailerLength;
}

/** The header of a record holding `body` (its pieces) and `trailer`. */
export function recordHeader(body: readonly Buffer[], bodyLength: number, trailer: Buffer): Buffer {
  let crc = 0;
  for (const b of body) crc = crc32(b, crc);
  // every octet is written below: a slice of node's pool, not an allocation of its own per record
  const h = Buffer.allocUnsafe(recordHeaderSize);
  recordMagic.copy(h, 0);
  h.writeBigUInt64BE(BigInt(bodyLength), 8);
  h.writeUInt32BE(trailer.length, 16);
  h.writeUInt32BE(crc, 20);
  h.writeUInt32BE(crc32(trailer), 24);
  h.writeUInt32BE(crc32(h.subarray(0, 28)), 28);
  return h;
}

export interface ScannedRecord extends SegmentRecord {
  trailer: Buffer;
}

export interface SegmentScan {
  records: ScannedRecord[];
  /** where the whole records end */
  validEnd: number;
  fileSize: number;
  /** why the scan stopped before the end of the file (never set for a tail of zeros) */
  problem?: string;
}

/**
 * Reads a segment and checks every record; stops at the first one that does not check out, or
 * where only zeros follow (a writer's preallocated tail: not a problem).
 * `from` (a record boundary an earlier scan ended at) reads only what was appended since: the
 * delivering process follows the segments of acceptor processes this way (segment-writers.ts).
 */
export async function scanSegment(path: string, from = 0): Promise<SegmentScan> {
  const data = from === 0 ? await readFile(path) : await readFrom(path, from);
  const records: ScannedRecord[] = [];
  let off = 0;
  let problem: string | undefined;
  while (off < data.length) {
    if (data.length - off < recordHeaderSize) {
      if (!onlyZeros(data.subarray(off))) problem = 'a record header cut short';
      break;
    }
    const h = data.subarray(off, off + recordHeaderSize);
    if (!h.subarray(0, 8).equals(recordMagic) || h.readUInt32BE(28) !== crc32(h.subarray(0, 28))) {
      if (!onlyZeros(data.subarray(off))) problem = 'a damaged record header';
      break;
    }
    const bodyLength = Number(h.readBigUInt64BE(8));
    const trailerLength = h.readUInt32BE(16);
    const end = off + recordHeaderSize + bodyLength + trailerLength;
    if (end > data.length) {
      problem = 'a record cut short';
      break;
    }
    const body = data.subarray(off + recordHeaderSize, off + recordHeaderSize + bodyLength);
    const trailer = data.subarray(end - trailerLength, end);
    if (crc32(body) !== h.readUInt32BE(20) || crc32(trailer) !== h.readUInt32BE(24)) {
      problem = 'a record whose checksum does not match';
      break;
    }
    records.push({ offset: from + off, bodyLength, trailerLength, trailer: Buffer.from(trailer) });
    off = end;
  }
  return { records, validEnd: from + off, fileSize: from + data.length, ...(problem !== undefined && { problem }) };
}

/** What a file holds from `from` to its end. */
async function readFrom(path: string, from: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const buf = Buffer.alloc(Math.max(0, size - from));
    let got = 0;
    while (got < buf.length) {
      const { bytesRead } = await fh.read(buf, got, buf.length - got, from + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return buf.subarray(0, got);
  } finally {
    await fh.close();
  }
}

/**
 * Whether a record (whole or not) begins at `offset` of a segment: anything but zeros in the
 * header's place. A writer writes its records one after the other into the zeros ahead, so
 * zeros where the next record would begin mean none is there yet, without reading the rest.
 */
export async function recordBeginsAt(path: string, offset: number): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const h = Buffer.alloc(recordHeaderSize);
    const { bytesRead } = await fh.read(h, 0, h.length, offset);
    return !onlyZeros(h.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}

/**
 * Copies what follows a segment's whole records to `aside` (durably: for the operator) and cuts
 * the segment back to its whole records. Only at recovery, while nothing appends to it.
 */
export async function setAsideTail(path: string, scan: SegmentScan, aside: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    const rest = Buffer.alloc(scan.fileSize - scan.validEnd);
    await fh.read(rest, 0, rest.length, scan.validEnd);
    await writeFileDurable(aside, rest, { flag: 'w' });
  } finally {
    await fh.close();
  }
  const fd = openSync(path, 'r+');
  try {
    ftruncateSync(fd, scan.validEnd);
  } finally {
    closeSync(fd);
  }
}

/** Reads `length` octets at `position` of a segment; a short read means it changed (CorruptItem). */
async function readSegmentAt(path: string, length: number, position: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(length);
    let got = 0;
    while (got < length) {
      const { bytesRead } = await fh.read(buf, got, length - got, position + got);
      if (bytesRead === 0) throw new CorruptItem(`${path}: segment shorter than its record at ${position}`);
      got += bytesRead;
    }
    return buf;
  } finally {
    await fh.close();
  }
}

/** Reads a record's body (records hold small bodies only). */
export function readRecordBody(path: string, rec: SegmentRecord): Promise<Buffer> {
  return readSegmentAt(path, rec.bodyLength, rec.offset + recordHeaderSize);
}

/** Reads a record's trailer (its envelope list). */
export function readRecordTrailer(path: string, rec: SegmentRecord): Promise<Buffer> {
  return readSegmentAt(path, rec.trailerLength, rec.offset + recordHeaderSize + rec.bodyLength);
}

/** Reads a done log: the ids in it (a torn last line is left out by the caller's id check). */
export async function readDoneLog(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, 'latin1');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return text.split('\n');
}

interface Waiters {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * The segment one store instance appends to. append() writes on the calling thread (a write to
 * the page cache takes microseconds), into zeros written ahead of it (`preallocation`, the module
 * comment); sync() resolves once an fdatasync that started after the call has completed, so
 * commits arriving together share one.
 */
export class SegmentWriter {
  readonly path: string;
  #fd: number;
  #size = 0;
  /** the file's length: zeros are written from #size up to here */
  #allocated = 0;
  /** the callers of the fdatasync in flight, and of the one that starts after it */
  #current: Waiters | undefined;
  #next: Waiters | undefined;
  /** a sync is to start at the end of this turn of the event loop (setImmediate) */
  #starting = false;
  #syncs = 0;
  #closed = false;

  private constructor(path: string, fd: number) {
    this.path = path;
    this.#fd = fd;
  }

  /** Creates the segment file (never replacing one); the caller makes its directory entry durable. */
  static create(path: string): SegmentWriter {
    return new SegmentWriter(path, openSync(path, 'wx', 0o600));
  }

  get size(): number {
    return this.#size;
  }

  /** fdatasyncs started so far (how many commits share one is what group commit is for) */
  get syncs(): number {
    return this.#syncs;
  }

  /**
   * Writes one record's pieces at the end; returns its offset. On a failed or short write the
   * file is cut back to where the record began, so no half record stays in front of later ones.
   */
  append(pieces: Buffer[]): number {
    if (this.#closed) throw new Error(`${this.path}: segment closed`);
    const start = this.#size;
    let total = 0;
    for (const p of pieces) total += p.length;
    if (start + total > this.#allocated) this.#writeAhead(start + total);
    try {
      let done = writevSync(this.#fd, pieces, start);
      if (done < total) {
        const rest = Buffer.concat(pieces).subarray(done);
        let off = 0;
        while (off < rest.length) {
          const n = writeSync(this.#fd, rest, off, rest.length - off, start + done);
          off += n;
          done += n;
        }
      }
    } catch (err) {
      try {
        ftruncateSync(this.#fd, start);
        this.#allocated = start;
      } catch {
        this.#closed = true; // cannot vouch for the end of this file: no more appends
      }
      throw err;
    }
    this.#size = start + total;
    return start;
  }

  /**
   * Writes zeros from the end of what is written ahead past `end` (a chunk at a time; the next
   * fdatasync commits the new size once). When they cannot be written (no room for them: ENOSPC,
   * EDQUOT), the record is appended as it is, as before zeros were written ahead; an error that
   * keeps the record from being written too is the record's write's to report.
   */
  #writeAhead(end: number): void {
    try {
      while (end > this.#allocated) this.#allocated += writevSync(this.#fd, zeroChunk, this.#allocated);
    } catch {
      try {
        ftruncateSync(this.#fd, this.#size);
      } catch {
        // zeros left past the record: the scan reads them as the end
      }
      this.#allocated = this.#size;
    }
  }

  sync(): Promise<void> {
    let resolve!: () => void;
    let reject!: (err: unknown) => void;
    if (!this.#next) {
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.#next = { promise, resolve, reject };
    }
    const p = this.#next.promise;
    if (!this.#current) this.#startSoon();
    return p;
  }

  /**
   * Starts the next sync once this turn of the event loop has run its I/O callbacks (setImmediate),
   * not at once: the commits of the other sessions whose data came in the same turn join it
   * instead of waiting for one more sync after it.
   */
  #startSoon(): void {
    if (this.#starting) return;
    this.#starting = true;
    setImmediate(this.#start);
  }

  readonly #start = (): void => {
    this.#starting = false;
    if (!this.#current) this.#run();
  };

  #run(): void {
    const w = this.#next;
    if (!w) return;
    this.#next = undefined;
    this.#current = w;
    this.#syncs++;
    fdatasync(this.#fd, (err) => {
      this.#current = undefined;
      if (err) w.reject(err);
      else w.resolve();
      if (this.#next) this.#startSoon();
    });
  }

  /** Closes the file once no sync is pending (the records stay, the zeros after them go). */
  async close(): Promise<void> {
    this.#closed = true;
    for (let w = this.#next ?? this.#current; w; w = this.#next ?? this.#current) await w.promise.catch(() => undefined);
    try {
      // not synced: zeros left by a crash are read as the end, and go with the segment
      if (this.#allocated > this.#size) ftruncateSync(this.#fd, this.#size);
    } catch {
      // kept: the scan reads them as the end
    }
    try {
      closeSync(this.#fd);
    } catch {
      // already gone
    }
    this.#fd = -1;
  }
}
