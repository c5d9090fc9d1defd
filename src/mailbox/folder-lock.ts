/**
 * @module folder-lock
 * A lock on one Maildir folder's UID list, held across processes (a `correio serve` and a CLI,
 * or two servers on one data_dir): a lock file created with O_EXCL, plus a KeyedMutex so that
 * one process's own sessions queue without touching the file system.
 * Standards: none (the Dovecot dovecot-uidlist.lock practice).
 * Security: the lock file holds the owner's pid and host name; a lock whose owner is a dead
 *   process of this machine (kill -9 during a command) is taken over at once, and any lock
 *   older than `staleMs` (an owner on another machine sharing the Maildir, or a pid reused)
 *   is taken over then, so a crash never blocks a folder for good.
 * Limitations: waiting polls (every 10 ms, up to `waitMs`); a holder slower than `staleMs`
 *   could lose its lock, and two waiters taking over one dead owner's lock at the same
 *   instant could both win (the UID list is then rewritten by two, the later write wins, and
 *   the next sync repairs what it lost: at worst a message gets a new UID).
 */
import { closeSync, constants, openSync, unlinkSync, writeSync } from 'node:fs';
import { readFile, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { KeyedMutex, pidAlive } from '../util/index.js';

const host = hostname();

/** Whether a lock file's content names a process of this machine that is gone. */
function ownerDead(content: string): boolean {
  const m = /^(\d+) (\S+)\n?$/.exec(content);
  if (!m || m[2] !== host) return false; // another machine's, or the old pid-only form: age decides
  const pid = Number(m[1]);
  return pid !== process.pid && !pidAlive(pid);
}

export class FolderLock {
  readonly #mutex = new KeyedMutex();
  constructor(
    private readonly staleMs = 30_000,
    private readonly waitMs = 10_000,
  ) {}

  /** Runs `fn` holding the lock file `path`. */
  run<T>(path: string, fn: () => Promise<T>): Promise<T> {
    return this.#mutex.run(path, async () => {
      await this.#acquire(path);
      try {
        return await fn();
      } finally {
        try {
          unlinkSync(path);
        } catch {
          // taken over meanwhile as stale (see Limitations)
        }
      }
    });
  }

  async #acquire(path: string): Promise<void> {
    const until = Date.now() + this.waitMs;
    for (;;) {
      // synchronous calls: a small file made and removed in the page cache costs the event loop
      // less than four thread-pool round trips (the same reason as maildir-store's writeSmall)
      try {
        const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
        try {
          writeSync(fd, `${process.pid} ${host}\n`);
        } finally {
          closeSync(fd);
        }
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const st = await stat(path).catch(() => undefined);
      const dead = st !== undefined && ownerDead(await readFile(path, 'latin1').catch(() => ''));
      if (st && (dead || Date.now() - st.mtimeMs > this.staleMs)) {
        await unlink(path).catch(() => undefined);
        continue;
      }
      if (Date.now() > until) throw new Error(`folder lock ${path} is held too long`);
      await sleep(10);
    }
  }
}
