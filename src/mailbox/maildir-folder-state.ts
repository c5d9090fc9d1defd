/**
 * @module maildir-folder-state
 * One Maildir folder's state brought up to date under its lock: the folder (new/ and cur/) is
 * listed, and the UID list (`correio-uidlist` and its change log, see uid-index and uid-log)
 * is reconciled with the listing, new messages getting the next UIDs, changed flags a new MODSEQ.
 * A snapshot is kept per folder with a stamp of new/, cur/ and the UID list, so an unchanged
 * folder is not listed again. What delivery put in new/ stays there (other Maildir readers see
 * it as new) until a flag is set or an IMAP4rev1 read-write SELECT takes its \Recent: then it is
 * moved to cur/ with ":2," as the Maildir spec asks of a reader that has seen a message.
 * Standards: the Maildir spec (new → cur with ":2,<flags>"); RFC 9051 §2.3.1.1 (UIDs,
 *   UIDVALIDITY never reused); RFC 7162 (MODSEQ).
 * Security: paths come from the store's checked directories (maildir-safe-dir); the lock file
 *   is folder-lock's.
 * Limitations: a sync lists the whole folder (O(messages) per sync); a stamp younger than two
 *   seconds is not trusted, so a busy folder is listed at each sync.
 */
import { statSync } from 'node:fs';
import { lstat, readdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { FolderSnapshot, MailboxMessage } from '../core/index.js';
import { atomicWriteFile } from '../util/index.js';
import { FolderLock } from './folder-lock.js';
import { errno } from './maildir-name.js';
import type { MaildirStore } from './maildir-store.js';
import { emptyIndex, newUidValidity, reconcile, uidListName, uidValidityName, type UidIndex } from './uid-index.js';
import { UidListFiles, uidLogName } from './uid-log.js';

/** What a locked step sees: the folder's directory, its index brought up to date, the listing. */
export interface FolderState {
  readonly dir: string;
  readonly index: UidIndex;
  readonly snapshot: FolderSnapshot;
  readonly listing: ReadonlyMap<string, MailboxMessage>;
}

/** What a locked step gives back: its result, and the index to write when it changed it. */
export type LockedStep<T> = (st: FolderState) => { result: T; index?: UidIndex } | Promise<{ result: T; index?: UidIndex }>;

export interface LockedOptions {
  /** runs first under the lock (an APPEND's flags and date on the file still in new/) */
  before?: (dir: string) => Promise<void>;
  /** keywords for keys that are new to the index */
  keywords?: ReadonlyMap<string, readonly string[]>;
  /**
   * move what delivery put in new/ to cur/ first: only for a session that takes the messages'
   * \Recent (an IMAP4rev1 read-write SELECT), as Dovecot does; indexers, JMAP views and
   * IMAP4rev2 sessions leave new mail in new/, where other Maildir readers look for it
   */
  takeNew?: boolean;
  /** runs once the lock is held, before anything is read */
  onStart?: () => void;
}

/** new/, cur/, the UID list and its log as inode, mtime and size; undefined when missing (the log may be) or changed in the last two seconds. */
function stampOf(dir: string): string | undefined {
  const parts: string[] = [];
  for (const p of [join(dir, 'new'), join(dir, 'cur'), join(dir, uidListName), join(dir, uidLogName)]) {
    const st = statSync(p, { throwIfNoEntry: false, bigint: true });
    if (!st && p.endsWith(uidLogName)) parts.push('-');
    else if (!st || Date.now() - Number(st.mtimeMs) < 2000) return undefined;
    else parts.push(`${st.ino}:${st.mtimeNs}:${st.size}`);
  }
  return parts.join('/');
}

export class MaildirFolderState {
  readonly #lock = new FolderLock();
  readonly #files = new UidListFiles();
  /** per folder directory: the last sync's snapshot and the stamp of what it was made from */
  readonly #synced = new Map<string, { stamp: string; snapshot: FolderSnapshot }>();
  /** per folder directory: a sync queued for the lock that has not begun reading yet */
  readonly #queued = new Map<string, Promise<FolderSnapshot>>();

  constructor(
    private readonly store: MaildirStore,
    private readonly now: () => number,
    /** runs first under the lock on every locked step (a crashed MULTIAPPEND is undone there) */
    private readonly recover?: (dir: string) => Promise<void>,
  ) {}

  /**
   * A folder whose new/, cur/ and UID list are as they were at its last sync (inode, mtime to
   * the nanosecond, size) has the same snapshot: it is given again without reading the
   * directory (a folder of 100,000 messages takes seconds to list). Stamps younger than two
   * seconds are not trusted (a change within the same clock tick may leave the mtime as it was).
   * Calls made while a sync waits for the folder's lock share that sync's answer.
   */
  async snapshot(user: string, f: string, dir: string): Promise<FolderSnapshot> {
    const before = this.#synced.get(dir);
    if (before !== undefined && before.stamp === stampOf(dir)) return before.snapshot;
    // a sync still waiting for the lock will read the folder after this call: its answer is as
    // fresh as one of our own (the sessions of a folder all look again after each change)
    const queued = this.#queued.get(dir);
    if (queued) return queued;
    const p = this.#sync(user, f, dir);
    this.#queued.set(dir, p);
    const done = (): void => {
      if (this.#queued.get(dir) === p) this.#queued.delete(dir);
    };
    p.then(done, done);
    return p;
  }

  async #sync(user: string, f: string, dir: string): Promise<FolderSnapshot> {
    const snapshot = await this.locked(user, f, dir, (st) => ({ result: st.snapshot }), {
      onStart: () => this.#queued.delete(dir),
    });
    const stamp = stampOf(dir);
    this.#synced.delete(dir);
    if (stamp !== undefined) {
      this.#synced.set(dir, { stamp, snapshot });
      if (this.#synced.size > 1000) this.#synced.delete(this.#synced.keys().next().value as string);
    }
    return snapshot;
  }

  /**
   * Runs `fn` under the folder lock on the folder's state brought up to date (new/ taken in,
   * the index reconciled with the listing), and writes the index when it changed.
   */
  async locked<T>(user: string, f: string, dir: string, fn: LockedStep<T>, opts: LockedOptions = {}): Promise<T> {
    return this.#lock.run(join(dir, `${uidListName}.lock`), async () => {
      opts.onStart?.();
      await this.recover?.(dir);
      if (opts.before) await opts.before(dir);
      if (opts.takeNew) await this.#takeNew(dir);
      const list = await this.store.list(user, f);
      const old = await this.#files.read(dir);
      const r = reconcile(old?.index ?? emptyIndex(await this.#nextUidValidity(user)), list, opts.keywords);
      const out = await fn({ dir, index: r.index, snapshot: r.snapshot, listing: new Map(list.map((m) => [m.key, m])) });
      const index = out.index ?? r.index;
      // appended to the list's log (uid-log), or the list written whole when there is none
      if (out.index || r.changed || old === undefined) await this.#files.write(dir, old, index);
      return out.result;
    });
  }

  /**
   * A UIDVALIDITY for a folder without a (valid) UID list: the time in seconds, and above every
   * one given before to this user's folders (`correio-uidvalidity` in the Maildir root), so a
   * folder deleted and made again within one second, or a list lost, never names its UIDs again
   * under the old value (RFC 9051 §2.3.1.1).
   */
  async #nextUidValidity(user: string): Promise<number> {
    const path = join(this.store.mailboxPath(user, ''), uidValidityName);
    const last = Number((await readFile(path, 'utf8').catch(() => '0')).trim());
    const next = newUidValidity(this.now(), Number.isSafeInteger(last) && last > 0 && last < 0xffffffff ? last : 0);
    await atomicWriteFile(path, `${next}\n`);
    return next;
  }

  /** Maildir spec: a reader that has seen a message in new/ moves it to cur/ with ":2,". */
  async #takeNew(dir: string): Promise<void> {
    let names: string[];
    try {
      names = await readdir(join(dir, 'new'));
    } catch (err) {
      if (errno(err) === 'ENOENT') return;
      throw err;
    }
    for (const name of names) {
      if (name.startsWith('.')) continue;
      const target = name.includes(':') ? name : `${name}:2,`;
      try {
        const st = await lstat(join(dir, 'new', name));
        if (!st.isFile()) continue;
        await rename(join(dir, 'new', name), join(dir, 'cur', target));
      } catch (err) {
        if (errno(err) !== 'ENOENT') throw err; // taken by another reader meanwhile
      }
    }
  }
}
