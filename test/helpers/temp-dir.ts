/**
 * @module temp-dir
 * A fresh temporary directory for the length of a test body, removed afterwards.
 * Security: test only; the directory is made by mkdtemp under os.tmpdir().
 * Limitations: a directory already gone is not an error (force); other removal errors are thrown.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Runs fn with a new directory `<tmpdir>/<prefix>XXXXXX`, and removes it however fn ends. */
export async function withTempDir<T>(prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
