/**
 * @module maildir-size
 * The usage of a Maildir++ mailbox (INBOX and every `.Folder`) kept in its `maildirsize` file,
 * as Courier, maildrop and Dovecot keep it: a first line with the quota definition
 * ("<octets>S,<count>C", the parts that limit something), then lines "<octets> <count>", summed
 * by readers. A delivery or a removal appends one line with one O_APPEND write, so no
 * delivery reads the whole mailbox. The file is computed again from the file names (`S=`, else
 * the file's size) when it is missing, longer than 5120 octets, or unchanged for 15 minutes,
 * so mail other programs add or remove (they may not write the file) is counted again in time.
 * Standards: none (Maildir++ quotas, Courier's maildirquota documentation: the file's format, the
 *   5120-octet and 15-minute recalculation rules).
 * Security: the mailbox root was checked by the store (no links on the way); entries below it
 *   are read with lstat and withFileTypes, so a symbolic link is neither followed nor counted;
 *   the file is opened with O_NOFOLLOW and written 0600.
 * Limitations: an estimate, as in Maildir++: a change made while the file is computed again
 *   may be counted twice or not at all until the next recalculation; a line torn by a crash is
 *   ignored (and the file recomputed once it grows). Folders whose name begins with ".." (a
 *   folder being deleted) are not counted.
 */
import { closeSync, constants, lstatSync, openSync, writeSync } from 'node:fs';
import { lstat, readdir, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { QuotaLimit, QuotaUsage } from '../core/index.js';
import { atomicWriteFile, clearAfterTurn } from '../util/index.js';

export const MAILDIRSIZE = 'maildirsize';
/** Maildir++: a file past this size is computed again (it has collected many lines). */
const MAX_FILE = 5120;
/** Maildir++: a file unchanged this long is computed again. */
const MAX_AGE_MS = 15 * 60_000;

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** The stored size of a message file from its name (Maildir++ `,S=<octets>`), when it says. */
export function storedSizeOf(name: string): number | undefined {
  const m = /,S=(\d+)/.exec(name.split(':')[0]);
  return m ? Number(m[1]) : undefined;
}

/** The quota definition line: "<octets>S,<count>C" with the parts that limit something. */
function definition(limit: QuotaLimit | undefined): string {
  if (!limit) return '';
  const parts: string[] = [];
  if (limit.storage > 0) parts.push(`${limit.storage}S`);
  if (limit.messages > 0) parts.push(`${limit.messages}C`);
  return parts.join(',');
}

/** Sums the "<octets> <count>" lines after the definition; undefined when one is not such a line (torn). */
export function parseMaildirSize(text: string): QuotaUsage | undefined {
  const lines = text.split('\n');
  let storage = 0;
  let messages = 0;
  for (const line of lines.slice(1)) {
    if (line.trim() === '') continue;
    const m = /^\s*(-?\d{1,18})\s+(-?\d{1,12})\s*$/.exec(line);
    if (!m) return undefined;
    storage += Number(m[1]);
    messages += Number(m[2]);
  }
  return { storage: Math.max(0, storage), messages: Math.max(0, messages) };
}

export class MaildirSize {
  readonly #now: () => number;
  /**
   * Mailboxes whose file add() found missing in this turn of the event loop (emptied by a
   * setImmediate): a burst of deliveries into one mailbox, resumed together by its new/ fsync,
   * looks once (issue 19); recalculate() drops its mailbox from here once it has written the file
   */
  readonly #missing = new Set<string>();

  constructor(opts: { now?: () => number } = {}) {
    this.#now = opts.now ?? Date.now;
  }

  /** The usage of the mailbox at `root`: from the file, or counted again and written down. */
  async usage(root: string, limit?: QuotaLimit): Promise<QuotaUsage> {
    const path = join(root, MAILDIRSIZE);
    try {
      const st = await lstat(path);
      if (st.isFile() && st.size <= MAX_FILE && this.#now() - st.mtimeMs < MAX_AGE_MS) {
        const got = parseMaildirSize(await readFile(path, { encoding: 'utf8', flag: constants.O_RDONLY | constants.O_NOFOLLOW }));
        if (got) return got;
      }
    } catch (err) {
      if (errno(err) !== 'ENOENT') throw err;
    }
    return this.recalculate(root, limit);
  }

  /** Counts every message file of the mailbox and writes the file anew. */
  async recalculate(root: string, limit?: QuotaLimit): Promise<QuotaUsage> {
    let storage = 0;
    let messages = 0;
    const dirs = [root];
    for (const e of await readdir(root, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory() && e.name.startsWith('.') && !e.name.startsWith('..')) dirs.push(join(root, e.name));
    }
    for (const dir of dirs) {
      for (const sub of ['new', 'cur']) {
        let entries;
        try {
          entries = await readdir(join(dir, sub), { withFileTypes: true });
        } catch (err) {
          if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') continue;
          throw err;
        }
        for (const e of entries) {
          if (!e.isFile() || e.name.startsWith('.')) continue;
          let size = storedSizeOf(e.name);
          if (size === undefined) size = await stat(join(dir, sub, e.name)).then((s) => s.size, () => undefined);
          if (size === undefined) continue; // removed meanwhile
          storage += size;
          messages++;
        }
      }
    }
    const usage = { storage, messages };
    // the temporary file goes to tmp/, where Maildir readers expect strangers, not beside the folders
    await atomicWriteFile(join(root, MAILDIRSIZE), `${definition(limit)}\n${storage} ${messages}\n`, { tempDir: join(root, 'tmp') });
    // the file is there now: a delivery later in this turn appends to it
    this.#missing.delete(root);
    return usage;
  }

  /**
   * Records a change (a delivery: +octets +1; a removal: -octets -1) when the file exists. The
   * open, the one O_APPEND write and the close are synchronous: three calls on a small file
   * cost the calling thread less than three thread-pool round trips (issue 19), and a
   * delivery's usual answer is one lstat that finds no file (an open that fails makes an Error
   * with its stack: several times the lstat's cost, issue 14), taken once per mailbox and turn
   * of the event loop (#missing). A file another program makes within that turn may miss that
   * turn's deliveries, as one made between a link and this look may: an estimate, which the
   * next recalculation puts right. Synchronous as a whole: no promise for the caller to wait on
   * (issue 14).
   */
  add(root: string, octets: number, count: number): void {
    if (this.#missing.has(root)) return;
    const path = join(root, MAILDIRSIZE);
    if (lstatSync(path, { throwIfNoEntry: false }) === undefined) {
      clearAfterTurn(this.#missing);
      this.#missing.add(root);
      return;
    }
    let fd;
    try {
      fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_NOFOLLOW);
    } catch (err) {
      // no file: nobody counts this mailbox yet (no quota), or it is computed at the next look
      if (errno(err) === 'ENOENT' || errno(err) === 'ELOOP') return;
      throw err;
    }
    try {
      writeSync(fd, `${octets} ${count}\n`);
    } finally {
      closeSync(fd);
    }
  }

  /** Drops the file (a whole folder went): the next look counts again. */
  async forget(root: string): Promise<void> {
    await unlink(join(root, MAILDIRSIZE)).catch((err: unknown) => {
      if (errno(err) !== 'ENOENT') throw err;
    });
  }
}
