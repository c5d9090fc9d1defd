/**
 * @module maildir-folders
 * The folder face (MailFolderStore) of the Maildir store: Maildir++ folders (`.Sent`,
 * `.Archive.2024`: the IMAP name with "." as hierarchy delimiter, as Dovecot's Maildir++
 * layout), subscriptions (the `subscriptions` file, one name a line), and per-folder UIDs,
 * MODSEQs, keywords and recent expunges in `correio-uidlist` (see uid-index) kept under a
 * folder lock (see folder-lock).
 * A sync takes in what delivery put in new/ (renamed into cur/ with an empty info ":2,", as
 * the Maildir spec asks of a reader that has seen a message), lists the folder, and gives new
 * messages the next UIDs; the same files POP3 and local delivery use, so a deletion by either
 * shows in the other.
 * Flags live in the file names (so every Maildir program shares them) and are compared with
 * the list at each sync: a change made by anyone gets a new MODSEQ. Keywords live in the list
 * only (Maildir info has no portable place for them).
 * Standards: the Maildir spec (new → cur with ":2,<flags>"); Maildir++ (Courier, Dovecot);
 *   RFC 9051 §2.3.1.1 (UIDs); RFC 7162 (MODSEQ); RFC 6154 (SPECIAL-USE attributes of the
 *   default folders).
 * Security: folder names pass the store's checks (no "/", NUL, control characters, empty
 *   levels, leading dot) and every directory is checked with lstat (maildir-store: links are
 *   never followed); IMAP wildcards are refused in names.
 * Limitations: a sync lists the whole folder (O(messages) per sync); COPY copies the file
 *   (no hard link); MOVE renames each file (atomic per message, not per command); RENAME of INBOX is refused; keywords are not seen by other Maildir
 *   programs (Dovecot keeps its own in dovecot-keywords and file name letters).
 */
import { statSync, watch, type FSWatcher } from 'node:fs';
import { lstat, readdir, readFile, rename, rm, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import {
  MailFolderError,
  type FlagChange,
  type FlagUpdateResult,
  type FolderChanges,
  type FolderEntry,
  type FolderMessage,
  type FolderSnapshot,
  type MailboxMessage,
  type MailFolderStore,
  type SpecialUse,
} from '../core/index.js';
import { atomicWriteFile, uniqueId } from '../util/index.js';
import { FolderLock } from './folder-lock.js';
import { checkFolderName, isInbox } from './folder-name.js';
import type { MaildirStore } from './maildir-store.js';
import { checkKeywords, emptyIndex, flagStep, formatUidIndex, newUidValidity, parseUidIndex, reconcile, uidListName, uidValidityName, vanishedSince, type UidIndex } from './uid-index.js';

/** What a locked step sees: the folder's directory, its index brought up to date, the listing. */
interface FolderState {
  readonly dir: string;
  readonly index: UidIndex;
  readonly snapshot: FolderSnapshot;
  readonly listing: ReadonlyMap<string, MailboxMessage>;
}

/** new/, cur/ and the UID list of a folder as inode, mtime and size; undefined when missing or changed in the last two seconds. */
function stampOf(dir: string): string | undefined {
  const parts: string[] = [];
  for (const p of [join(dir, 'new'), join(dir, 'cur'), join(dir, uidListName)]) {
    const st = statSync(p, { throwIfNoEntry: false, bigint: true });
    if (!st || Date.now() - Number(st.mtimeMs) < 2000) return undefined;
    parts.push(`${st.ino}:${st.mtimeNs}:${st.size}`);
  }
  return parts.join('/');
}

/** RFC 6154 §2: the usual folders, made at first login. */
export const defaultFolders: readonly { name: string; use: SpecialUse }[] = [
  { name: 'Drafts', use: '\\Drafts' },
  { name: 'Sent', use: '\\Sent' },
  { name: 'Trash', use: '\\Trash' },
  { name: 'Junk', use: '\\Junk' },
  { name: 'Archive', use: '\\Archive' },
];

/** The file in a folder's directory holding the first UID not yet reported as \Recent to a session. */
const recentName = 'correio-recent';
/** The file in a folder's directory holding the special use CREATE gave it. */
const specialUseName = 'correio-special-use';
const specialUses: readonly SpecialUse[] = ['\\Sent', '\\Drafts', '\\Trash', '\\Junk', '\\Archive'];

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

export interface MaildirFoldersOptions {
  now?: () => number;
}

export class MaildirFolders implements MailFolderStore {
  readonly delimiter = '.';
  readonly #lock = new FolderLock();
  /** per folder directory: the last sync's snapshot and the stamp of what it was made from */
  readonly #synced = new Map<string, { stamp: string; snapshot: FolderSnapshot }>();
  readonly #now: () => number;

  constructor(
    private readonly store: MaildirStore,
    opts: MaildirFoldersOptions = {},
  ) {
    this.#now = opts.now ?? Date.now;
  }

  /** Checks a client's folder name; INBOX is "" for the store. */
  #folder(folder: string): string {
    return checkFolderName(folder);
  }

  /** The directory of a checked folder name `f` ("" = INBOX, made when missing). */
  async #dir(user: string, f: string): Promise<string> {
    const dir = await this.store.checkedDir(user, f, f === '');
    if (dir === undefined) throw new MailFolderError('nonexistent', `no folder ${f}`);
    return dir;
  }

  #root(user: string): string {
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
        this.#folder(folder);
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
    const f = this.#folder(folder);
    if (f === '') return true;
    return (await this.store.checkedDir(user, f, false)) !== undefined;
  }

  readonly canCreateSpecialUse = true;

  async createFolder(user: string, folder: string, opts: { specialUse?: SpecialUse } = {}): Promise<void> {
    const f = this.#folder(folder);
    if (f === '' || (await this.folderExists(user, f))) throw new MailFolderError('exists', `folder ${folder} exists`);
    const dir = await this.store.checkedDir(user, f, true);
    // RFC 6154 §3: the use goes with the folder's directory (RENAME and DELETE take it along)
    if (opts.specialUse !== undefined && dir !== undefined) await atomicWriteFile(join(dir, specialUseName), `${opts.specialUse}\n`);
  }

  async deleteFolder(user: string, folder: string): Promise<void> {
    const f = this.#folder(folder);
    if (f === '') throw new MailFolderError('cannot', 'INBOX cannot be deleted');
    const dir = await this.#dir(user, f);
    // the rename makes the removal atomic for readers; the files go afterwards
    const gone = join(this.#root(user), `..deleted-${uniqueId()}`);
    await rename(dir, gone);
    await rm(gone, { recursive: true, force: true });
    // its messages no longer count: the usage is computed again at the next look
    await this.store.forgetUsage(user);
  }

  async renameFolder(user: string, from: string, to: string): Promise<void> {
    const f = this.#folder(from);
    const t = this.#folder(to);
    if (f === '') throw new MailFolderError('cannot', 'renaming INBOX is not supported');
    if (t === '' || (await this.folderExists(user, t))) throw new MailFolderError('exists', `folder ${to} exists`);
    await this.#dir(user, f);
    const root = this.#root(user);
    // RFC 9051 §6.3.6: inferior folders are renamed too (Maildir++ keeps them beside it)
    const children = (await readdir(root)).filter((n) => n.startsWith(`.${f}.`));
    await rename(join(root, `.${f}`), join(root, `.${t}`));
    for (const c of children) await rename(join(root, c), join(root, `.${t}${c.slice(f.length + 1)}`));
  }

  async listSubscriptions(user: string): Promise<string[]> {
    try {
      const text = await readFile(join(this.#root(user), 'subscriptions'), 'utf8');
      return text.split('\n').filter((l) => l !== '');
    } catch (err) {
      if (errno(err) === 'ENOENT') return [];
      throw err;
    }
  }

  async setSubscribed(user: string, folder: string, on: boolean): Promise<void> {
    const name = isInbox(folder) ? 'INBOX' : this.#folder(folder);
    await this.store.checkedDir(user, '', true);
    await this.#lock.run(join(this.#root(user), 'subscriptions.lock'), async () => {
      const subs = new Set(await this.listSubscriptions(user));
      if (on) subs.add(name);
      else subs.delete(name);
      await this.#writeSubscriptions(user, [...subs]);
    });
  }

  async #writeSubscriptions(user: string, subs: string[]): Promise<void> {
    await atomicWriteFile(join(this.#root(user), 'subscriptions'), subs.map((s) => `${s}\n`).join(''));
  }

  /**
   * A folder whose new/, cur/ and UID list are as they were at its last sync (inode, mtime to
   * the nanosecond, size) has the same snapshot: it is given again without reading the
   * directory (a folder of 100,000 messages takes seconds to list). Stamps younger than two
   * seconds are not trusted (a change within the same clock tick may leave the mtime as it was).
   */
  async sync(user: string, folder: string): Promise<FolderSnapshot> {
    const f = this.#folder(folder);
    const dir = await this.#dir(user, f);
    const before = this.#synced.get(dir);
    if (before !== undefined && before.stamp === stampOf(dir)) return before.snapshot;
    const snapshot = await this.#locked(user, f, (st) => ({ result: st.snapshot }));
    const stamp = stampOf(dir);
    this.#synced.delete(dir);
    if (stamp !== undefined) {
      this.#synced.set(dir, { stamp, snapshot });
      if (this.#synced.size > 1000) this.#synced.delete(this.#synced.keys().next().value as string);
    }
    return snapshot;
  }

  async changesSince(user: string, folder: string, sinceModseq: number): Promise<FolderChanges> {
    return this.#locked(user, this.#folder(folder), ({ index, snapshot }) => ({
      result: {
        uidValidity: snapshot.uidValidity,
        highestModseq: snapshot.highestModseq,
        changed: snapshot.messages.filter((m) => m.modseq > sinceModseq),
        vanished: vanishedSince(index, sinceModseq),
      },
    }));
  }

  async updateFlags(user: string, folder: string, uids: readonly number[], change: FlagChange, opts: { unchangedSince?: number } = {}): Promise<FlagUpdateResult> {
    const f = this.#folder(folder);
    return this.#locked(user, f, async ({ index, listing }) => {
      const byUid = new Map([...index.entries].map(([key, e]) => [e.uid, key]));
      const modseq = index.highestModseq + 1;
      const entries = new Map(index.entries);
      const updated: FolderMessage[] = [];
      const modified: number[] = [];
      const missing: number[] = [];
      for (const uid of uids) {
        const key = byUid.get(uid);
        const e = key === undefined ? undefined : entries.get(key);
        const m = key === undefined ? undefined : listing.get(key);
        const next = flagStep(key === undefined || !e || !m ? undefined : { flags: m.flags, keywords: e.keywords, modseq: e.modseq }, change, opts.unchangedSince);
        if (next === 'missing' || next === 'modified') {
          (next === 'missing' ? missing : modified).push(uid);
          continue;
        }
        if (next === 'same' || key === undefined || !m) continue;
        if (next.flags !== m.flags) {
          try {
            await this.store.setFlags(user, key, next.flags, f);
          } catch (err) {
            if (errno(err) !== 'ENOENT') throw err;
            missing.push(uid); // removed meanwhile: the next sync records it
            continue;
          }
        }
        entries.set(key, { uid, modseq, flags: next.flags, keywords: next.keywords });
        updated.push({ uid, key, flags: next.flags, keywords: next.keywords, modseq, size: m.size, receivedAt: m.receivedAt });
      }
      const highestModseq = updated.length > 0 ? modseq : index.highestModseq;
      const result = { highestModseq, updated, modified, missing };
      return updated.length > 0 ? { result, index: { ...index, highestModseq, entries } } : { result };
    });
  }

  /**
   * Runs `fn` under the folder lock on the folder's state brought up to date (new/ taken in,
   * the index reconciled with the listing), and writes the index when it changed. `before`
   * runs first (an APPEND's flags and date on the file still in new/); `keywords` gives keys
   * that are new to the index their keywords.
   */
  async #locked<T>(
    user: string,
    f: string,
    fn: (st: FolderState) => { result: T; index?: UidIndex } | Promise<{ result: T; index?: UidIndex }>,
    opts: { before?: (dir: string) => Promise<void>; keywords?: ReadonlyMap<string, readonly string[]> } = {},
  ): Promise<T> {
    const dir = await this.#dir(user, f);
    return this.#lock.run(join(dir, `${uidListName}.lock`), async () => {
      if (opts.before) await opts.before(dir);
      await this.#takeNew(dir);
      const list = await this.store.list(user, f);
      let text: string | undefined;
      try {
        text = await readFile(join(dir, uidListName), 'utf8');
      } catch (err) {
        if (errno(err) !== 'ENOENT') throw err;
      }
      const old = text === undefined ? undefined : parseUidIndex(text);
      const r = reconcile(old ?? emptyIndex(await this.#nextUidValidity(user)), list, opts.keywords);
      const out = await fn({ dir, index: r.index, snapshot: r.snapshot, listing: new Map(list.map((m) => [m.key, m])) });
      const index = out.index ?? r.index;
      if (out.index || r.changed || old === undefined) await atomicWriteFile(join(dir, uidListName), formatUidIndex(index));
      return out.result;
    });
  }

  /**
   * A UIDVALIDITY for a folder without a (valid) UID list: the time in seconds, and above every
   * one given before to this user's folders (`correio-uidvalidity` in the Maildir root), so a
   * folder deleted and made again within one second, or a list lost, never names its UIDs again
   * under the old value (RFC 9051 §2.3.1.1).
   */
  async #nextUidValidity(user: string): Promise<number> {
    const path = join(this.#root(user), uidValidityName);
    const last = Number((await readFile(path, 'utf8').catch(() => '0')).trim());
    const next = newUidValidity(this.#now(), Number.isSafeInteger(last) && last > 0 && last < 0xffffffff ? last : 0);
    await atomicWriteFile(path, `${next}\n`);
    return next;
  }

  /** Maildir spec: a reader that has seen a message in new/ moves it to cur/ with ":2,". */
  async #takeNew(dir: string): Promise<void> {
    let names: string[];
    try {
      names = await readdir(join(dir, 'new'));
    } catch (err) {
      if (errno(err) === 'ENOENT') return;
      throw err;
    }
    for (const name of names) {
      if (name.startsWith('.')) continue;
      const target = name.includes(':') ? name : `${name}:2,`;
      try {
        const st = await lstat(join(dir, 'new', name));
        if (!st.isFile()) continue;
        await rename(join(dir, 'new', name), join(dir, 'cur', target));
      } catch (err) {
        if (errno(err) !== 'ENOENT') throw err; // taken by another reader meanwhile
      }
    }
  }

  async append(
    user: string,
    folder: string,
    message: Readable,
    opts: { flags: string; keywords?: readonly string[]; receivedAt?: number },
  ): Promise<{ uid: number; uidValidity: number }> {
    const f = this.#folder(folder);
    checkKeywords(opts.keywords);
    await this.#dir(user, f);
    const { key } = await this.store.deliver(user, message, { uniqueKey: `imap-${uniqueId()}`, folder: f });
    // under the lock: no other reader moves the new file to cur/ between these steps
    const before = async (dir: string): Promise<void> => {
      if (opts.receivedAt !== undefined) {
        const t = opts.receivedAt / 1000;
        await utimes(join(dir, 'new', key), t, t).catch(() => undefined);
      }
      await this.store.setFlags(user, key, opts.flags, f);
    };
    const snap = await this.#locked(user, f, (st) => ({ result: st.snapshot }), { before, keywords: new Map([[key, opts.keywords ?? []]]) });
    const m = snap.messages.find((x) => x.key === key);
    if (!m) throw new Error('appended message vanished');
    return { uid: m.uid, uidValidity: snap.uidValidity };
  }

  async copy(user: string, from: string, keys: readonly string[], to: string): Promise<{ uidValidity: number; uids: number[] }> {
    const f = this.#folder(from);
    const t = this.#folder(to);
    await this.#dir(user, t);
    const src = new Map((await this.sync(user, from)).messages.map((m) => [m.key, m]));
    const made: { key: string; flags: string; time: number }[] = [];
    const keywords = new Map<string, readonly string[]>();
    for (const key of keys) {
      const m = src.get(key);
      if (!m) continue;
      const body = await this.store.open(user, key, f);
      const { key: nk } = await this.store.deliver(user, body, { uniqueKey: `imap-${uniqueId()}`, folder: t });
      made.push({ key: nk, flags: m.flags, time: m.receivedAt / 1000 });
      keywords.set(nk, m.keywords);
    }
    const before = async (dir: string): Promise<void> => {
      for (const c of made) {
        await utimes(join(dir, 'new', c.key), c.time, c.time).catch(() => undefined);
        await this.store.setFlags(user, c.key, c.flags, t);
      }
    };
    const snap = await this.#locked(user, t, (st) => ({ result: st.snapshot }), { before, keywords });
    const byKey = new Map(snap.messages.map((m) => [m.key, m.uid]));
    return { uidValidity: snap.uidValidity, uids: made.map((c) => byKey.get(c.key) ?? 0).filter((u) => u > 0) };
  }

  /** Each message renamed into the target's cur/ (maildir-store moveTo), under the target's lock. */
  async move(user: string, from: string, keys: readonly string[], to: string): Promise<{ uidValidity: number; uids: number[]; moved: string[] }> {
    const f = this.#folder(from);
    const t = this.#folder(to);
    if (f === t) throw new MailFolderError('cannot', 'source and target are the same folder');
    await this.#dir(user, t);
    const src = new Map((await this.sync(user, from)).messages.map((m) => [m.key, m]));
    const moved: string[] = [];
    const keywords = new Map<string, readonly string[]>();
    // under the target's lock: its next UIDs go to these messages, with their keywords
    const before = async (): Promise<void> => {
      for (const key of keys) {
        const m = src.get(key);
        if (!m || !(await this.store.moveTo(user, key, f, t))) continue;
        moved.push(key);
        keywords.set(key, m.keywords);
      }
    };
    const snap = await this.#locked(user, t, (st) => ({ result: st.snapshot }), { before, keywords });
    const byKey = new Map(snap.messages.map((m) => [m.key, m.uid]));
    const done = moved.filter((k) => byKey.has(k));
    return { uidValidity: snap.uidValidity, uids: done.map((k) => byKey.get(k)!), moved: done };
  }

  /** The first recent UID in `correio-recent` (1 when there is none yet), under the folder lock. */
  async recentFrom(user: string, folder: string, claim: boolean): Promise<number> {
    return this.#locked(user, this.#folder(folder), async ({ dir, snapshot }) => {
      const path = join(dir, recentName);
      const n = Number((await readFile(path, 'utf8').catch(() => '1')).trim());
      const from = Number.isSafeInteger(n) && n >= 1 ? n : 1;
      if (claim && from < snapshot.uidNext) await atomicWriteFile(path, `${snapshot.uidNext}\n`);
      return { result: from };
    });
  }

  remove(user: string, folder: string, key: string): Promise<void> {
    return this.store.remove(user, key, this.#folder(folder));
  }

  open(user: string, folder: string, key: string): Promise<Readable> {
    return this.store.open(user, key, this.#folder(folder));
  }

  watch(user: string, folder: string, onChange: () => void): () => void {
    const dir = this.store.mailboxPath(user, this.#folder(folder));
    const watchers: FSWatcher[] = [];
    let timer: NodeJS.Timeout | undefined;
    const fire = (): void => {
      if (timer) return;
      // coalesced: a delivery is several directory events
      timer = setTimeout(() => {
        timer = undefined;
        onChange();
      }, 20);
    };
    for (const sub of ['new', 'cur']) {
      try {
        const w = watch(join(dir, sub), { persistent: false }, fire);
        w.on('error', () => undefined);
        watchers.push(w);
      } catch {
        // no watch here (missing directory, no inotify): the caller's periodic check remains
      }
    }
    return () => {
      clearTimeout(timer);
      for (const w of watchers) w.close();
    };
  }
}
