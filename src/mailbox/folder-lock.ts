/**
 * @module folder-lock
 * A lock on one Maildir folder's UID list, held across processes (a `correio serve` and a CLI,
 * or two servers on one data_dir): a lock file created with O_EXCL, plus a KeyedMutex so that
 * one process's own sessions queue without touching the file system.
 * Standards: none (the Dovecot dovecot-uidlist.lock practice).
 * Security: the lock file holds the owner's pid; a lock older than `staleMs` is taken over (a
 *   process killed while holding it), so a crash never blocks a folder for good.
 * Limitations: waiting polls (every 10 ms, up to `waitMs`); a holder slower than `staleMs`
 *   could lose its lock (the UID list is then rewritten by two, the later write wins, and
 *   the next sync repairs what it lost: at worst a message gets a new UID).
 */
import { constants } from 'node:fs';
import { open, stat, unlink } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { KeyedMutex } from '../util/index.js';

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
        await unlink(path).catch(() => undefined);
      }
    });
  }

  async #acquire(path: string): Promise<void> {
    const until = Date.now() + this.waitMs;
    for (;;) {
      try {
        const fh = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
        await fh.writeFile(`${process.pid}\n`);
        await fh.close();
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const st = await stat(path).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > this.staleMs) {
        await unlink(path).catch(() => undefined);
        continue;
      }
      if (Date.now() > until) throw new Error(`folder lock ${path} is held too long`);
      await sleep(10);
    }
  }
}
