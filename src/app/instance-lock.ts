/**
 * @module instance-lock
 * One `correio serve` per data directory: `<data_dir>/serve.pid` holds the PID of the server
 * that owns it. A second server refuses to start and names that PID; a lock left by a process
 * that no longer exists (kill -9, a crash, a reboot) is taken over. `correio reload` reads the
 * PID from here to signal the server.
 * Standards: none (the pid file of Postfix's master(8) and of most daemons; systemd's PIDFile=).
 * Security: the file is created 0644 inside data_dir (0700 when this creates it). The lock is
 *   taken with link(2), which is atomic, so two servers starting at once cannot both win; a
 *   stale lock is first renamed aside and checked, so a starter never removes a lock that a
 *   live server has just taken.
 * Limitations: liveness is kill(pid, 0) (a zombie counts as dead): an unrelated process that reuses a dead server's PID
 *   keeps the lock (the message says which file to remove). The data directory must be local
 *   (link(2) and PIDs mean nothing across NFS clients).
 */
import { pidAlive } from '../util/index.js';
import { link, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Another live process holds the data directory. */
export class InstanceLockedError extends Error {
  readonly pid: number;
  readonly path: string;
  constructor(pid: number, path: string, dataDir: string) {
    super(
      `data directory ${dataDir} is in use by another correio serve (PID ${pid}, lock ${path}): ` +
        `stop that one first, or give this one another data_dir` +
        ` (if PID ${pid} is not correio, remove ${path})`,
    );
    this.name = 'InstanceLockedError';
    this.pid = pid;
    this.path = path;
  }
}

export interface InstanceLock {
  readonly path: string;
  /** Removes the lock if it is still ours. */
  release(): Promise<void>;
}

export function instanceLockPath(dataDir: string): string {
  return join(dataDir, 'serve.pid');
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** The PID in a lock file; undefined when the file is absent; NaN when it holds no PID. */
async function readPid(path: string): Promise<number | undefined> {
  try {
    return Number.parseInt((await readFile(path, 'utf8')).trim(), 10);
  } catch (err) {
    if (errno(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/** The PID of the live server holding the data directory, if any (for `correio reload`). */
export async function findServerPid(dataDir: string): Promise<number | undefined> {
  const pid = await readPid(instanceLockPath(dataDir));
  return pid !== undefined && Number.isInteger(pid) && pid > 0 && pidAlive(pid) ? pid : undefined;
}

/**
 * Takes the data directory for this process (creating it, 0700, when absent). Rejects with
 * InstanceLockedError when a live process holds it; OS errors (the data directory is a file,
 * not writable, on a read-only or full file system) reject as they are, with their path.
 */
export async function acquireInstanceLock(dataDir: string): Promise<InstanceLock> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const path = instanceLockPath(dataDir);
  const mine = `${process.pid}\n`;
  const tmp = `${path}.${process.pid}.tmp`;
  const lock: InstanceLock = {
    path,
    release: async () => {
      if ((await readPid(path).catch(() => undefined)) === process.pid) await unlink(path).catch(() => undefined);
    },
  };
  // a few rounds: each lost race against another starter or a stale lock's takeover retries
  for (let round = 0; round < 5; round++) {
    await writeFile(tmp, mine, { mode: 0o644 });
    try {
      await link(tmp, path);
      return lock;
    } catch (err) {
      const code = errno(err);
      if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP') {
        // a file system without hard links: exclusive create is as atomic for the taking
        try {
          await writeFile(path, mine, { flag: 'wx', mode: 0o644 });
          return lock;
        } catch (e2) {
          if (errno(e2) !== 'EEXIST') throw e2;
        }
      } else if (code !== 'EEXIST') throw err;
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
    const holder = await readPid(path);
    if (holder === undefined) continue; // released meanwhile
    if (Number.isInteger(holder) && holder > 0 && pidAlive(holder)) throw new InstanceLockedError(holder, path, dataDir);
    // stale: move it aside, and put it back if what was moved is not the stale lock we saw
    const aside = `${path}.stale.${process.pid}`;
    try {
      await rename(path, aside);
    } catch (err) {
      if (errno(err) === 'ENOENT') continue;
      throw err;
    }
    const moved = await readPid(aside);
    if (moved !== holder && !(Number.isNaN(moved) && Number.isNaN(holder))) {
      await link(aside, path).catch(() => undefined);
    }
    await unlink(aside).catch(() => undefined);
  }
  const holder = await readPid(path);
  throw new InstanceLockedError(holder ?? 0, path, dataDir);
}
