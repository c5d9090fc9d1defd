/**
 * @module maildir-write
 * Writing a message's file into a Maildir's tmp/ for maildir-store.ts's deliver (which then
 * links or renames it into new/ or cur/) and stage (publish renames it into cur/): its line ends made LF on the way (maildir-line-ends), the file
 * created exclusive and 0600, its mtime the arrival time when one is given, fsynced (or, for an
 * IMAP APPEND, left for flushStaged once its UID log record is written: maildir-folders). A message
 * up to SMALL_MESSAGE is read whole and written with synchronous calls but for the fsync; a larger
 * one is streamed.
 * Standards: the Maildir spec (cr.yp.to/proto/maildir.html: a message is written whole in tmp/
 *   and synced before it is linked (or renamed) into new/).
 * Security: the file is created with O_EXCL and O_NOFOLLOW, mode 0600 (a link or an existing
 *   file at the temporary name refuses the write); the name and its directory are the caller's,
 *   checked there (maildir-safe-dir).
 * Limitations: a small message is whole in memory while written (at most SMALL_MESSAGE and one
 *   read piece). A failed write leaves the file for the caller to remove.
 */
import { closeSync, constants, fsync, futimesSync, openSync, writevSync } from 'node:fs';
import { dirname } from 'node:path';
import { open, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { pipeline } from 'node:stream/promises';
import { fileSink, fsyncDir } from '../util/index.js';
import { CrlfToLf, type CrlfToLfCounter } from './maildir-line-ends.js';

/**
 * Messages up to this size (as given, CRLF) are read whole and written with synchronous
 * open/writev/close and one asynchronous fsync; larger ones are streamed (issue 19).
 */
export const SMALL_MESSAGE = 128 * 1024;

/** A message written to tmp/ (maildir-store stage): its file there, the key it will have, its stored size. */
export interface Staged {
  readonly tmp: string;
  readonly key: string;
  readonly stored: number;
}

const CREATE_NOFOLLOW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

const fsyncFd = promisify(fsync);

/** The message's first pieces up to `limit` octets; `rest` is what is left when it is longer. */
export async function readUpTo(message: Readable, limit: number): Promise<{ chunks: Buffer[]; rest?: AsyncIterator<Buffer | string> }> {
  const it = message[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  const chunks: Buffer[] = [];
  let size = 0;
  while (size <= limit) {
    const c = await it.next();
    if (c.done) return { chunks };
    const b = typeof c.value === 'string' ? Buffer.from(c.value) : c.value;
    chunks.push(b);
    size += b.length;
  }
  return { chunks, rest: it };
}

/**
 * A staged message's file made durable where it is, in tmp/: its data and inode (fsync), then
 * tmp/'s entry for it. Run after the APPEND's UID log record was written (not yet flushed), the
 * file's fsync commits that record's metadata in the same journal commit on ext4, so the log's
 * own fdatasync after it finds little left to do (one commit per APPEND instead of two).
 */
export async function flushStaged(s: Staged): Promise<void> {
  const fd = openSync(s.tmp, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    await fsyncFd(fd);
  } finally {
    closeSync(fd);
  }
  await fsyncDir(dirname(s.tmp));
}

/**
 * A small message written to `tmp` with synchronous calls, fsynced on the thread pool (unless
 * `sync` is false: the caller flushes it, flushStaged). The
 * open(2) in tmp/, one writev(2) and close(2) of a few kilobytes in the page cache cost the
 * event loop less than their thread-pool round trips (futex wake-ups, a promise each); only
 * the fsync, which waits for the disk, leaves the thread. The same reason as maildir-safe-dir's
 * synchronous lstat.
 */
export async function writeSmall(tmp: string, chunks: readonly Buffer[], conv: CrlfToLfCounter, when: number | undefined, sync = true): Promise<void> {
  const out = chunks.map((c) => conv.convert(c));
  out.push(conv.finish());
  const fd = openSync(tmp, CREATE_NOFOLLOW, 0o600);
  try {
    writeAllSync(fd, out);
    if (when !== undefined) futimesSync(fd, when / 1000, when / 1000);
    if (sync) await fsyncFd(fd);
  } finally {
    closeSync(fd);
  }
}

/** Every buffer written with writev(2), looping over short writes. */
function writeAllSync(fd: number, bufs: readonly Buffer[]): void {
  let rest = bufs.filter((b) => b.length > 0);
  while (rest.length > 0) {
    let n = writevSync(fd, rest);
    const left: Buffer[] = [];
    for (const b of rest) {
      if (n >= b.length) n -= b.length;
      else {
        left.push(n > 0 ? b.subarray(n) : b);
        n = 0;
      }
    }
    rest = left;
  }
}

/** A large message streamed to `tmp`: the pieces read so far, then the rest of the source (fsynced unless `sync` is false, as writeSmall). */
export async function writeStreamed(
  tmp: string, head: readonly Buffer[], rest: AsyncIterator<Buffer | string>, conv: CrlfToLfCounter, when: number | undefined, sync = true,
): Promise<void> {
  let fh: FileHandle;
  try {
    fh = await open(tmp, CREATE_NOFOLLOW, 0o600);
  } catch (err) {
    await rest.return?.(); // the source is not left paused
    throw err;
  }
  try {
    const src = Readable.from(
      (async function* () {
        try {
          yield* head;
          for (let c = await rest.next(); !c.done; c = await rest.next()) yield c.value;
        } finally {
          await rest.return?.();
        }
      })(),
      { objectMode: false },
    );
    await pipeline(src, new CrlfToLf(conv), fileSink(fh));
    if (when !== undefined) await fh.utimes(when / 1000, when / 1000);
    if (sync) await fh.sync();
  } finally {
    await fh.close();
  }
}
