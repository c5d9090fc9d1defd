/**
 * @module maildir-folders
 * The folder face (MailFolderStore) of the Maildir store: the messages of each folder with
 * per-folder UIDs, MODSEQs, keywords and recent expunges in `correio-uidlist` (see uid-index),
 * brought up to date under a folder lock by maildir-folder-state; the tree of folders and
 * subscriptions is maildir-folder-tree's. The same files POP3 and local delivery use, so a
 * deletion by either shows in the other.
 * Flags live in the file names (so every Maildir program shares them) and are compared with
 * the list at each sync: a change made by anyone gets a new MODSEQ. Keywords live in the list
 * only (Maildir info has no portable place for them). With a search index, the folders' texts
 * are kept in it as syncs see messages come and go (folder-text-index) and SEARCH BODY/TEXT
 * narrows by it (textCandidates).
 * Standards: the Maildir spec (flags in the info ":2,<flags>"); RFC 9051 §2.3.1.1 (UIDs),
 *   §6.4.7–§6.4.8 (COPY, MOVE with UIDPLUS answers); RFC 7162 (MODSEQ, UNCHANGEDSINCE).
 * Security: folder names pass checkFolderName and the store's checks; every directory is
 *   checked with lstat (maildir-safe-dir: links are never followed).
 * Limitations: COPY copies the file (no hard link); MOVE renames each file (atomic per message,
 *   not per command); keywords are not seen by other Maildir programs (Dovecot keeps its own in
 *   dovecot-keywords and file name letters).
 */
import { watch, type FSWatcher } from 'node:fs';
import { readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  MailFolderError,
  type ExpungeHistory,
  type AppendItem,
  type FlagChange,
  type FlagUpdateResult,
  type FolderChanges,
  type FolderDelta,
  type FolderMessage,
  type FolderSnapshot,
  type MailFolderStore,
  type MailSearchIndex,
} from '../core/index.js';
import { atomicWriteFile, uniqueId } from '../util/index.js';
import { checkFolderName } from './folder-name.js';
import { batchKey, beginBatch, commitBatch, recoverBatches, rollBackBatch } from './maildir-append-batch.js';
import { FolderTextIndex, type MessageRead, type MessagesGone } from './folder-text-index.js';
import { MaildirFolderState, type Admitted, type LockedOptions, type LockedStep } from './maildir-folder-state.js';
import { MaildirFolderTree } from './maildir-folder-tree.js';
import { maildirExactOctets, roundTrips } from './maildir-line-ends.js';
import { errno, normFlags } from './maildir-name.js';
import { appendKeyPrefix } from './maildir-staged-append.js';
import type { MaildirStore } from './maildir-store.js';
import { flushStaged, type Staged } from './maildir-write.js';
import { checkKeywords, flagStep, vanishedSince, type IndexEntry } from './uid-index.js';

/** The file in a folder's directory holding the first UID not yet reported as \Recent to a session. */
const recentName = 'correio-recent';

export interface MaildirFoldersOptions {
  now?: () => number;
  /** the full-text index for SEARCH BODY/TEXT (folder-text-index; serve's `<data_dir>/search.sqlite`) */
  searchIndex?: MailSearchIndex;
  /** told each message the text index read (folder-text-index MessageRead, with the client's folder name) */
  messageRead?: MessageRead;
  /** told the messages the text index found gone (folder-text-index MessagesGone, with the client's folder name) */
  messagesGone?: MessagesGone;
}

export class MaildirFolders extends MaildirFolderTree implements MailFolderStore {
  readonly #state: MaildirFolderState;
  /** the folders' text documents, when a search index is given */
  readonly textIndex: FolderTextIndex | undefined;
  /** per folder directory: the snapshot version last told to the text index */
  readonly #told = new Map<string, number>();
  /** RFC 3516 §4.4: files keep line ends as LF, so a bare LF (or CR CR LF) does not come back as sent */
  readonly exactOctets = maildirExactOctets;

  constructor(store: MaildirStore, opts: MaildirFoldersOptions = {}) {
    super(store);
    // a MULTIAPPEND its process did not finish (kill -9) is undone before a folder is read
    this.#state = new MaildirFolderState(store, opts.now ?? Date.now, recoverBatches);
    const { messageRead: read, messagesGone: gone } = opts;
    const name = (f: string): string => (f === '' ? 'INBOX' : f);
    this.textIndex =
      opts.searchIndex &&
      new FolderTextIndex(opts.searchIndex, (user, folder, key) => store.open(user, key, folder), {
        ...(read && { read: (user: string, f: string, key: string, octets: Buffer) => read(user, name(f), key, octets) }),
        ...(gone && { gone: (user: string, f: string, keys: readonly string[]) => gone(user, name(f), keys) }),
      });
  }

  /** Checks a client's folder name; INBOX is "" for the store. */
  #folder(folder: string): string {
    return checkFolderName(folder);
  }

  /** The folder's snapshot (maildir-folder-state: unchanged folders are not listed again). */
  async sync(user: string, folder: string): Promise<FolderSnapshot> {
    const f = this.#folder(folder);
    const dir = await this.folderPath(user, f);
    const snap = await this.#state.snapshot(user, f, dir);
    this.#tell(user, f, dir);
    return snap;
  }

  /**
   * Tells the text index the folder's messages as of its last snapshot: only what changed since
   * the version told before when the folder state still has those changes, else all of them.
   */
  #tell(user: string, f: string, dir: string): void {
    if (!this.textIndex) return;
    const snap = this.#state.current(dir);
    const told = this.#told.get(dir);
    if (!snap || snap.version === undefined || snap.version === told) return;
    const d = told === undefined ? undefined : this.#state.changesOf(dir, told);
    if (d) this.textIndex.noteChanges(user, f, d.changed, d.goneKeys);
    else this.textIndex.note(user, f, snap.list);
    this.#told.delete(dir);
    this.#told.set(dir, snap.version);
    if (this.#told.size > 1000) this.#told.delete(this.#told.keys().next().value as string);
  }

  /** The folder's snapshot with the changes from the one of `version` (maildir-folder-state keeps the last ones). */
  async syncDelta(user: string, folder: string, version: number): Promise<FolderDelta | undefined> {
    const f = this.#folder(folder);
    const dir = await this.folderPath(user, f);
    const d = await this.#state.delta(user, f, dir, version);
    this.#tell(user, f, dir);
    return d;
  }

  async changesSince(user: string, folder: string, sinceModseq: number): Promise<FolderChanges> {
    // O(changes) where the state's MODSEQ log and the expunge records reach back to sinceModseq
    return this.#locked(user, this.#folder(folder), ({ index, snapshot, changedSince }) => ({
      result: {
        uidValidity: snapshot.uidValidity,
        highestModseq: snapshot.highestModseq,
        changed: changedSince(sinceModseq),
        vanished: vanishedSince(index, sinceModseq, snapshot.list),
      },
    }));
  }

  async expungeHistory(user: string, folder: string): Promise<ExpungeHistory> {
    return this.#locked(user, this.#folder(folder), ({ index }) => ({ result: { floor: index.expungeFloor, records: index.expunged } }));
  }

  async updateFlags(user: string, folder: string, uids: readonly number[], change: FlagChange, opts: { unchangedSince?: number } = {}): Promise<FlagUpdateResult> {
    const f = this.#folder(folder);
    return this.#locked(user, f, async ({ index, listing, keys }) => {
      const modseq = index.highestModseq + 1;
      const entries = new Map<string, IndexEntry>();
      const updated: FolderMessage[] = [];
      const modified: number[] = [];
      const missing: number[] = [];
      for (const uid of uids) {
        const key = keys.get(uid);
        const e = key === undefined ? undefined : (entries.get(key) ?? index.entries.get(key));
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
      return updated.length > 0 ? { result, set: entries, highestModseq } : { result };
    });
  }

  /**
   * `fn` under the folder's lock on its state brought up to date (maildir-folder-state); the
   * text index is then told what changed (it indexes new messages in the background).
   */
  #locked<T>(user: string, f: string, fn: LockedStep<T>, opts: LockedOptions = {}, checked?: string): Promise<T> {
    // the state's promise with one reaction, not an async function's (an APPEND's step: issue 14)
    const run = (dir: string): Promise<T> =>
      this.#state.locked(user, f, dir, fn, opts).then((result) => {
        this.#tell(user, f, dir);
        return result;
      });
    // `checked`: the folder's directory as the caller just checked it (APPEND), not checked again
    return checked !== undefined ? run(checked) : this.folderPath(user, f).then(run);
  }

  /**
   * The UIDs that may hold `needle` by the text index (core MailFolderStore.textCandidates): a
   * superset, which SEARCH reads and matches exactly; undefined without an index or when the
   * needle cannot narrow.
   */
  async textCandidates(user: string, folder: string, needle: string): Promise<ReadonlySet<number> | undefined> {
    if (!this.textIndex) return undefined;
    const f = this.#folder(folder);
    const snap = await this.sync(user, folder);
    const keys = await this.textIndex.candidates(user, f, Array.from(snap.list, (m) => m.key), needle);
    if (!keys) return undefined;
    const uids = new Set<number>();
    for (const m of snap.list) if (keys.has(m.key)) uids.add(m.uid);
    return uids;
  }

  override async deleteFolder(user: string, folder: string): Promise<void> {
    await super.deleteFolder(user, folder);
    await this.textIndex?.forget(user, this.#folder(folder));
  }

  override async renameFolder(user: string, from: string, to: string): Promise<void> {
    await super.renameFolder(user, from, to);
    await this.textIndex?.forget(user, this.#folder(from));
  }

  async append(
    user: string,
    folder: string,
    message: Readable | Buffer,
    opts: { flags: string; keywords?: readonly string[]; receivedAt?: number },
  ): Promise<{ uid: number; uidValidity: number }> {
    const f = this.#folder(folder);
    checkKeywords(opts.keywords);
    // checked by the APPEND's TRYCREATE in this turn: no promise (folderPathNow)
    const dir = this.folderPathNow(user, f) ?? (await this.folderPath(user, f));
    const octets = Buffer.isBuffer(message) ? message : undefined;
    const flags = normFlags(opts.flags);
    // written to tmp/ unsynced, given its UID, then its file, tmp/ and the UID log flushed in
    // one journal commit, and renamed into cur/ with its flags (maildir-staged-append)
    const staged = await this.store.stage(user, message, { uniqueKey: `${appendKeyPrefix}${uniqueId()}`, folder: f, sync: false, ...(opts.receivedAt !== undefined && { receivedAt: opts.receivedAt }) });
    const key = staged.key;
    // the text index takes the octets from here, not from the file, when the file gives them back as they are
    if (octets && roundTrips(octets)) this.textIndex?.hold(user, f, key, octets);
    const admit: Admitted = {
      key,
      flags,
      keywords: opts.keywords ?? [],
      flush: () => flushStaged(staged),
      place: () => this.store.place(user, f, [{ ...staged, flags }]),
    };
    let r: { uid: number | undefined; uidValidity: number };
    try {
      r = await this.#locked(user, f, ({ index }) => ({ result: { uid: index.entries.get(key)?.uid, uidValidity: index.uidValidity } }), { admit }, dir);
    } catch (err) {
      // not answered: its file goes (a UID already logged for it is recorded as expunged at the next listing)
      await unlink(staged.tmp).catch(() => undefined);
      throw err;
    }
    if (r.uid === undefined) throw new Error('appended message vanished');
    return { uid: r.uid, uidValidity: r.uidValidity };
  }

  /**
   * Several messages at once, all or none (RFC 3502), also across a crash, and seen by no IMAP
   * session before the command completes (#batch).
   */
  async appendMany(user: string, folder: string, given: readonly AppendItem[] | AsyncIterable<AppendItem>): Promise<{ uids: number[]; uidValidity: number }> {
    const f = this.#folder(folder);
    if (Array.isArray(given)) for (const m of given as readonly AppendItem[]) checkKeywords(m.keywords);
    return this.#batch(user, f, await this.folderPath(user, f), given);
  }

  /**
   * Messages written into the folder's tmp/ only (a streamed one as it arrives), then under the
   * folder's lock renamed all into cur/ with their flags and INTERNALDATE, one fsync of cur/,
   * the commit, and the UID log step: no IMAP session sees part of the batch (a listing of cur/
   * without the lock, POP3's or another program's, may during the renames). A journal names the
   * batch before its first file is written and goes at the commit (maildir-append-batch): a
   * batch that failed, or whose process died, leaves no file.
   */
  async #batch(user: string, f: string, dir: string, given: Iterable<AppendItem> | AsyncIterable<AppendItem>): Promise<{ uids: number[]; uidValidity: number }> {
    const id = await beginBatch(dir);
    const staged: (Staged & { flags: string })[] = [];
    const keywords = new Map<string, readonly string[]>();
    try {
      for await (const m of given) {
        checkKeywords(m.keywords);
        const message = Buffer.isBuffer(m.message) ? Readable.from([m.message]) : m.message;
        const s = await this.store.stage(user, message, { uniqueKey: batchKey(id, staged.length), folder: f, ...(m.receivedAt !== undefined && { receivedAt: m.receivedAt }) });
        staged.push({ ...s, flags: m.flags });
        keywords.set(s.key, m.keywords ?? []);
      }
      // under the lock: all into cur/, then the commit; a failure between removes them there
      const before = async (): Promise<void> => {
        try {
          await this.store.publish(user, f, staged);
          await commitBatch(dir, id);
        } catch (err) {
          await rollBackBatch(dir, id);
          throw err;
        }
      };
      return await this.#locked(user, f, ({ index }) => ({ result: { uidValidity: index.uidValidity, uids: staged.map((s) => index.entries.get(s.key)?.uid ?? 0) } }), { before, keywords }, dir);
    } catch (err) {
      await rollBackBatch(dir, id);
      throw err;
    }
  }

  /** The messages of `keys` in the folder brought up to date, in that order: O(keys), not a map of the folder (COPY, MOVE). */
  async #messagesOf(user: string, folder: string, keys: readonly string[]): Promise<FolderMessage[]> {
    await this.sync(user, folder);
    return this.#state.messagesOf(await this.folderPath(user, this.#folder(folder)), keys);
  }

  /**
   * The messages' copies made as a MULTIAPPEND's (#batch): a source that cannot be read leaves
   * the target as it was (RFC 9051 §6.4.7), and no session sees a copy before the command ends.
   */
  async copy(user: string, from: string, keys: readonly string[], to: string): Promise<{ uidValidity: number; uids: number[] }> {
    const f = this.#folder(from);
    const t = this.#folder(to);
    const dir = await this.folderPath(user, t);
    const src = await this.#messagesOf(user, from, keys);
    const store = this.store;
    const items = (async function* (): AsyncGenerator<AppendItem> {
      for (const m of src) yield { message: await store.open(user, m.key, f), flags: m.flags, keywords: m.keywords, receivedAt: m.receivedAt };
    })();
    const r = await this.#batch(user, t, dir, items);
    return { uidValidity: r.uidValidity, uids: r.uids.filter((u) => u > 0) };
  }

  /** Each message renamed into the target's cur/ (maildir-store moveTo), under the target's lock. */
  async move(user: string, from: string, keys: readonly string[], to: string): Promise<{ uidValidity: number; uids: number[]; moved: string[] }> {
    const f = this.#folder(from);
    const t = this.#folder(to);
    if (f === t) throw new MailFolderError('cannot', 'source and target are the same folder');
    await this.folderPath(user, t);
    const src = await this.#messagesOf(user, from, keys);
    const moved: string[] = [];
    const keywords = new Map<string, readonly string[]>();
    // under the target's lock: its next UIDs go to these messages, with their keywords
    const before = async (): Promise<void> => {
      for (const m of src) {
        if (!(await this.store.moveTo(user, m.key, f, t))) continue;
        moved.push(m.key);
        keywords.set(m.key, m.keywords);
      }
    };
    return this.#locked(user, t, ({ index }) => {
      const done = moved.filter((k) => index.entries.has(k));
      return { result: { uidValidity: index.uidValidity, uids: done.map((k) => index.entries.get(k)!.uid), moved: done } };
    }, { before, keywords });
  }

  /** The first recent UID in `correio-recent` (1 when there is none yet), under the folder lock. */
  async recentFrom(user: string, folder: string, claim: boolean): Promise<number> {
    return this.#locked(user, this.#folder(folder), async ({ dir, snapshot }) => {
      const path = join(dir, recentName);
      const n = Number((await readFile(path, 'utf8').catch(() => '1')).trim());
      const from = Number.isSafeInteger(n) && n >= 1 ? n : 1;
      if (claim && from < snapshot.uidNext) await atomicWriteFile(path, `${snapshot.uidNext}\n`);
      return { result: from };
    }, { takeNew: claim });
  }

  remove(user: string, folder: string, key: string): Promise<void> {
    return this.store.remove(user, key, this.#folder(folder));
  }

  open(user: string, folder: string, key: string, opts?: { readonly chunk?: number }): Promise<Readable> {
    return this.store.open(user, key, this.#folder(folder), opts);
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
