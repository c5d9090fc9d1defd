/**
 * @module memory-mailbox
 * A small MailboxStore for tests of mailbox readers (POP3, IMAP, web) that must not depend on
 * the real Maildir store: each message is one file with CRLF content under
 * root/<user>/<folder or INBOX>/<key>; the arrival order is kept in the key.
 * Standards: none (test double of the core MailboxStore interface, over real files).
 * Security: user and folder names are encoded before they become path components.
 * Limitations: flags are kept in memory only; no fsync.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import type { MailboxMessage, MailboxStore } from '../../src/core/index.js';

export class MemoryMailbox implements MailboxStore {
  private seq = 0;
  private readonly flags = new Map<string, string>();
  constructor(readonly root: string) {}

  private dir(user: string, folder = ''): string {
    return join(this.root, encodeURIComponent(user), folder === '' ? 'INBOX' : encodeURIComponent(folder));
  }

  private static checkKey(key: string): void {
    if (!/^[0-9a-z.-]+$/.test(key)) throw new Error(`bad key ${key}`);
  }

  async deliver(user: string, message: Readable | Buffer, opts: { uniqueKey: string; folder?: string }): Promise<{ key: string }> {
    const dir = this.dir(user, opts.folder);
    await mkdir(dir, { recursive: true });
    const body = Buffer.isBuffer(message) ? message : await buffer(message);
    const tag = createHash('sha256').update(opts.uniqueKey).digest('hex').slice(0, 12);
    const existing = (await readdir(dir)).find((n) => n.endsWith(`.${tag}`));
    if (existing !== undefined) return { key: existing };
    const key = `${Date.now().toString().padStart(15, '0')}-${String(this.seq++).padStart(6, '0')}.${tag}`;
    const tmp = join(dir, `.tmp-${key}`);
    await writeFile(tmp, body);
    await rename(tmp, join(dir, key));
    return { key };
  }

  /** Stores raw octets as they are (tests use it to deliver exact bytes). */
  async put(user: string, content: Buffer | string, folder = ''): Promise<string> {
    const { key } = await this.deliver(user, Readable.from([Buffer.from(content)]), {
      uniqueKey: `${Date.now()}-${this.seq}-${Math.random()}`,
      folder,
    });
    return key;
  }

  async list(user: string, folder = ''): Promise<MailboxMessage[]> {
    const dir = this.dir(user, folder);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const out: MailboxMessage[] = [];
    for (const key of names.filter((n) => !n.startsWith('.')).sort()) {
      const st = await stat(join(dir, key));
      out.push({
        key,
        size: st.size,
        flags: this.flags.get(`${user}/${folder}/${key}`) ?? '',
        receivedAt: Number(key.slice(0, 15)),
        folder,
      });
    }
    return out;
  }

  async open(user: string, key: string, folder = ''): Promise<Readable> {
    MemoryMailbox.checkKey(key);
    const path = join(this.dir(user, folder), key);
    await stat(path); // ENOENT now rather than on first read
    return createReadStream(path);
  }

  async setFlags(user: string, key: string, flags: string, folder = ''): Promise<void> {
    MemoryMailbox.checkKey(key);
    await stat(join(this.dir(user, folder), key));
    this.flags.set(`${user}/${folder}/${key}`, flags);
  }

  async remove(user: string, key: string, folder = ''): Promise<void> {
    MemoryMailbox.checkKey(key);
    await unlink(join(this.dir(user, folder), key));
  }
}
