/**
 * @module blob-store
 * Uploaded blobs (RFC 8620 §6.1): files under `<data_dir>/blobs/<account>/`, named by a digest
 * of their content (so an upload twice is one blob), kept for a day, then removed. Blobs of
 * stored messages are not kept here: their ids name the message (and part) they come from.
 * Standards: RFC 8620 §6.1 (upload: accountId, blobId, type, size), §6.2 (download).
 * Security: names are digests (no client text reaches a path); the upload size is limited by
 *   the server's body limit; one account's blobs are not visible to another.
 * Limitations: a blob's type is the one given at upload, kept beside it.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const ttlMs = 24 * 3_600_000;

export class BlobStore {
  constructor(private readonly dir: string) {}

  #accountDir(accountId: string): string {
    return join(this.dir, createHash('sha256').update(accountId).digest('hex').slice(0, 32));
  }

  async put(accountId: string, data: Buffer, type: string): Promise<{ blobId: string; size: number; type: string }> {
    const dir = this.#accountDir(accountId);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await this.#expire(dir);
    const blobId = `u${createHash('sha256').update(data).digest('base64url').slice(0, 32)}`;
    await writeFile(join(dir, blobId), data, { mode: 0o600 });
    await writeFile(join(dir, `${blobId}.type`), type, { mode: 0o600 });
    return { blobId, size: data.length, type };
  }

  /** An uploaded blob, or undefined (unknown, expired, or not an upload id). */
  async get(accountId: string, blobId: string): Promise<{ data: Buffer; type: string } | undefined> {
    if (!/^u[A-Za-z0-9_-]{32}$/.test(blobId)) return undefined;
    const dir = this.#accountDir(accountId);
    try {
      const [data, type] = await Promise.all([readFile(join(dir, blobId)), readFile(join(dir, `${blobId}.type`), 'utf8')]);
      return { data, type };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async #expire(dir: string): Promise<void> {
    const now = Date.now();
    for (const name of await readdir(dir)) {
      const p = join(dir, name);
      const st = await stat(p).catch(() => undefined);
      if (st && now - st.mtimeMs > ttlMs) await rm(p, { force: true });
    }
  }
}
