/**
 * @module atomic-write-file
 * Durable file writes, the one place they are written: writeFileDurable (write + fsync, no
 * rename), renameDurable (rename + fsync of the target's directory) and atomicWriteFile, the
 * crash-safe replacement made of the two: write a temporary file, fsync it, rename it over the
 * target, fsync the directory. A reader sees the old content or the new, never a mix.
 * Standards: POSIX rename(2) atomicity, fsync(2) (a rename is durable once its directory is).
 * Security: the temporary name is random and created exclusively (O_EXCL); files are 0600
 *   unless a mode is given.
 * Limitations: the temporary file lives in the target's directory or in `tempDir` (rename must
 *   not cross devices); whoever chooses `tempDir` removes leftovers of a crash there.
 */
import { randomBytes } from 'node:crypto';
import { writeFile as writeFileCb } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fsyncDir, type DirSyncer } from './dir-syncer.js';

export interface AtomicWriteOptions {
  /** share directory fsyncs with other writers */
  syncer?: DirSyncer;
  mode?: number;
  /** where the temporary file goes (default the target's directory; same file system) */
  tempDir?: string;
}

/** Name of the temporary file atomicWriteFile uses for `path` (".<name>.tmp-<random>"). */
function tempPathFor(path: string, tempDir: string = dirname(path)): string {
  return join(tempDir, `.${basename(path)}.tmp-${randomBytes(6).toString('hex')}`);
}

/**
 * Writes a file and fsyncs it before resolving: open, write, fsync, close on plain descriptors
 * (fs.writeFile with `flush`: one callback, no FileHandle round trips). `flag` 'wx' (default)
 * never replaces a file. The directory entry is not synced (see renameDurable).
 */
export function writeFileDurable(path: string, data: string | Uint8Array, opts: { flag?: 'wx' | 'w'; mode?: number } = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    writeFileCb(path, data, { flag: opts.flag ?? 'wx', mode: opts.mode ?? 0o600, flush: true }, (err) => (err ? reject(err) : resolve()));
  });
}

/**
 * Publishes a file whose data is already durable under a new name `to`: rename, then fsync of
 * `to`'s directory (through `syncer` when given, so concurrent renames share one fsync).
 * Resolves once the new name survives a crash. If the directory sync fails, `to` is removed
 * again (best effort): a caller told "failed" must not find the file published later. For a
 * new name only; to replace a file use atomicWriteFile.
 */
export async function renameDurable(from: string, to: string, opts: { syncer?: DirSyncer } = {}): Promise<void> {
  await rename(from, to);
  const dir = dirname(to);
  try {
    await (opts.syncer ? opts.syncer.sync(dir) : fsyncDir(dir));
  } catch (err) {
    await unlink(to).catch(() => undefined);
    throw err;
  }
}

/** Writes `data` to `path` atomically and durably (tmp + fsync + rename + directory fsync). */
export async function atomicWriteFile(path: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): Promise<void> {
  const tmp = tempPathFor(path, opts.tempDir);
  try {
    await writeFileDurable(tmp, data, { mode: opts.mode ?? 0o600 });
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  const dir = dirname(path);
  await (opts.syncer ? opts.syncer.sync(dir) : fsyncDir(dir));
}
