/**
 * @module maildir-folder-state
 * One Maildir folder's state brought up to date under its lock: the UID list (`correio-uidlist`
 * and its change log, see uid-index and uid-log) reconciled with what is in new/ and cur/, new
 * messages getting the next UIDs, changed flags a new MODSEQ, messages gone an expunge record.
 * What is in new/ and cur/ is known without listing them when only this process changed them
 * (maildir-folder-known: the store's journal, stamps of new/ and cur/), so a step costs
 * O(changes). The folder is listed whole (O(messages)) only
 * - the first time, or when the UID list was written by another process;
 * - when the stamps do not chain: another program changed new/ or cur/;
 * - two seconds after an "unsure" stamp (one within a clock tick of its own mtime), when a check
 *   of the names only (maildir-folder-known verify) finds that they differ from what is known.
 * Each snapshot has a version, and the last `maxDeltas` changes between versions are kept, so
 * a session tells its client what changed in O(changes) (syncDelta). A step's snapshot is the
 * last one's chunked list forked with the changed messages' chunks copied (folder-changes).
 * What delivery put in new/ stays there (other Maildir readers see it as new) until a flag is
 * set or an IMAP4rev1 read-write SELECT takes its \Recent: then it is moved to cur/ with ":2,"
 * as the Maildir spec asks of a reader that has seen a message.
 * Standards: the Maildir spec (new → cur with ":2,<flags>"); RFC 9051 §2.3.1.1 (UIDs,
 *   UIDVALIDITY never reused); RFC 7162 (MODSEQ).
 * Security: paths come from the store's checked directories (maildir-safe-dir); the lock file
 *   is folder-lock's.
 * Limitations: another program's change is seen by the next step after it, or up to two seconds
 *   later when it fell in the same clock tick as one of ours; another correio process's change
 *   makes the next step list the folder; the state of the last 1,000 folders is kept in memory
 *   (a listing and a snapshot each).
 */
import { lstatSync, renameSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FolderDelta, FolderMessage, FolderSnapshot, MailboxMessage } from '../core/index.js';
import { atomicWriteFile, ChunkedList } from '../util/index.js';
import { FolderLock } from './folder-lock.js';
import { dirStamp, stampTime } from './maildir-journal.js';
import { curName, errno, parseName } from './maildir-name.js';
import { changedSince, diff, listSnapshot, mergeDeltas, modseqIn, patchMessages, type Delta, type ListSnapshot } from './folder-changes.js';
import { appendedStamp, filesStamp, isCurrent, takeIn, unsureMs, verify, type Known } from './maildir-folder-known.js';
import { ModseqLog } from './modseq-log.js';
import { rollForward } from './maildir-staged-append.js';
import type { MaildirStore } from './maildir-store.js';
import { emptyIndex, newUidValidity, reconcile, reconcileTouched, uidListName, uidValidityName, type IndexEntry, type UidIndex } from './uid-index.js';
import { UidListFiles } from './uid-log.js';

/** What a locked step sees: the folder's directory, its index brought up to date, the listing. */
export interface FolderState {
  readonly dir: string;
  readonly index: UidIndex;
  readonly snapshot: ListSnapshot;
  readonly listing: ReadonlyMap<string, MailboxMessage>;
  /** UID → key of the messages in the index */
  readonly keys: ReadonlyMap<number, string>;
  /**
   * The snapshot's messages whose MODSEQ is above `since`, ascending UID: O(changes) from the
   * state's MODSEQ log (modseq-log) where it reaches back that far, else a walk of the snapshot.
   */
  readonly changedSince: (since: number) => readonly FolderMessage[];
}

/**
 * What a locked step gives back: its result, and entries it changed (set by key, with the
 * highest MODSEQ they reach), to be written to the UID list.
 */
export type LockedStep<T> = (
  st: FolderState,
) => { result: T; set?: ReadonlyMap<string, IndexEntry>; highestModseq?: number } | Promise<{ result: T; set?: ReadonlyMap<string, IndexEntry>; highestModseq?: number }>;

export interface LockedOptions {
  /** runs first under the lock (an APPEND's flags and date on the file still in new/) */
  before?: (dir: string) => Promise<void>;
  /** keywords for keys that are new to the index */
  keywords?: ReadonlyMap<string, readonly string[]>;
  /**
   * move what delivery put in new/ to cur/ first: only for a session that takes the messages'
   * \Recent (an IMAP4rev1 read-write SELECT), as Dovecot does; indexers, JMAP views and
   * IMAP4rev2 sessions leave new mail in new/, where other Maildir readers look for it
   */
  takeNew?: boolean;
  /** runs once the lock is held, before anything is read */
  onStart?: () => void;
  /**
   * a message staged in tmp/, not yet synced (an APPEND: maildir-staged-append): given the next
   * UID before the step runs, `flush` made durable after its log record is written and before
   * the log's own flush, then `place` renames it into cur/ and the step's snapshot shows it
   */
  admit?: Admitted;
}

/** An APPEND's message for LockedOptions.admit. */
export interface Admitted {
  readonly key: string;
  /** its Maildir flags, normalised (the name place() gives it) */
  readonly flags: string;
  readonly keywords: readonly string[];
  readonly flush: () => Promise<void>;
  readonly place: () => void;
}

/** changes between snapshot versions kept per folder for syncDelta */
const maxDeltas = 256;
/** folders whose state is kept */
const maxFolders = 1000;

export type { Delta } from './folder-changes.js';

export class MaildirFolderState {
  readonly #lock = new FolderLock();
  readonly #files = new UidListFiles({ keepLogOpen: true });
  /** per folder directory: what its last step left */
  readonly #known = new Map<string, Known>();
  /** per folder directory: a sync queued for the lock that has not begun reading yet */
  readonly #queued = new Map<string, Promise<FolderSnapshot>>();
  #versions = 0;

  constructor(
    private readonly store: MaildirStore,
    private readonly now: () => number,
    /** runs first under the lock when its file was made (a crashed MULTIAPPEND is undone there) */
    private readonly recover?: (dir: string) => Promise<void>,
  ) {}

  /**
   * The folder's snapshot: the last one when nothing changed since (no lock taken, nothing
   * read); else a locked step (see the module header: O(changes) when the changes were ours).
   * Calls made while a sync waits for the folder's lock share that sync's answer.
   */
  async snapshot(user: string, f: string, dir: string): Promise<FolderSnapshot> {
    const k = this.#known.get(dir);
    if (k && isCurrent(k, dir, this.store)) return k.snapshot;
    // a sync still waiting for the lock will read the folder after this call: its answer is as
    // fresh as one of our own (the sessions of a folder all look again after each change)
    const queued = this.#queued.get(dir);
    if (queued) return queued;
    const p = this.locked(user, f, dir, (st) => ({ result: st.snapshot }), {
      onStart: () => this.#queued.delete(dir),
    });
    this.#queued.set(dir, p);
    const done = (): void => {
      if (this.#queued.get(dir) === p) this.#queued.delete(dir);
    };
    p.then(done, done);
    return p;
  }

  /**
   * The folder's snapshot with what changed since the snapshot of `version` (syncDelta in core
   * MailFolderStore); undefined when those changes are no longer kept.
   */
  async delta(user: string, f: string, dir: string, version: number): Promise<FolderDelta | undefined> {
    const snapshot = await this.snapshot(user, f, dir);
    const d = this.#known.get(dir)?.snapshot === snapshot ? this.changesOf(dir, version) : undefined;
    return d && { snapshot, changed: d.changed, gone: d.gone };
  }

  /** The folder's last snapshot (no look at the folder); undefined when none is kept. */
  current(dir: string): FolderSnapshot | undefined {
    return this.#known.get(dir)?.snapshot;
  }

  /**
   * The messages of `keys` as in the folder's last snapshot, in the order asked for (keys not in
   * it left out): O(keys), from the state's maps, not the snapshot's list (COPY, MOVE).
   */
  messagesOf(dir: string, keys: readonly string[]): FolderMessage[] {
    const k = this.#known.get(dir);
    if (!k) return [];
    const out: FolderMessage[] = [];
    for (const key of keys) {
      const e = k.entries.get(key);
      const m = k.listing.get(key);
      if (e && m) out.push({ uid: e.uid, key, flags: e.flags ?? m.flags, keywords: e.keywords, modseq: e.modseq, size: m.size, receivedAt: m.receivedAt });
    }
    return out;
  }

  /** The changes from snapshot `version` to the folder's last one, merged; undefined when no longer kept. */
  changesOf(dir: string, version: number): Delta | undefined {
    const k = this.#known.get(dir);
    if (!k) return undefined;
    const to = k.snapshot.version;
    if (version === to) return { from: version, to, changed: [], gone: [], goneKeys: [] };
    const i = k.deltas.findIndex((d) => d.from === version);
    return i < 0 ? undefined : mergeDeltas(k.deltas.slice(i));
  }

  /**
   * Runs `fn` under the folder lock on the folder's state brought up to date (our own changes
   * taken in, or the folder listed: see the module header), and writes the index when it changed.
   */
  locked<T>(user: string, f: string, dir: string, fn: LockedStep<T>, opts: LockedOptions = {}): Promise<T> {
    // no async layers of its own (an APPEND's step: issue 14): the lock's promise, the step's
    return this.#lock.run(join(dir, `${uidListName}.lock`), (fresh) => {
      const failed = (err: unknown): never => {
        // what is known may be half changed: read and list again next time
        this.#known.delete(dir);
        this.#files.forget(dir);
        throw err;
      };
      try {
        opts.onStart?.();
        const step = fresh || opts.before || opts.takeNew ? this.#prepare(dir, fresh, opts).then(() => this.#step(user, f, dir, fn, opts)) : this.#step(user, f, dir, fn, opts);
        return step.catch(failed);
      } catch (err) {
        // onStart threw: thrown on (folder-lock's run turns it into its rejection)
        return failed(err);
      }
    });
  }

  /** What runs under the lock before the step, when anything does. */
  async #prepare(dir: string, fresh: boolean, opts: LockedOptions): Promise<void> {
    // a crashed MULTIAPPEND is looked for when the lock file was made, not at each step of
    // a lease (no other process stepped in between): one readdir per lease, not per APPEND
    if (fresh) {
      await this.recover?.(dir);
      // an APPEND's rename into cur/ lost to a power loss (its file and UID were durable)
      await rollForward(dir, async () => (await this.#files.read(dir))?.index.entries);
    }
    if (opts.before) await opts.before(dir);
    if (opts.takeNew) await this.#takeNew(dir);
  }

  async #step<T>(user: string, f: string, dir: string, fn: LockedStep<T>, opts: LockedOptions): Promise<T> {
    let k = this.#known.get(dir);
    // the UID list and its log as our last step left them (the stamp isCurrent trusts too): not
    // read again (seven system calls fewer than reading the list's first line and the log's tail)
    const files = k ? filesStamp(dir) : undefined;
    const old = (k && files === k.files ? this.#files.last(dir) : undefined) ?? (await this.#files.read(dir));
    let index: UidIndex;
    /** keys whose entries changed (written to the log by key); undefined: compare whole */
    let logKeys: string[] | undefined;
    let gone: number[] = [];
    let changed: boolean;
    let touched = k && old !== undefined && old.index === k.index ? takeIn(k, this.store, dir, f) : undefined;
    // the unsure window passed: the listing that finds a change hidden in a clock tick of ours,
    // first as a check of the names only (in the end the same as #list when nothing was hidden)
    if (k && touched?.verify && !(await verify(k, this.store, user, f, dir))) touched = undefined;
    if (k && touched) {
      const r = reconcileTouched(k.index, k.entries, k.listing, touched.keys, opts.keywords);
      index = r.index;
      logKeys = r.changed;
      gone = r.gone;
      changed = r.changed.length > 0;
      this.#patch(k, index, r.changed, gone);
    } else {
      const listed = await this.#list(user, f, dir, old, k, opts.keywords);
      k = listed.known;
      index = k.index;
      changed = listed.changed;
    }
    const admit = opts.admit;
    if (admit) {
      // its UID before its file is in cur/ (maildir-staged-append); the listing has it after place()
      const modseq = index.highestModseq + 1;
      k.entries.set(admit.key, { uid: index.uidNext, modseq, flags: admit.flags, keywords: admit.keywords });
      index = { ...index, uidNext: index.uidNext + 1, highestModseq: modseq };
      logKeys?.push(admit.key);
      changed = true;
    }
    const known = k;
    const step = fn({ dir, index, snapshot: k.snapshot, listing: k.listing, keys: k.keys, changedSince: (since) => changedSince(known.snapshot.list, known.log, since) });
    // most steps answer at once (an APPEND's UID): no await of a value that is no promise
    const out = step instanceof Promise ? await step : step;
    if (out.set && out.set.size > 0) {
      for (const [key, e] of out.set) k.entries.set(key, e);
      index = { ...index, highestModseq: Math.max(index.highestModseq, out.highestModseq ?? 0) };
      logKeys?.push(...out.set.keys());
      this.#patch(k, index, [...out.set.keys()], []);
      changed = true;
    }
    // appended to the list's log (uid-log), or the list written whole when there is none
    if (changed || old === undefined) {
      k.index = await this.#files.write(dir, old, index, logKeys, admit?.flush);
      // an append to the log: its stamp from what we wrote, not stat'ed (appendedStamp)
      k.files = appendedStamp(files, old, this.#files.last(dir)) ?? filesStamp(dir);
    } else {
      k.index = old.index;
      // nothing written: the files as stamped before the step (a change since shows at the next stamp)
      k.files = files ?? filesStamp(dir);
    }
    if (admit) this.#place(k, dir, f, admit);
    this.#known.delete(dir);
    this.#known.set(dir, k);
    if (this.#known.size > maxFolders) this.#known.delete(this.#known.keys().next().value as string);
    return out.result;
  }

  /** The folder listed whole and reconciled: a new Known (its changes from `was` kept as a delta). */
  async #list(user: string, f: string, dir: string, old: { index: UidIndex } | undefined, was: Known | undefined, keywords?: ReadonlyMap<string, readonly string[]>): Promise<{ known: Known; changed: boolean }> {
    // the journal position and stamp before the listing: changes of ours made while it runs are
    // taken in again at the next step (the same result), those of others change the stamp
    this.store.journal.watch(dir);
    const seq = this.store.journal.seq;
    const expected = dirStamp(dir);
    const wall = Date.now();
    const list = await this.store.list(user, f);
    const r = reconcile(old?.index ?? emptyIndex(await this.#nextUidValidity(user)), list, keywords);
    const t = stampTime(expected);
    const version = ++this.#versions;
    const snapshot = listSnapshot(r.snapshot, ChunkedList.from(r.snapshot.messages), version);
    // reconcile made this map: the state's own from now on
    const entries = r.index.entries as Map<string, IndexEntry>;
    const index = r.index;
    let deltas: Known['deltas'] = [];
    // nothing in this snapshot changed after its HIGHESTMODSEQ; what changed since the last one goes on its log
    let log = ModseqLog.after(snapshot.highestModseq);
    if (was && was.snapshot.uidValidity === snapshot.uidValidity) {
      const d = diff(was.snapshot.list.toArray(), r.snapshot.messages);
      deltas = [...was.deltas, { from: was.snapshot.version, to: version, ...d }].slice(-maxDeltas);
      log = was.log;
      for (const m of d.changed) log.add(m.uid, m.modseq);
    }
    const known: Known = {
      seq,
      expected,
      unsureSince: wall - t < unsureMs ? t : undefined,
      index,
      entries,
      listing: new Map(list.map((m) => [m.key, m])),
      keys: new Map([...entries].map(([key, e]) => [e.uid, key])),
      snapshot,
      deltas,
      log,
      files: '',
    };
    return { known, changed: r.changed };
  }

  /**
   * An admitted message renamed into cur/ and put in k's listing and snapshot; the rename's
   * journal entry is taken in again at the next step (the same message: no change then).
   */
  #place(k: Known, dir: string, f: string, admit: Admitted): void {
    admit.place();
    const name = curName(admit.key, admit.flags);
    const p = parseName(name);
    const st = lstatSync(join(dir, 'cur', name));
    k.listing.set(admit.key, { key: admit.key, size: p.size ?? st.size, flags: p.flags, receivedAt: st.mtimeMs, folder: f });
    this.#patch(k, k.index, [admit.key], []);
  }

  /** k's snapshot with the entries of `keys` and without the UIDs `gone`: a new version and its delta. */
  #patch(k: Known, index: UidIndex, keys: readonly string[], gone: readonly number[]): void {
    const prev = k.snapshot;
    if (keys.length === 0 && gone.length === 0 && index.highestModseq === prev.highestModseq && index.uidNext === prev.uidNext) return;
    const goneKeys: string[] = [];
    for (const u of gone) {
      goneKeys.push(k.keys.get(u) ?? '');
      k.keys.delete(u);
    }
    const changed: FolderMessage[] = [];
    for (const key of new Set(keys)) {
      const e = k.entries.get(key);
      const m = k.listing.get(key);
      if (!e || !m) continue;
      changed.push({ uid: e.uid, key, flags: e.flags ?? m.flags, keywords: e.keywords, modseq: e.modseq, size: m.size, receivedAt: m.receivedAt });
      k.keys.set(e.uid, key);
    }
    changed.sort((a, b) => a.uid - b.uid);
    // a fork of the last snapshot's list: only the chunks of the messages changed or gone are copied
    const messages = patchMessages(prev.list, changed, gone);
    const version = ++this.#versions;
    k.snapshot = listSnapshot(index, messages, version);
    k.deltas.push({ from: prev.version, to: version, changed, gone: [...gone], goneKeys });
    if (k.deltas.length > maxDeltas) k.deltas.splice(0, k.deltas.length - maxDeltas);
    for (const m of changed) k.log.add(m.uid, m.modseq);
    k.log.compact(messages.length, modseqIn(messages));
  }

  /**
   * A UIDVALIDITY for a folder without a (valid) UID list: the time in seconds, and above every
   * one given before to this user's folders (`correio-uidvalidity` in the Maildir root), so a
   * folder deleted and made again within one second, or a list lost, never names its UIDs again
   * under the old value (RFC 9051 §2.3.1.1).
   */
  async #nextUidValidity(user: string): Promise<number> {
    const path = join(this.store.mailboxPath(user, ''), uidValidityName);
    const last = Number((await readFile(path, 'utf8').catch(() => '0')).trim());
    const next = newUidValidity(this.now(), Number.isSafeInteger(last) && last > 0 && last < 0xffffffff ? last : 0);
    await atomicWriteFile(path, `${next}\n`);
    return next;
  }

  /**
   * Maildir spec: a reader that has seen a message in new/ moves it to cur/ with ":2,"; each
   * rename is one of our own changes (the store's journal).
   */
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
        if (!lstatSync(join(dir, 'new', name)).isFile()) continue;
        const at = { sub: 'cur' as const, name: target };
        this.store.journal.change([dir], () => renameSync(join(dir, 'new', name), join(dir, 'cur', target)), () => [{ dir, key: parseName(name).key, at }]);
      } catch (err) {
        if (errno(err) !== 'ENOENT') throw err; // taken by another reader meanwhile
      }
    }
  }
}
