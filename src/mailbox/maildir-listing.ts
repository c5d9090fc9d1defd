/**
 * @module maildir-listing
 * What is in a Maildir folder's new/ and cur/: the messages listed (key, size, flags and arrival
 * time, from the name where it tells them: maildir-name), the bare names for a check, and the
 * file of one key. The last listing of each folder is remembered (each key's file, each file's
 * mtime) and kept true by the store's own changes (saw), so opening a message needs no directory
 * read and a listing of 100,000 messages makes no 100,000 lstat calls each time.
 * Standards: the Maildir spec (new/ and cur/, info ":2,<flags>"); Maildir++ S=/W= sizes
 *   (Courier, Dovecot).
 * Security: every directory is checked by the store's lstat walk (maildir-safe-dir) before a
 *   name in it is trusted; only regular files are listed or located (a symbolic link in new/ or
 *   cur/ is neither listed nor served); a key with "/", NUL or a leading dot is never located.
 * Limitations: a foreign file without W= is read once to size it on every list(); a file named
 *   without a time costs one lstat the first time it is listed; the listings of the last 1,000
 *   folders are remembered.
 */
import { lstatSync, type Dirent } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { MailboxMessage } from '../core/index.js';
import type { JournalPlace } from './maildir-journal.js';
import { virtualSize } from './maildir-line-ends.js';
import { errno, parseName } from './maildir-name.js';
import type { SafeDirs } from './maildir-safe-dir.js';

export class MaildirListing {
  /**
   * Per mailbox directory, what its last listing found: each key's file (so opening a message
   * needs no directory read) and each file's arrival time once read from its mtime (a name is
   * never reused for another file, and a rename to change flags keeps the mtime). A folder of
   * 100,000 messages is listed without 100,000 lstat calls each time (bench: jmap).
   */
  readonly #seen = new Map<string, { files: Map<string, JournalPlace>; times: Map<string, number> }>();

  constructor(private readonly dirs: SafeDirs) {}

  async #namesIn(dir: string, sub: 'new' | 'cur'): Promise<string[]> {
    if (!(await this.dirs.check(join(dir, sub), false))) return [];
    try {
      return (await readdir(join(dir, sub))).filter((n) => !n.startsWith('.'));
    } catch (err) {
      if (errno(err) === 'ENOENT') return [];
      throw err;
    }
  }

  /** The entries of new/ or cur/ with their types (d_type: no lstat for each). */
  async #entries(dir: string, sub: 'new' | 'cur'): Promise<Dirent[]> {
    if (!(await this.dirs.check(join(dir, sub), false))) return [];
    try {
      return (await readdir(join(dir, sub), { withFileTypes: true })).filter((e) => !e.name.startsWith('.'));
    } catch (err) {
      if (errno(err) === 'ENOENT') return [];
      throw err;
    }
  }

  /** new/ then cur/ (a message only moves new → cur, so this order never misses one). */
  async locate(dir: string, key: string): Promise<JournalPlace | undefined> {
    if (key.length === 0 || key.includes('/') || key.includes('\0') || key.startsWith('.')) return undefined;
    // the whole path, new/ and cur/ included, before any name in them is trusted
    if (!(await this.dirs.check(dir, false, ['new', 'cur']))) return undefined;
    const hit = this.#seen.get(dir)?.files.get(key);
    if (hit && lstatSync(join(dir, hit.sub, hit.name), { throwIfNoEntry: false })?.isFile()) return hit;
    try {
      await lstat(join(dir, 'new', key));
      return { sub: 'new', name: key };
    } catch (err) {
      if (errno(err) !== 'ENOENT') throw err;
    }
    for (const sub of ['new', 'cur'] as const) {
      const name = (await this.#namesIn(dir, sub)).find((n) => n === key || n.startsWith(`${key}:`));
      if (name) return { sub, name };
    }
    return undefined;
  }

  /**
   * The names in new/ and cur/, as list() reads them but without making a message of each (no
   * parse, no sort): for a caller that only checks them against what it knows; undefined when
   * an entry is not a plain file (list() decides those by lstat).
   */
  async names(dir: string): Promise<string[] | undefined> {
    const out: string[] = [];
    for (const sub of ['new', 'cur'] as const) {
      for (const entry of await this.#entries(dir, sub)) {
        if (!entry.isFile()) return undefined;
        out.push(entry.name);
      }
    }
    return out;
  }

  /** The messages of new/ and cur/, by arrival time (then key); `folder` is what they name as theirs. */
  async list(dir: string, folder: string): Promise<MailboxMessage[]> {
    const out: MailboxMessage[] = [];
    const known = this.#seen.get(dir)?.times;
    const seen = { files: new Map<string, JournalPlace>(), times: new Map<string, number>() };
    for (const sub of ['new', 'cur'] as const) {
      for (const entry of await this.#entries(dir, sub)) {
        const name = entry.name;
        // a symbolic link (or anything but a file) is no message, never listed or served
        if (!entry.isFile() && (entry.isSymbolicLink() || entry.isDirectory() || entry.isFIFO() || entry.isSocket() || entry.isBlockDevice() || entry.isCharacterDevice())) continue;
        const p = parseName(name);
        let size = p.size;
        // our names carry no time: the file's mtime is the arrival time
        let receivedAt = p.seconds !== undefined ? p.seconds * 1000 : known?.get(name);
        const path = join(dir, sub, name);
        if (!entry.isFile() || size === undefined || receivedAt === undefined) {
          try {
            const st = await lstat(path);
            if (!st.isFile()) continue;
            if (size === undefined) size = await virtualSize(path);
            receivedAt ??= st.mtimeMs;
          } catch (err) {
            if (errno(err) === 'ENOENT') continue; // removed meanwhile
            throw err;
          }
        }
        if (p.seconds === undefined) seen.times.set(name, receivedAt);
        seen.files.set(p.key, { sub, name });
        out.push({ key: p.key, size, flags: p.flags, receivedAt, folder });
      }
    }
    this.#seen.delete(dir);
    this.#seen.set(dir, seen);
    if (this.#seen.size > 1000) this.#seen.delete(this.#seen.keys().next().value as string);
    return out.sort((a, b) => a.receivedAt - b.receivedAt || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** Keeps what the last listing found (#seen) true after a change of our own: no directory read to find the file again. */
  saw(dir: string, key: string, at: JournalPlace | undefined): void {
    const files = this.#seen.get(dir)?.files;
    if (!files) return;
    if (at) files.set(key, at);
    else files.delete(key);
  }
}
