/**
 * @module folder-text-index
 * The full-text index of a user's Maildir folders for IMAP SEARCH BODY and TEXT (and the search
 * criteria of SORT and THREAD), kept in the same index as JMAP's text search (core
 * MailSearchIndex, `<data_dir>/search.sqlite`, sqlite-search-index) as documents of their own:
 * account `imap:<user>`, one document per message, id `<folder>/<Maildir key>`, text the
 * message's header fields and decoded text parts, lower-cased (message-text, the text SEARCH
 * itself matches in).
 * The index is kept current as folders are synced (maildir-folders tells it each folder's keys
 * when a step changed them: a delivery, an APPEND, COPY or MOVE, an EXPUNGE, a deletion by POP3
 * or another program; only what changed when the folder state knows it, noteChanges): new
 * messages are read and added in the background, a chunk at a time, gone ones removed, once
 * the account has had no change noted for 100 ms (batchMs), or 2 s after the first change of
 * a run that does not pause (maxBatchMs): a run of APPENDs is indexed as one batch after its
 * last APPEND, not between them. A search never waits for it: messages not yet in the index
 * are candidates. A message just
 * stored by this process may be handed over whole (hold: an IMAP APPEND's octets), so it is
 * indexed without reading its file again.
 * A message read shorter than its listed size (another program still writing the file in
 * place) is not indexed: it is read again when the folder is next noted whole (note: its first
 * sync in this process, or one whose changes are no longer kept). Each message read whole
 * is also told to `read` (serve: IMAP's fetch cache takes its ENVELOPE and BODYSTRUCTURE from
 * it), so that delivered, appended and dropped-in mail is read once for both; the messages it
 * finds gone (and those of a folder deleted or renamed) are told to `gone` (serve: the fetch
 * cache drops their rows, so its file follows the mail a POP3 user deletes).
 * Standards: RFC 9051 §6.4.4 (BODY, TEXT: case-insensitive substring matches), so the index
 *   only narrows: candidates() is a superset of the messages that match, which SEARCH then
 *   reads and matches exactly (search-matcher).
 * Security: documents are asked for the user's own account only; a needle reaches SQLite as an
 *   FTS5 string (sqlite-search-index quotes it).
 * Limitations: a needle under three characters, with combining marks, or that NFKC changes
 *   cannot narrow (the trigram index cannot answer it exactly): every message is read, as
 *   without the index. A message over 8 MiB (maxIndexedMessage) or whose text is over 256 KiB
 *   is not indexed (always a candidate; the fetch cache is not filled from it either). A message's text is read again when it is moved to another folder. The index is
 *   per node (data_dir), as JMAP's.
 */
import type { Readable } from 'node:stream';
import { maxMessageReadWhole, type MailSearchIndex } from '../core/index.js';
import { readWhole } from '../util/index.js';
import { searchText } from './pg-mail-store.js';

/** A read shorter than the listed size: the file is still being written (read again later). */
const short = Symbol('short');

/**
 * A message listed larger than this is not read for the index (nor for `read`): reading and
 * decoding it whole costs several times its size in memory (a 20 MB message grew the server by
 * ~160 MB); it stays a candidate, which SEARCH reads and matches itself.
 */
export const maxIndexedMessage = maxMessageReadWhole;

/** Messages read and added per step of the background work. */
const chunk = 100;

/**
 * Changes noted are taken up once none came for this long (ms), so that a run of APPENDs or
 * deliveries is indexed as one batch: one transaction of the search index (and of the fetch
 * cache's file) for many messages instead of one each, and none of the index's work (~0.3 ms
 * of the event loop per message) between one APPEND and the next, where it delayed the next
 * answer. A search does not wait for it (messages not yet indexed are candidates).
 */
const batchMs = 100;

/**
 * A run of changes that never pauses for batchMs (a busy account) is taken up at the latest
 * this long after its first change (ms), so the index falls at most this far behind.
 */
const maxBatchMs = 2000;

/** Octets held for the worker (hold): per message, and in all, at most. */
const heldEach = 1024 * 1024;
const heldTotal = 8 * 1024 * 1024;

/** A message of a folder's sync: its key and listed size (octets, CRLF). */
export interface NotedMessage {
  readonly key: string;
  readonly size: number;
}

/** What the index reads a message with (the folder store's open). */
export type OpenMessage = (user: string, folder: string, key: string) => Promise<Readable>;

/**
 * Told each message the index read whole (its folder as the store names it, "" = INBOX): what
 * else is made from a message's octets is made from the same read (serve: IMAP's fetch cache).
 */
export type MessageRead = (user: string, folder: string, key: string, octets: Buffer) => void;

/**
 * Told the messages of a folder the index found gone (removed by this server, POP3 or another
 * program; seen at a sync): what was made from them can go (serve: the fetch cache's rows).
 */
export type MessagesGone = (user: string, folder: string, keys: readonly string[]) => void;

/** What the index tells of the messages it reads and finds gone. */
export interface MessageHooks {
  readonly read?: MessageRead;
  readonly gone?: MessagesGone;
}

interface AccountState {
  /**
   * folder → the keys of its messages in the index (loaded once, then kept with every add and
   * remove); per folder, so that a change to a small folder does not walk a big one's ids
   */
  readonly indexed: Map<string, Set<string>>;
  /** ids not to add (too long, or unreadable) in this process's life */
  readonly skipped: Set<string>;
  /** folder → the messages of its last sync, waiting for the worker */
  readonly pending: Map<string, Iterable<NotedMessage>>;
  /** folder → key → the message come or changed (null: gone) since its messages were noted, waiting for the worker */
  readonly changes: Map<string, Map<string, NotedMessage | null>>;
  worker?: Promise<void>;
  /** the batch's wait (batchMs) before the worker starts */
  timer?: NodeJS.Timeout;
  /** when (ms) the first and the last change of the waiting batch were noted */
  firstNoted?: number;
  lastNoted?: number;
}

/** The id of a message's document: folder ("" = INBOX) and Maildir key (which holds no "/"). */
function docId(folder: string, key: string): string {
  return `${folder}/${key}`;
}

/** Document ids grouped as folder → keys. */
function byFolder(ids: Iterable<string>): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const id of ids) {
    const slash = id.indexOf('/');
    const folder = id.slice(0, slash);
    let keys = out.get(folder);
    if (!keys) out.set(folder, (keys = new Set()));
    keys.add(id.slice(slash + 1));
  }
  return out;
}

/** The keys of a folder's messages in the index (an empty set made when it has none). */
function indexedKeys(st: AccountState, folder: string): Set<string> {
  let keys = st.indexed.get(folder);
  if (!keys) st.indexed.set(folder, (keys = new Set()));
  return keys;
}

/** Whether the trigram index answers `needle` (lower-cased) exactly enough to narrow by it. */
export function canNarrow(needle: string): boolean {
  return [...needle.trim()].length >= 3 && needle === needle.normalize('NFKC') && !/\p{M}/u.test(needle);
}

export class FolderTextIndex {
  readonly #accounts = new Map<string, Promise<AccountState>>();
  /** `account\0docId` → the octets of a message just stored (hold), oldest first */
  readonly #held = new Map<string, Buffer>();
  #heldBytes = 0;
  /** the background work of every account, one after the other */
  #chain: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(
    private readonly index: MailSearchIndex,
    private readonly open: OpenMessage,
    private readonly hooks: MessageHooks = {},
    /** the batch's wait (ms): no change noted for this long */
    private readonly batchWait = batchMs,
    /** the longest a batch waits after its first change (ms) */
    private readonly maxWait = Math.max(batchWait, maxBatchMs),
  ) {}

  #account(user: string): string {
    return `imap:${user.toLowerCase()}`;
  }

  #state(user: string): Promise<AccountState> {
    const account = this.#account(user);
    let s = this.#accounts.get(account);
    if (!s) {
      s = this.index.indexed(account).then((ids) => ({ indexed: byFolder(ids), skipped: new Set<string>(), pending: new Map<string, Iterable<NotedMessage>>(), changes: new Map() }));
      s.catch(() => this.#accounts.delete(account));
      this.#accounts.set(account, s);
    }
    return s;
  }

  /** A folder's messages after a sync: the missing ones are indexed, the gone ones removed, in the background. */
  note(user: string, folder: string, messages: Iterable<NotedMessage>): void {
    if (this.#closed) return;
    void this.#state(user).then(
      (st) => {
        st.pending.set(folder, messages);
        st.changes.delete(folder); // the messages noted hold them
        this.#start(user, st);
      },
      () => undefined, // the index cannot be read: searches read every message
    );
  }

  /**
   * What changed in a folder since its messages were noted (messages come or changed, keys
   * gone): O(changes) where note is O(messages), for a folder that changes often.
   */
  noteChanges(user: string, folder: string, changed: readonly NotedMessage[], goneKeys: readonly string[]): void {
    if (this.#closed || (changed.length === 0 && goneKeys.length === 0)) return;
    void this.#state(user).then(
      (st) => {
        let c = st.changes.get(folder);
        if (!c) st.changes.set(folder, (c = new Map()));
        for (const key of goneKeys) c.set(key, null);
        for (const m of changed) c.set(m.key, m);
        this.#start(user, st);
      },
      () => undefined,
    );
  }

  /**
   * The worker starts for `user` once no change was noted for the batch's wait (batchMs) or the
   * batch is maxBatchMs old, or at once with `now`.
   */
  #start(user: string, st: AccountState, now = false): void {
    if (this.#closed || st.worker) return; // a running worker takes up what was noted meanwhile
    if (now) {
      clearTimeout(st.timer);
      st.timer = undefined;
      this.#run(user, st);
      return;
    }
    const t = Date.now();
    st.firstNoted ??= t;
    st.lastNoted = t;
    // one timer per batch, not one per change: when it fires early it waits again for the rest
    st.timer ??= this.#arm(user, st, Math.min(this.batchWait, this.maxWait));
  }

  #arm(user: string, st: AccountState, ms: number): NodeJS.Timeout {
    return setTimeout(() => {
      const t = Date.now();
      const due = Math.min((st.lastNoted ?? t) + this.batchWait, (st.firstNoted ?? t) + this.maxWait);
      if (due > t && !this.#closed) {
        st.timer = this.#arm(user, st, due - t);
        return;
      }
      st.timer = undefined;
      this.#run(user, st);
    }, ms).unref();
  }

  #run(user: string, st: AccountState): void {
    st.firstNoted = undefined;
    st.lastNoted = undefined;
    // one account at a time (a start with many accounts must not read all their files at once)
    st.worker ??= (this.#chain = this.#chain.then(() => this.#work(user, st)).catch(() => undefined)).finally(() => {
      st.worker = undefined;
      // noted after the worker's last look: taken up now
      if (st.pending.size > 0 || st.changes.size > 0) this.#start(user, st);
    });
  }

  /**
   * The octets of a message just stored into `folder` as `key` (exactly what reading its file
   * gives back), so that the worker indexes them without reading the file again; bounded, the
   * oldest dropped first (read from the file then).
   */
  hold(user: string, folder: string, key: string, octets: Buffer): void {
    if (this.#closed || octets.length > heldEach) return;
    const id = `${this.#account(user)}\0${docId(folder, key)}`;
    this.#drop(id);
    this.#held.set(id, octets);
    this.#heldBytes += octets.length;
    for (const [old, b] of this.#held) {
      if (this.#heldBytes <= heldTotal && this.#held.size <= 10_000) break;
      this.#held.delete(old);
      this.#heldBytes -= b.length;
    }
  }

  /** The octets held for a message (taken: held once, read once). */
  #take(user: string, folder: string, key: string): Buffer | undefined {
    if (this.#held.size === 0) return undefined;
    const id = `${this.#account(user)}\0${docId(folder, key)}`;
    const b = this.#held.get(id);
    this.#drop(id);
    return b;
  }

  #drop(id: string): void {
    const b = this.#held.get(id);
    if (!b) return;
    this.#held.delete(id);
    this.#heldBytes -= b.length;
  }

  /** The folder's documents are gone with it (DELETE, RENAME): removed from the index. */
  async forget(user: string, folder: string): Promise<void> {
    const st = await this.#state(user);
    const folders = [...st.indexed.keys()].filter((f) => f === folder || f.startsWith(`${folder}.`));
    const ids = folders.flatMap((f) => [...st.indexed.get(f)!].map((key) => docId(f, key)));
    st.pending.delete(folder);
    st.changes.delete(folder);
    await this.index.remove(this.#account(user), ids);
    for (const f of folders) {
      this.hooks.gone?.(user, f, [...st.indexed.get(f)!]);
      st.indexed.delete(f);
    }
  }

  /**
   * The keys of `messages` that may hold `needle` (case-insensitive): those the index finds and
   * those not in it yet; undefined when the needle cannot narrow (see canNarrow).
   */
  async candidates(user: string, folder: string, keys: readonly string[], needle: string): Promise<Set<string> | undefined> {
    const q = needle.toLowerCase();
    if (!canNarrow(q)) return undefined;
    const st = await this.#state(user);
    // taken before the search: a document counted as indexed was added before the search ran
    const indexed = st.indexed.get(folder);
    const out = new Set(keys.filter((key) => !indexed?.has(key)));
    const hits = await this.index.search(this.#account(user), [q]);
    for (const key of keys) if (hits.has(docId(folder, key))) out.add(key);
    return out;
  }

  /** Resolves when no background work is left for `user` (tests, the bench). */
  async settled(user: string): Promise<void> {
    const st = await this.#state(user);
    if (st.timer) this.#start(user, st, true);
    while (st.worker) await st.worker;
  }

  /** Stops taking work; what runs finishes its chunk. */
  close(): void {
    this.#closed = true;
  }

  async #work(user: string, st: AccountState): Promise<void> {
    const account = this.#account(user);
    for (;;) {
      if (this.#closed) return;
      const next = st.pending.entries().next();
      if (next.done) {
        const ch = st.changes.entries().next();
        if (ch.done) return;
        const [folder, c] = ch.value;
        st.changes.delete(folder);
        const indexed = indexedKeys(st, folder);
        const gone = [...c].filter(([, m]) => m === null).map(([key]) => key);
        const drop = gone.filter((key) => indexed.has(key));
        if (drop.length > 0) {
          await this.index.remove(account, drop.map((key) => docId(folder, key)));
          for (const key of drop) indexed.delete(key);
        }
        for (const key of gone) st.skipped.delete(docId(folder, key));
        if (gone.length > 0) this.hooks.gone?.(user, folder, gone);
        const came = [...c.values()].filter((m): m is NotedMessage => m !== null);
        await this.#add(user, account, st, folder, came.filter((m) => !indexed.has(m.key) && !st.skipped.has(docId(folder, m.key))));
        continue;
      }
      const [folder, messages] = next.value;
      st.pending.delete(folder);
      const indexed = indexedKeys(st, folder);
      const present = new Set<string>();
      for (const m of messages) present.add(m.key);
      const gone = [...indexed].filter((key) => !present.has(key));
      if (gone.length > 0) {
        await this.index.remove(account, gone.map((key) => docId(folder, key)));
        for (const key of gone) indexed.delete(key);
      }
      for (const id of st.skipped) {
        if (id.startsWith(`${folder}/`) && !present.has(id.slice(folder.length + 1))) {
          st.skipped.delete(id);
          gone.push(id.slice(folder.length + 1));
        }
      }
      if (gone.length > 0) this.hooks.gone?.(user, folder, gone);
      const missing: NotedMessage[] = [];
      for (const m of messages) if (!indexed.has(m.key) && !(st.skipped.size > 0 && st.skipped.has(docId(folder, m.key)))) missing.push(m);
      await this.#add(user, account, st, folder, missing);
    }
  }

  /** Reads and adds `missing`, a chunk at a time. */
  async #add(user: string, account: string, st: AccountState, folder: string, missing: readonly NotedMessage[]): Promise<void> {
    for (let i = 0; i < missing.length && !this.#closed; i += chunk) {
      // a newer listing of this folder replaces what is left of this one
      if (st.pending.has(folder)) break;
      const docs: { id: string; key: string; text: string }[] = [];
      for (const m of missing.slice(i, i + chunk)) {
        const id = docId(folder, m.key);
        const text = await this.#text(user, folder, m);
        if (text === undefined) st.skipped.add(id);
        else if (text !== short) docs.push({ id, key: m.key, text });
      }
      await this.index.add(account, docs);
      // (the folder's set again: a forget() meanwhile dropped the old one)
      const now = indexedKeys(st, folder);
      for (const d of docs) now.add(d.key);
      // the event loop's other work (sessions) runs between chunks
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** The message's searchable text; undefined when it is gone or too long to index, `short` when read shorter than listed. */
  async #text(user: string, folder: string, m: NotedMessage): Promise<string | typeof short | undefined> {
    const held = this.#take(user, folder, m.key);
    if (m.size > maxIndexedMessage) return undefined;
    try {
      const raw = held ?? (await readWhole(await this.open(user, folder, m.key)));
      if (raw.length < m.size) return short;
      this.hooks.read?.(user, folder, m.key, raw);
      return searchText(raw) ?? undefined;
    } catch {
      return undefined;
    }
  }
}
