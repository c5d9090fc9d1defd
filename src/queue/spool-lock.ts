/**
 * @module spool-lock
 * The spool's `lock` file: the pid of the process that owns recovery (and so runs deliveries).
 * A lock whose process is gone is taken over; a live one (our own pid included: a second
 * instance in this process) is left alone.
 * Standards: POSIX kill(2) with signal 0 (a liveness probe).
 * Security: the file is 0600 and holds a number only; what it holds is parsed, never executed.
 * Limitations: advisory; a pid reused by an unrelated process after a crash keeps the spool
 *   unowned until that process ends (a reader never recovers, so nothing is lost).
 */
import { readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { atomicWriteFile, pidAlive } from '../util/index.js';
import { errorCode, storageError } from './storage-error.js';

/** Takes `dir`/lock for this process; false when a live process holds it. */
export async function takeSpoolLock(dir: string): Promise<boolean> {
  const path = join(dir, 'lock');
  try {
    await writeFile(path, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
    return true;
  } catch (err) {
    if (errorCode(err) !== 'EEXIST') throw storageError(err);
  }
  const pid = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
  if (Number.isInteger(pid) && pid > 0 && pidAlive(pid)) return false;
  await atomicWriteFile(path, `${process.pid}\n`);
  return true;
}

/** Gives the lock up (the owner's close). */
export async function releaseSpoolLock(dir: string): Promise<void> {
  await unlink(join(dir, 'lock')).catch(() => undefined);
}
