/**
 * @module uid-log
 * Where a Maildir folder's UID list (uid-index) is kept on disk: the whole list in
 * `correio-uidlist`, written now and then, and the changes since in `correio-uidlog`, appended
 * with one write and one fdatasync per change (an APPEND, a STORE, a sync that saw mail come
 * or go), so a change costs O(change) and one flush instead of rewriting the whole list with
 * two. The log is folded into a new list (compaction) once it outgrows the list.
 * Log format: a first line "L <generation>" (the list it goes on from: a log of another
 *   generation is left over from before a compaction and ignored), then per change the records
 *   "A <message line>" (a message's entry, set or replaced by key), "D <key>" (an entry gone),
 *   "E <modseq> <uid set>" (an expunge record added) and last the commit "C <uidnext>
 *   <highestmodseq> <expungefloor>". Records after the last commit (a write cut short by a
 *   crash) are not part of the list and are cut off by the next writer.
 * Standards: RFC 9051 §2.3.1.1 (no UID reused: a change is on disk before it is answered, and
 *   a log that cannot be read whole makes the folder take a new UIDVALIDITY, as a lost list does).
 * Security: a malformed list or log (a line not of this grammar before the last commit) is
 *   treated as a missing list, never trusted in part.
 * Limitations: callers hold the folder's lock (folder-lock) across read and write; what was read
 *   is kept per folder and checked against the list's generation and the log's length, so a
 *   step reads only what another process appended since. With keepLogOpen (the folder state's
 *   instance) the log's descriptor stays open between appends of a busy folder (up to 64
 *   folders, each closed after a second unused), so a removed folder's log may be held open
 *   that long.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fdatasync, fstatSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { open, readFile, unlink } from 'node:fs/promises';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { formatRanges } from '../protocol/imap/sequence-set.js';
import { atomicWriteFile } from '../util/index.js';
import { errno } from './maildir-name.js';
import { formatEntryLine, formatUidIndex, maxExpungeRecords, parseEntryLine, parseUidIndex, parseUidRanges, uidListName, type ExpungeRecord, type IndexEntry, type UidIndex } from './uid-index.js';

export const uidLogName = 'correio-uidlog';
/** a log is folded into the list once it is longer than the list and this */
const minCompactBytes = 256 * 1024;

/** A folder's list as read: the index, where its log's last commit ends, the list's size. */
export interface StoredIndex {
  readonly index: UidIndex;
  /** octets of the log up to its last commit (0: no log of this generation yet) */
  readonly logEnd: number;
  readonly listBytes: number;
}

const fdatasyncFd = promisify(fdatasync);

/**
 * A log tail up to this size is read with synchronous calls, as the list's first line is: a
 * few hundred octets in the page cache cost the event loop less than the thread pool's round
 * trips (open, stat, read, close), and every locked step of a folder reads both.
 */
const syncReadMax = 64 * 1024;

/** The generation named by a version 3 list's first line, read without reading the list. */
function listGeneration(path: string): string | undefined | null {
  let fd;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if (errno(err) === 'ENOENT') return null;
    throw err;
  }
  try {
    const buf = Buffer.alloc(128);
    const n = readSync(fd, buf, 0, 128, 0);
    return /^C3 [\d ]+ ([0-9a-f]{1,16})\n/.exec(buf.subarray(0, n).toString('latin1'))?.[1];
  } finally {
    closeSync(fd);
  }
}

/**
 * Applies the committed changes of log text `text` (starting at a record) to `ix`; the index and
 * the octets consumed up to the last commit, or undefined when a record before it is malformed.
 */
export function applyLog(ix: UidIndex, text: Buffer): { index: UidIndex; consumed: number } | undefined {
  let entries: Map<string, IndexEntry> | undefined;
  let expunged: ExpungeRecord[] | undefined;
  let head = { uidNext: ix.uidNext, highestModseq: ix.highestModseq, expungeFloor: ix.expungeFloor };
  let consumed = 0;
  let pos = 0;
  let pending: (() => void)[] = [];
  for (;;) {
    const nl = text.indexOf(10, pos);
    if (nl < 0) break; // a record cut short: not committed
    const line = text.toString('utf8', pos, nl);
    pos = nl + 1;
    const kind = line.slice(0, 2);
    const rest = line.slice(2);
    if (kind === 'A ') {
      const p = parseEntryLine(rest);
      if (!p) return undefined;
      pending.push(() => (entries ??= new Map(ix.entries)).set(p.key, p.entry));
    } else if (kind === 'D ') {
      if (rest === '' || rest.includes(' ')) return undefined;
      pending.push(() => (entries ??= new Map(ix.entries)).delete(rest));
    } else if (kind === 'E ') {
      const m = /^(\d{1,15}) (\S+)$/.exec(rest);
      const uids = m ? parseUidRanges(m[2]) : undefined;
      if (!m || !uids) return undefined;
      pending.push(() => (expunged ??= [...ix.expunged]).push({ modseq: Number(m[1]), uids }));
    } else if (kind === 'C ') {
      const m = /^(\d{1,10}) (\d{1,15}) (\d{1,15})$/.exec(rest);
      if (!m) return undefined;
      for (const f of pending) f();
      pending = [];
      head = { uidNext: Number(m[1]), highestModseq: Number(m[2]), expungeFloor: Number(m[3]) };
      if (expunged && expunged.length > maxExpungeRecords) expunged.splice(0, expunged.length - maxExpungeRecords);
      consumed = pos;
    } else return undefined;
  }
  if (consumed === 0) return { index: ix, consumed: 0 };
  return { index: { ...ix, ...head, entries: entries ?? ix.entries, expunged: expunged ?? ix.expunged }, consumed };
}

/**
 * The records taking `old` to `next` (the same UIDVALIDITY), ending in their commit; `keys`:
 * the only keys whose entries may differ (next's entries map was changed in place from old's).
 */
export function logRecords(old: UidIndex, next: UidIndex, keys?: Iterable<string>): string {
  const lines: string[] = [];
  if (keys) {
    for (const key of new Set(keys)) {
      const e = next.entries.get(key);
      lines.push(e ? `A ${formatEntryLine(key, e)}` : `D ${key}`);
    }
  } else {
    for (const [key, e] of next.entries) if (old.entries.get(key) !== e) lines.push(`A ${formatEntryLine(key, e)}`);
    for (const key of old.entries.keys()) if (!next.entries.has(key)) lines.push(`D ${key}`);
  }
  const had = new Set(old.expunged);
  for (const r of next.expunged) if (!had.has(r)) lines.push(`E ${r.modseq} ${formatRanges(r.uids)}`);
  lines.push(`C ${next.uidNext} ${next.highestModseq} ${next.expungeFloor}`, '');
  return lines.join('\n');
}

/** A log's first `headLength` octets and what it holds from `from` on (only that is read); undefined when missing. */
async function readLog(path: string, headLength: number, from: number): Promise<{ head: Buffer; tail: Buffer; size: number } | undefined> {
  let fd;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if (errno(err) === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const { size } = fstatSync(fd);
    const head = Buffer.alloc(Math.min(headLength, size));
    readSync(fd, head, 0, head.length, 0);
    const tail = Buffer.alloc(Math.max(0, size - from));
    if (tail.length > syncReadMax) {
      // a long tail (the first read of a folder in this process): off the event loop
      const fh = await open(path, 'r');
      try {
        await fh.read(tail, 0, tail.length, from);
      } finally {
        await fh.close();
      }
    } else if (tail.length > 0) readSync(fd, tail, 0, tail.length, from);
    return { head, tail, size };
  } finally {
    closeSync(fd);
  }
}

/** Logs kept open (keepLogOpen): the oldest is closed past this, and each once unused this long (ms). */
const maxOpenLogs = 64;
const openLogIdleMs = 1000;

/** The UID lists of folders as read last (per folder directory), to go on from. */
export class UidListFiles {
  readonly #read = new Map<string, StoredIndex>();
  /**
   * keepLogOpen: per folder, the log's descriptor as our last append to it left it, with the
   * StoredIndex that append made. The next append whose starting point is that very object (the
   * caller found the list and log as that step left them: maildir-folder-state's filesStamp,
   * inode and size) writes through it: no open, fstat and close per change.
   */
  readonly #open: Map<string, { fd: number; after: StoredIndex; used: number }> | undefined;
  #sweeper: NodeJS.Timeout | undefined;

  constructor(opts: { keepLogOpen?: boolean } = {}) {
    if (opts.keepLogOpen) this.#open = new Map();
  }

  /** Closes the log kept open for `dir`, if any. */
  #close(dir: string): void {
    const o = this.#open?.get(dir);
    if (!o) return;
    this.#open!.delete(dir);
    closeSync(o.fd);
  }

  /** Closes the logs not written for openLogIdleMs; runs again while some are left. */
  #sweep(): void {
    this.#sweeper = undefined;
    const now = Date.now();
    for (const [dir, o] of this.#open ?? []) if (now - o.used >= openLogIdleMs) this.#close(dir);
    if (this.#open && this.#open.size > 0) this.#sweeper = setTimeout(() => this.#sweep(), openLogIdleMs).unref();
  }

  /** The folder's list with its log applied; undefined when missing or malformed. */
  async read(dir: string): Promise<StoredIndex | undefined> {
    const listPath = join(dir, uidListName);
    const gen = listGeneration(listPath);
    const known = this.#read.get(dir);
    if (gen === null) {
      this.#read.delete(dir);
      return undefined;
    }
    let stored: StoredIndex;
    if (known && gen !== undefined && known.index.generation === gen) stored = known;
    else {
      this.#read.delete(dir);
      const text = await readFile(listPath).catch((err: unknown) => {
        if (errno(err) === 'ENOENT') return undefined;
        throw err;
      });
      const index = text && parseUidIndex(text.toString('utf8'));
      if (!text || !index) return undefined;
      stored = { index, logEnd: 0, listBytes: text.length };
    }
    // a version 2 list has no log yet (the first change writes the list as version 3)
    if (stored.index.generation === undefined) return stored;
    const header = Buffer.from(`L ${stored.index.generation}\n`);
    const from = Math.max(stored.logEnd, header.length);
    const log = await readLog(join(dir, uidLogName), header.length, from);
    const valid = log !== undefined && log.size >= from && log.head.equals(header);
    if (!valid && stored === known && known.logEnd > 0) {
      // the log went or shrank under what was read (it never does but with a new list): read again
      this.#read.delete(dir);
      return this.read(dir);
    }
    if (!valid) stored = { ...stored, logEnd: 0 };
    else {
      const r = applyLog(stored.index, log.tail);
      if (!r) {
        this.#read.delete(dir);
        return undefined;
      }
      stored = { ...stored, index: r.index, logEnd: from + r.consumed };
    }
    this.#read.set(dir, stored);
    return stored;
  }

  /**
   * Makes `next` the folder's list: appended to the log as the changes from what was read
   * (one write, one fdatasync), or written whole under a new generation (no list or log yet,
   * another UIDVALIDITY, or a log grown past the list: compaction). `keys`: as logRecords. The
   * index as the next read gives it back (the same object while no one else writes).
   * `flushFirst`: run once the record is written and before the log's own flush (an APPEND's
   * file fsynced: on ext4 that commit carries the record's metadata too, see maildir-write
   * flushStaged); the change is durable only once both are.
   */
  write(dir: string, was: StoredIndex | undefined, next: UidIndex, keys?: Iterable<string>, flushFirst?: () => Promise<void>): Promise<UidIndex> {
    // #write's promise with one reaction, not an async function around it (issue 14)
    return this.#write(dir, was, next, keys, flushFirst).catch((err: unknown) => {
      this.#read.delete(dir);
      this.#close(dir);
      throw err;
    });
  }

  async #write(dir: string, was: StoredIndex | undefined, next: UidIndex, keys?: Iterable<string>, flushFirst?: () => Promise<void>): Promise<UidIndex> {
    const records = was?.index.generation !== undefined && was.index.uidValidity === next.uidValidity ? logRecords(was.index, next, keys) : undefined;
    const bytes = records === undefined ? 0 : Buffer.byteLength(records);
    if (!was || records === undefined || was.logEnd + bytes > Math.max(minCompactBytes, was.listBytes)) {
      await flushFirst?.();
      this.#close(dir);
      const index = { ...next, generation: randomBytes(6).toString('hex') };
      const text = formatUidIndex(index);
      await atomicWriteFile(join(dir, uidListName), text);
      // the old log names the old generation: ignored from now on, removed here
      await unlink(join(dir, uidLogName)).catch(() => undefined);
      this.#read.set(dir, { index, logEnd: 0, listBytes: Buffer.byteLength(text) });
      return index;
    }
    const logPath = join(dir, uidLogName);
    const index = { ...next, generation: was.index.generation };
    if (was.logEnd === 0) {
      this.#close(dir);
      // a new log (or one of an older generation replaced): written whole, durable with its name
      await flushFirst?.();
      const text = `L ${was.index.generation}\n${records}`;
      await atomicWriteFile(logPath, text);
      this.#read.set(dir, { index, logEnd: Buffer.byteLength(text), listBytes: was.listBytes });
      return index;
    }
    // the record written with synchronous calls (page cache), only its flush on the thread pool
    const kept = this.#open?.get(dir);
    const reuse = kept !== undefined && kept.after === was;
    // taken out while in use (no sweep closes it under the write), put back after
    if (reuse) this.#open?.delete(dir);
    else this.#close(dir);
    const fd = reuse ? kept.fd : openSync(logPath, 'r+');
    let keep = false;
    try {
      // a record cut short by a crash after the last commit is cut off first (a log kept open
      // is as our last append left it: its size was checked by the caller's stamp)
      if (!reuse && fstatSync(fd).size !== was.logEnd) ftruncateSync(fd, was.logEnd);
      const data = Buffer.from(records, 'utf8');
      for (let done = 0; done < data.length; ) done += writeSync(fd, data, done, data.length - done, was.logEnd + done);
      await flushFirst?.();
      await fdatasyncFd(fd);
      keep = this.#open !== undefined;
    } finally {
      if (!keep) closeSync(fd);
    }
    const after = { index, logEnd: was.logEnd + bytes, listBytes: was.listBytes };
    this.#read.set(dir, after);
    if (this.#open) {
      this.#close(dir); // (none: another write of this folder cannot run meanwhile, under its lock)
      this.#open.set(dir, { fd, after, used: Date.now() });
      if (this.#open.size > maxOpenLogs) this.#close(this.#open.keys().next().value as string);
      if (this.#sweeper === undefined) this.#sweeper = setTimeout(() => this.#sweep(), openLogIdleMs).unref();
    }
    return index;
  }

  /**
   * What was read or written of the folder last, without a look at the files: for a caller that
   * knows they are as this process left them (their stamp unchanged, see maildir-folder-state).
   */
  last(dir: string): StoredIndex | undefined {
    return this.#read.get(dir);
  }

  /** Forgets what was read of a folder (its list was written by someone else: maildir-import). */
  forget(dir: string): void {
    this.#read.delete(dir);
    this.#close(dir);
  }
}
