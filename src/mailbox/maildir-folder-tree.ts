/**
 * @module maildir-folder-tree
 * The folders of a Maildir mailbox as a tree of names: Maildir++ folders (`.Sent`,
 * `.Archive.2024`: the IMAP name with "." as hierarchy delimiter, as Dovecot's Maildir++
 * layout), the default folders made at first login with their special uses, a use given by
 * CREATE (`correio-special-use` in the folder's directory), and subscriptions (the
 * `subscriptions` file, one name a line). The messages inside are maildir-folders' concern.
 * Standards: Maildir++ (Courier, Dovecot); RFC 6154 (SPECIAL-USE, CREATE-SPECIAL-USE);
 *   RFC 9051 §6.3.4–§6.3.8 (CREATE, DELETE, RENAME with inferiors, SUBSCRIBE).
 * Security: folder names pass checkFolderName and the store's checks (no "/", NUL, control
 *   characters, empty levels, leading dot; IMAP wildcards refused) and every directory is
 *   checked with lstat (maildir-safe-dir: links are never followed).
 * Limitations: RENAME of INBOX is refused; a DELETE removes the folder's files after an atomic
 *   rename away, so a crash in between leaves a `..deleted-*` directory behind.
 */
import { lstat, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { MailFolderError, type FolderEntry, type SpecialUse } from '../core/index.js';
import { atomicWriteFile, uniqueId } from '../util/index.js';
import { FolderLock } from './folder-lock.js';
import { checkFolderName, isInbox } from './folder-name.js';
import { errno } from './maildir-name.js';
import type { MaildirStore } from './maildir-store.js';

/** RFC 6154 §2: the usual folders, made at first login. */
export const defaultFolders: readonly { name: string; use: SpecialUse }[] = [
  { name: 'Drafts', use: '\\Drafts' },
  { name: 'Sent', use: '\\Sent' },
  { name: 'Trash', use: '\\Trash' },
  { name: 'Junk', use: '\\Junk' },
  { name: 'Archive', use: '\\Archive' },
];

/** The file in a folder's directory holding the special use CREATE gave it. */
const specialUseName = 'correio-special-use';
const specialUses: readonly SpecialUse[] = ['\\Sent', '\\Drafts', '\\Trash', '\\Junk', '\\Archive'];

export class MaildirFolderTree {
  readonly delimiter = '.';
  readonly canCreateSpecialUse = true;
  readonly #subscriptionLock = new FolderLock();

  constructor(protected readonly store: MaildirStore) {}

  /** The directory of a checked folder name `f` ("" = INBOX, made when missing). */
  protected async folderPath(user: string, f: string): Promise<string> {
    const dir = await this.store.checkedDir(user, f, f === '');
    if (dir === undefined) throw new MailFolderError('nonexistent', `no folder ${f}`);
    return dir;
  }

  /** folderPath's answer without a promise when the folder's directories are known (MaildirStore.checkedDirNow). */
  protected folderPathNow(user: string, f: string): string | undefined {
    return this.store.checkedDirNow(user, f);
  }

  /** The user's Maildir root (INBOX's directory, where the per-user files live). */
  protected rootPath(user: string): string {
    return this.store.mailboxPath(user, '');
  }

  async ensureDefaultFolders(user: string): Promise<void> {
    await this.store.checkedDir(user, '', true);
    const subs = new Set(await this.listSubscriptions(user));
    let changed = false;
    for (const { name } of defaultFolders) {
      if (await this.folderExists(user, name)) continue;
      await this.store.checkedDir(user, name, true);
      if (!subs.has(name)) {
        subs.add(name);
        changed = true;
      }
    }
    if (!subs.has('INBOX')) {
      subs.add('INBOX');
      changed = true;
    }
    if (changed) await this.#writeSubscriptions(user, [...subs]);
  }

  async listFolders(user: string): Promise<FolderEntry[]> {
    const root = await this.store.checkedDir(user, '', true);
    const out: FolderEntry[] = [{ name: 'INBOX' }];
    for (const name of (await readdir(root!)).sort()) {
      if (!name.startsWith('.') || name === '.' || name === '..') continue;
      const folder = name.slice(1);
      try {
        checkFolderName(folder);
        if (!(await lstat(join(root!, name))).isDirectory()) continue;
      } catch {
        continue; // not a folder we could name (or gone meanwhile)
      }
      const use = defaultFolders.find((d) => d.name === folder)?.use ?? (await this.#specialUse(join(root!, name)));
      out.push(use ? { name: folder, specialUse: use } : { name: folder });
    }
    return out;
  }

  /** The use a CREATE gave the folder in `dir`, if any (and still one we know). */
  async #specialUse(dir: string): Promise<SpecialUse | undefined> {
    const text = await readFile(join(dir, specialUseName), 'utf8').catch(() => '');
    const use = text.trim();
    return specialUses.find((u) => u === use);
  }

  async folderExists(user: string, folder: string): Promise<boolean> {
    const f = checkFolderName(folder);
    if (f === '') return true;
    return (await this.store.checkedDir(user, f, false)) !== undefined;
  }

  /** folderExists without a promise: INBOX, or a folder whose directories are known (MaildirStore.checkedDirNow). */
  folderExistsNow(user: string, folder: string): true | undefined {
    const f = checkFolderName(folder);
    return f === '' || this.store.checkedDirNow(user, f) !== undefined ? true : undefined;
  }

  async createFolder(user: string, folder: string, opts: { specialUse?: SpecialUse } = {}): Promise<void> {
    const f = checkFolderName(folder);
    if (f === '' || (await this.folderExists(user, f))) throw new MailFolderError('exists', `folder ${folder} exists`);
    const dir = await this.store.checkedDir(user, f, true);
    // RFC 6154 §3: the use goes with the folder's directory (RENAME and DELETE take it along)
    if (opts.specialUse !== undefined && dir !== undefined) await atomicWriteFile(join(dir, specialUseName), `${opts.specialUse}\n`);
  }

  async deleteFolder(user: string, folder: string): Promise<void> {
    const f = checkFolderName(folder);
    if (f === '') throw new MailFolderError('cannot', 'INBOX cannot be deleted');
    const dir = await this.folderPath(user, f);
    // the rename makes the removal atomic for readers; the files go afterwards
    const gone = join(this.rootPath(user), `..deleted-${uniqueId()}`);
    await rename(dir, gone);
    this.store.forgetDirChecks();
    await rm(gone, { recursive: true, force: true });
    // its messages no longer count: the usage is computed again at the next look
    await this.store.forgetUsage(user);
  }

  async renameFolder(user: string, from: string, to: string): Promise<void> {
    const f = checkFolderName(from);
    const t = checkFolderName(to);
    if (f === '') throw new MailFolderError('cannot', 'renaming INBOX is not supported');
    if (t === '' || (await this.folderExists(user, t))) throw new MailFolderError('exists', `folder ${to} exists`);
    await this.folderPath(user, f);
    const root = this.rootPath(user);
    // RFC 9051 §6.3.6: inferior folders are renamed too (Maildir++ keeps them beside it)
    const children = (await readdir(root)).filter((n) => n.startsWith(`.${f}.`));
    await rename(join(root, `.${f}`), join(root, `.${t}`));
    this.store.forgetDirChecks();
    for (const c of children) await rename(join(root, c), join(root, `.${t}${c.slice(f.length + 1)}`));
    this.store.forgetDirChecks();
  }

  async listSubscriptions(user: string): Promise<string[]> {
    try {
      const text = await readFile(join(this.rootPath(user), 'subscriptions'), 'utf8');
      return text.split('\n').filter((l) => l !== '');
    } catch (err) {
      if (errno(err) === 'ENOENT') return [];
      throw err;
    }
  }

  async setSubscribed(user: string, folder: string, on: boolean): Promise<void> {
    const name = isInbox(folder) ? 'INBOX' : checkFolderName(folder);
    await this.store.checkedDir(user, '', true);
    await this.#subscriptionLock.run(join(this.rootPath(user), 'subscriptions.lock'), async () => {
      const subs = new Set(await this.listSubscriptions(user));
      if (on) subs.add(name);
      else subs.delete(name);
      await this.#writeSubscriptions(user, [...subs]);
    });
  }

  async #writeSubscriptions(user: string, subs: string[]): Promise<void> {
    await atomicWriteFile(join(this.rootPath(user), 'subscriptions'), subs.map((s) => `${s}\n`).join(''));
  }
}
