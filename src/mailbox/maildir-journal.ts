/**
 * @module maildir-journal
 * What this process itself did to Maildir folders' new/ and cur/ (a message linked in, renamed
 * for its flags, moved to another folder, removed), with the stamp of new/ and cur/ (inode,
 * mtime and ctime to the nanosecond) just before and just after each change. A folder's state
 * (maildir-folder-state) takes these changes in instead of listing the folder again: when the
 * stamps chain (each change's "before" is the previous one's "after", the last "after" is what
 * new/ and cur/ show now), no one else changed the folder in between — up to the clock tick,
 * see dirStamp. The change itself is one synchronous system call between the two stamps, so
 * nothing else of this process runs in between. Only folders a reader keeps a state of
 * (watch(): maildir-folder-state lists them) get their stamps taken: a delivery into a mailbox
 * nobody has open makes no stat(2) for it (four per delivery before, issue 19); a reader that
 * starts later lists the folder first, and one whose folder was forgotten here sees the
 * folder's stamp differ from its own and lists it again.
 * Standards: none (the Dovecot maildir uidlist practice: a directory's mtime tells whether a
 *   listing is needed).
 * Security: records only names this process gave the file system.
 * Limitations: per process and per MaildirStore; the last `maxEntries` changes of a folder, of
 *   the last `maxDirs` folders changed, are kept (a reader further behind lists the folder),
 *   and the last `maxDirs` folders watched.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';

/** where a message's file is after a change; undefined: gone from the folder */
export interface JournalPlace {
  readonly sub: 'new' | 'cur';
  readonly name: string;
}

export interface JournalEntry {
  readonly seq: number;
  readonly key: string;
  readonly at: JournalPlace | undefined;
  /** dirStamp of the folder just before and just after the change */
  readonly before: string | undefined;
  readonly after: string | undefined;
}

const maxEntries = 1024;
/** folders whose changes are kept (the oldest are forgotten beyond) */
const maxDirs = 1000;

/**
 * new/ and cur/ of a folder as "inode:mtime:ctime" (nanoseconds) each; undefined when one is
 * missing. Equal stamps mean no entry was added, renamed or removed since, except within the
 * same clock tick (file systems keep mtime to a tick: 1–10 ms on Linux, a second or two on
 * older ones), which is why a reader trusts a stamp younger than `unsureMs` only for a while
 * (maildir-folder-state).
 */
export function dirStamp(dir: string): string | undefined {
  const parts: string[] = [];
  for (const sub of ['new', 'cur']) {
    const st = statSync(join(dir, sub), { throwIfNoEntry: false, bigint: true });
    if (!st) return undefined;
    parts.push(`${st.ino}:${st.mtimeNs}:${st.ctimeNs}`);
  }
  return parts.join('/');
}

/** The later modification time in a stamp, in ms since the epoch (0 for undefined). */
export function stampTime(stamp: string | undefined): number {
  if (stamp === undefined) return 0;
  let ms = 0;
  for (const part of stamp.split('/')) {
    const [, mtime, ctime] = part.split(':');
    ms = Math.max(ms, Number(BigInt(mtime) / 1_000_000n), Number(BigInt(ctime) / 1_000_000n));
  }
  return ms;
}

export class MaildirJournal {
  #seq = 0;
  /** per folder directory: its recent changes, and the last seq no longer kept */
  readonly #dirs = new Map<string, { dropped: number; entries: JournalEntry[] }>();
  /** the seq up to which a folder no longer in #dirs may have had changes */
  #forgotten = 0;
  /** folders a reader keeps a state of, the most recently watched last */
  readonly #watched = new Set<string>();

  /** The position after the last change recorded (of any folder). */
  get seq(): number {
    return this.#seq;
  }

  /**
   * A reader is about to list `dir` and keep its state: this store's changes to it are recorded
   * from now on (call it before taking `seq` and the folder's stamp).
   */
  watch(dir: string): void {
    this.#watched.delete(dir);
    this.#watched.add(dir);
    if (this.#watched.size > maxDirs) this.#watched.delete(this.#watched.keys().next().value as string);
  }

  /**
   * Runs `change` (one synchronous rename, link or unlink in the new/ or cur/ of `dirs`) between
   * stamps of those folders and records `places` (folder → key → where it now is) when it
   * returns; a change that throws changed nothing and is not recorded.
   */
  change<T>(dirs: readonly string[], change: () => T, places: (result: T) => readonly { dir: string; key: string; at: JournalPlace | undefined }[]): T {
    // no reader keeps a state of these folders: nothing to record
    if (!dirs.some((d) => this.#watched.has(d))) return change();
    const before = dirs.map(dirStamp);
    const result = change();
    const after = dirs.map(dirStamp);
    for (const p of places(result)) {
      const i = dirs.indexOf(p.dir);
      let log = this.#dirs.get(p.dir);
      if (!log) {
        this.#dirs.set(p.dir, (log = { dropped: this.#forgotten, entries: [] }));
        if (this.#dirs.size > maxDirs) {
          this.#dirs.delete(this.#dirs.keys().next().value as string);
          this.#forgotten = this.#seq;
        }
      }
      log.entries.push({ seq: ++this.#seq, key: p.key, at: p.at, before: before[i], after: after[i] });
      if (log.entries.length > maxEntries) log.dropped = log.entries.splice(0, maxEntries / 2).at(-1)!.seq;
    }
    return result;
  }

  /** The changes of `dir` after position `seq`, in order; undefined when some are no longer kept. */
  since(dir: string, seq: number): readonly JournalEntry[] | undefined {
    const log = this.#dirs.get(dir);
    if (!log) return seq < this.#forgotten ? undefined : [];
    if (log.dropped > seq) return undefined;
    const e = log.entries;
    let lo = 0;
    let hi = e.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (e[mid].seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    return e.slice(lo);
  }
}
