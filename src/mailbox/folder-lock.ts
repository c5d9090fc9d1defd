/**
 * @module folder-lock
 * A lock on one Maildir folder's UID list, held across processes (a `correio serve` and a CLI,
 * or two servers on one data_dir): a lock file created with O_EXCL, plus a KeyedMutex so that
 * one process's own sessions queue without touching the file system.
 * The lock file is kept as a lease between one holder's steps: made at the first step, it stays
 * (its descriptor open) while the folder is busy and is removed once no step came for `lingerMs`,
 * after `maxLeaseMs` in all, or as soon as another process asks for it. A process that finds the
 * file held appends a line to it (once per lock file) and polls; the holder sees the file grown
 * (an fstat of its descriptor and a stat of its path at its next step) and hands it over: it removes the file and waits
 * `handOverMs` before it competes again. A run of APPENDs to one folder thus makes and removes
 * one lock file, not one each (four system calls, two of them directory changes, fewer per step).
 * Standards: none (the Dovecot dovecot-uidlist.lock practice).
 * Security: the lock file holds the owner's pid and host name; a lock whose owner is a dead
 *   process of this machine (kill -9 during a command, or within a lease) is taken over at once,
 *   and any lock older than `staleMs` (an owner on another machine sharing the Maildir, or a pid
 *   reused) is taken over then, so a crash never blocks a folder for good.
 * Limitations: waiting polls (every 10 ms, up to `waitMs`); another process waits up to
 *   `lingerMs` for an idle holder's lease; a holder slower than `staleMs` could lose its lock,
 *   and two waiters taking over one dead owner's lock at the same instant could both win (the
 *   UID list is then rewritten by two, the later write wins, and the next sync repairs what it
 *   lost: at worst a message gets a new UID).
 */
import { closeSync, constants, fstatSync, openSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { readFile, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { KeyedMutex, pidAlive } from '../util/index.js';

const host = hostname();

/**
 * Whether a lock file is free to take: its content names a process of this machine that is
 * gone, or says "free" (a lease given up by a holder who could no longer remove it: its folder
 * was renamed with the file in it).
 */
function ownerGone(content: string): boolean {
  if (/^free$/m.test(content)) return true;
  const m = /^(\d+) (\S+)(?:\n|$)/.exec(content);
  if (!m || m[2] !== host) return false; // another machine's, or the old pid-only form: age decides
  const pid = Number(m[1]);
  return pid !== process.pid && !pidAlive(pid);
}

/** A lock file this process holds between steps. */
interface Lease {
  readonly fd: number;
  /** its size as written by us: larger means another process asked for it */
  readonly size: number;
  /** when it was made and last used (ms) */
  readonly since: number;
  lastUsed: number;
}

export class FolderLock {
  readonly #mutex = new KeyedMutex();
  readonly #leases = new Map<string, Lease>();
  #sweeper: NodeJS.Timeout | undefined;

  constructor(
    private readonly staleMs = 30_000,
    private readonly waitMs = 10_000,
    private readonly lingerMs = 50,
    private readonly maxLeaseMs = 1_000,
    private readonly handOverMs = 30,
  ) {}

  /**
   * Runs `fn` holding the lock file `path`; `fn` is told whether the file was just made (not
   * kept from an earlier step of this process: another process may have held it meanwhile).
   */
  run<T>(path: string, fn: (fresh: boolean) => Promise<T>): Promise<T> {
    return this.#mutex.run(path, async () => {
      const held = this.#reuse(path);
      // asked for: the other process gets its turn before this one competes again
      if (held === 'asked') await sleep(this.handOverMs);
      if (held !== 'held') await this.#acquire(path);
      try {
        return await fn(held !== 'held');
      } finally {
        const lease = this.#leases.get(path);
        if (lease) lease.lastUsed = Date.now();
        if (this.#sweeper === undefined) this.#sweeper = setTimeout(() => this.#sweep(), this.lingerMs).unref();
      }
    });
  }

  /**
   * Whether this process still holds `path` from an earlier step ('held': no other process
   * asked, not too old); a lease that may not be kept is given up here ('asked': another
   * process asked for it).
   */
  #reuse(path: string): 'held' | 'asked' | 'none' {
    const lease = this.#leases.get(path);
    if (!lease) return 'none';
    let size = -1;
    try {
      const st = fstatSync(lease.fd);
      const at = statSync(path, { throwIfNoEntry: false });
      // the path must still name our file: not when it was taken over as stale (see
      // Limitations), or its folder removed, or renamed and another made under the old name
      if (at !== undefined && at.ino === st.ino && at.dev === st.dev) size = st.size;
    } catch {
      // closed under us: made again
    }
    if (size === lease.size && Date.now() - lease.since < this.maxLeaseMs) return 'held';
    this.#release(path, lease);
    return size > lease.size ? 'asked' : 'none';
  }

  /** Removes the lock file of `lease` (unless taken over meanwhile) and closes it. */
  #release(path: string, lease: Lease): void {
    this.#leases.delete(path);
    try {
      const st = fstatSync(lease.fd);
      const now = statSync(path, { throwIfNoEntry: false });
      // still ours: the same file (not one made by the next holder after a takeover)
      if (now !== undefined && now.ino === st.ino && now.dev === st.dev) unlinkSync(path);
      // linked elsewhere (its folder renamed): marked free for whoever finds it there
      else if (st.nlink > 0) writeSync(lease.fd, 'free\n', st.size);
    } catch {
      // gone already
    }
    try {
      closeSync(lease.fd);
    } catch {
      // closed already
    }
  }

  /** Removes the leases not used for lingerMs; runs again while some are left. */
  #sweep(): void {
    this.#sweeper = undefined;
    const now = Date.now();
    for (const [path, lease] of this.#leases) {
      // a step holds or waits for it: kept, looked at again later
      if (this.#mutex.busy(path)) continue;
      if (now - lease.lastUsed >= this.lingerMs) this.#release(path, lease);
    }
    if (this.#leases.size > 0) this.#sweeper = setTimeout(() => this.#sweep(), this.lingerMs).unref();
  }

  async #acquire(path: string): Promise<void> {
    const until = Date.now() + this.waitMs;
    const own = Buffer.from(`${process.pid} ${host}\n`);
    /** the lock file (dev:ino) we asked for already */
    let asked = '';
    for (;;) {
      // synchronous calls: a small file made in the page cache costs the event loop less than
      // three thread-pool round trips (the same reason as maildir-write's writeSmall)
      let fd: number | undefined;
      try {
        fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
        writeSync(fd, own);
        const t = Date.now();
        this.#leases.set(path, { fd, size: own.length, since: t, lastUsed: t });
        return;
      } catch (err) {
        if (fd !== undefined) {
          closeSync(fd);
          unlinkSync(path);
        }
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const st = await stat(path).catch(() => undefined);
      const dead = st !== undefined && ownerGone(await readFile(path, 'latin1').catch(() => ''));
      if (st && (dead || Date.now() - st.mtimeMs > this.staleMs)) {
        await unlink(path).catch(() => undefined);
        continue;
      }
      if (st && asked !== `${st.dev}:${st.ino}`) {
        asked = `${st.dev}:${st.ino}`;
        this.#ask(path);
      }
      if (Date.now() > until) throw new Error(`folder lock ${path} is held too long`);
      await sleep(10);
    }
  }

  /**
   * Asks the holder of `path` to hand it over: one line appended (the holder's lease sees the
   * file grown). A holder that does not keep leases removes the file after its step anyway.
   */
  #ask(path: string): void {
    try {
      const fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_NOFOLLOW);
      try {
        writeSync(fd, `want ${process.pid}\n`);
      } finally {
        closeSync(fd);
      }
    } catch {
      // removed meanwhile: the next attempt may take it
    }
  }
}
