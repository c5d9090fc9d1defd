/**
 * @module atomic-write-file
 * Crash-safe file replacement: write a temporary file, fsync it, rename it over the target,
 * fsync the directory. A reader sees the old content or the new, never a mix.
 * Standards: POSIX rename(2) atomicity, fsync(2).
 * Security: the temporary name is random and created exclusively (O_EXCL).
 * Limitations: the temporary file lives in the target's directory (rename must not cross devices).
 */
import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fsyncDir, type DirSyncer } from './dir-syncer.js';

export interface AtomicWriteOptions {
  /** share directory fsyncs with other writers */
  syncer?: DirSyncer;
  mode?: number;
}

/** fsyncs a file by path. */
export async function fsyncFile(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Name of the temporary file atomicWriteFile uses for `path` (".<name>.tmp-<random>"). */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${randomBytes(6).toString('hex')}`);
}

/** Writes `data` to `path` atomically and durably (tmp + fsync + rename + directory fsync). */
export async function atomicWriteFile(path: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): Promise<void> {
  const tmp = tempPathFor(path);
  const fh = await open(tmp, 'wx', opts.mode ?? 0o600);
  try {
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  const dir = dirname(path);
  await (opts.syncer ? opts.syncer.sync(dir) : fsyncDir(dir));
}
