/**
 * @module email-search
 * The account's two indexes, kept up to date with its mail: the full-text index (core
 * MailSearchIndex) for the text conditions of Email/query, and the conversation index (core
 * MailThreadIndex) for Email threadIds and Thread/get. Each message is read once, when first
 * seen (a catch-up: what is in the account and not in the indexes is read and added, what is
 * gone is removed), and both indexes are fed from that one read.
 * A catch-up runs when the account's view changes (mail-view.ts asks for thread ids: a few new
 * messages are indexed before the view is answered, so an Email never changes threadId for
 * want of indexing), before a text search, and in the background (index-warmer.ts: at start
 * and after deliveries).
 * Standards: RFC 8621 §4.4.1 (text: From, To, Cc, Bcc, Subject and the text body parts),
 *   §3 (Threads), RFC 5322 §3.6.4 (Message-ID, In-Reply-To, References).
 * Security: the indexes are asked for the account's own documents only.
 * A catch-up is complete only when every message was read whole, or a big one its prefix (one that cannot be opened,
 * or is shorter than its listed size: still being written by another program, is read again
 * at the next catch-up, and a view or search asks again). A text search waits for the
 * catch-up, then never misses a message the index still does not hold: those are candidates
 * too, which the exact conditions then read (email-query.ts).
 * Limitations: when more than `syncLimit` messages are new (a bulk import), the view does not
 *   wait: those messages are each their own Thread until the background catch-up has read
 *   them, and then join their conversations (their threadId changes once). A text search
 *   waits for the catch-up: reading the messages not indexed yet itself instead (tried) was
 *   4.6 times slower at 20,000 messages, as it read them all a second time beside the indexer
 *   (docs/performance.md). A message over 8 MiB (maxReadWhole) is read only up to its first
 *   256 KiB: its thread comes from its header as any message's, and a text condition finds it by
 *   its header fields and the text within that prefix, not by a word further in its body.
 */
import type { Readable } from 'node:stream';
import { maxMessageReadWhole, type MailFolderStore, type MailSearchIndex, type MailThreadIndex, type ThreadDoc } from '../../core/index.js';
import { findHeader } from '../../protocol/mime/index.js';
import { readWhole } from '../../util/index.js';
import { asText, parseAddresses, parseEmail, parseMessageIds, plainText } from './email-parse.js';
import type { Args } from './jmap-protocol.js';
import { accountIdOf } from './mail-ids.js';
import { storeCandidates } from './store-search.js';

const textKeys = ['text', 'from', 'to', 'cc', 'bcc', 'subject', 'body'];

/** the most new messages a view waits for (indexed before it is answered) */
export const syncLimit = 1000;

/**
 * A message listed larger than this is not read whole for the indexes (as IMAP's text index,
 * mailbox folder-text-index maxIndexedMessage): reading and parsing a 20 MB message whole grew
 * the server by ~100 MB in the background after its delivery (t-60-jmap-big-message). Only its
 * first `bigMessagePrefix` octets are read: the header block and the start of the body, more
 * than the 100,000 characters of text any message gives the full-text index.
 */
export const maxReadWhole = maxMessageReadWhole;
/** what is read of a message over maxReadWhole */
export const bigMessagePrefix = 256 * 1024;

/** What the indexes need of an Email. */
export interface IndexedEmail {
  readonly id: string;
  readonly blobId: string;
  readonly folder: string;
  readonly key: string;
  /** octets as listed (CRLF): a shorter read is a file still being written */
  readonly size: number;
}

/** The strings a filter requires every match to contain (conditions alone or under AND). */
export function requiredWords(filter: unknown): string[] {
  if (typeof filter !== 'object' || filter === null || Array.isArray(filter)) return [];
  const f = filter as Args;
  if ('operator' in f) return f.operator === 'AND' && Array.isArray(f.conditions) ? f.conditions.flatMap(requiredWords) : [];
  return textKeys.flatMap((k) => (typeof f[k] === 'string' ? [f[k]] : []));
}

/** What is known to be in the indexes for one account (loaded from them once). */
interface Indexed {
  readonly texts: Set<string>;
  threads: Map<string, string>;
  /** raised whenever thread ids change */
  generation: number;
}

export class EmailSearch {
  readonly #indexed = new Map<string, Promise<Indexed>>();
  /** the email lists fully indexed */
  readonly #current = new WeakSet<readonly IndexedEmail[]>();
  /** one catch-up at a time per account; `next` is the newest list waiting for it */
  readonly #busy = new Map<string, Promise<void>>();

  /**
   * `index` undefined: the mailbox store answers text conditions itself
   * (MailFolderStore.wordCandidates, PostgreSQL's trigram index, shared by every node and kept at
   * delivery), so no text is indexed here.
   */
  constructor(
    readonly index: MailSearchIndex | undefined,
    readonly threadIndex?: MailThreadIndex,
  ) {}

  #state(accountId: string): Promise<Indexed> {
    let s = this.#indexed.get(accountId);
    if (!s) {
      s = (async () => ({ texts: new Set(this.index ? await this.index.indexed(accountId) : []), threads: (await this.threadIndex?.threads(accountId)) ?? new Map<string, string>(), generation: 0 }))();
      s.catch(() => this.#indexed.delete(accountId));
      this.#indexed.set(accountId, s);
    }
    return s;
  }

  /** the thread generation of `user` (0 until its indexes are loaded) */
  async generation(user: string): Promise<number> {
    return (await this.#state(accountIdOf(user))).generation;
  }

  /**
   * Brings both indexes up to date with `emails` (every Email of the account), as far as the
   * messages can be read: after one run of its own, even when some could not be (see above).
   */
  async catchUp(user: string, emails: readonly IndexedEmail[], folders: MailFolderStore): Promise<void> {
    const accountId = accountIdOf(user);
    while (!this.#current.has(emails)) {
      const running = this.#busy.get(accountId);
      if (running) {
        await running;
        continue;
      }
      const p = this.#run(user, accountId, emails, folders).finally(() => this.#busy.delete(accountId));
      this.#busy.set(accountId, p);
      await p;
      return;
    }
  }

  /**
   * Email id → thread id for `emails`: indexed first when at most `syncLimit` are new, else
   * started in the background (those without a thread yet are their own; see Limitations).
   */
  async threadIds(user: string, emails: readonly IndexedEmail[], folders: MailFolderStore): Promise<{ threads: ReadonlyMap<string, string>; generation: number }> {
    const state = await this.#state(accountIdOf(user));
    let missing = 0;
    for (const e of emails) if (!state.threads.has(e.id) || (this.index && !state.texts.has(e.id))) missing++;
    if (missing <= syncLimit) await this.catchUp(user, emails, folders);
    else if (!this.#busy.has(accountIdOf(user))) void this.catchUp(user, emails, folders).catch(() => undefined);
    return { threads: state.threads, generation: state.generation };
  }

  /**
   * The Emails whose text may hold every string, after a catch-up with `emails`: the index's
   * hits and every Email it still does not hold (not read whole: see above).
   */
  async candidates(user: string, emails: readonly IndexedEmail[], folders: MailFolderStore, words: readonly string[]): Promise<ReadonlySet<string>> {
    if (!this.index) return storeCandidates(user, emails, folders, words);
    const accountId = accountIdOf(user);
    const state = await this.#state(accountId);
    await this.catchUp(user, emails, folders);
    // taken before the search: an Email counted as indexed was added before the search ran
    const rest = emails.filter((e) => !state.texts.has(e.id));
    const hits = await this.index.search(accountId, words);
    for (const e of rest) hits.add(e.id);
    return hits;
  }

  async #run(user: string, accountId: string, emails: readonly IndexedEmail[], folders: MailFolderStore): Promise<void> {
    const state = await this.#state(accountId);
    const index = this.index;
    const missing = emails.filter((e) => (index && !state.texts.has(e.id)) || (this.threadIndex && !state.threads.has(e.id)));
    let threaded = false;
    let unread = 0;
    for (let i = 0; i < missing.length; i += 200) {
      const read = await Promise.all(missing.slice(i, i + 200).map((e) => readForIndex(user, e, folders)));
      const docs = read.filter((d): d is IndexDoc => d !== undefined);
      unread += read.length - docs.length;
      if (index) {
        const texts = docs.filter((d) => !state.texts.has(d.id));
        await index.add(accountId, texts);
        for (const d of texts) state.texts.add(d.id);
      }
      if (this.threadIndex) {
        await this.threadIndex.add(accountId, docs.filter((d) => !state.threads.has(d.id)).map((d) => d.thread));
        threaded = true;
      }
    }
    const present = new Set(emails.map((e) => e.id));
    const goneTexts = [...state.texts].filter((id) => !present.has(id));
    if (index && goneTexts.length > 0) {
      await index.remove(accountId, goneTexts);
      for (const id of goneTexts) state.texts.delete(id);
    }
    const goneThreads = [...state.threads.keys()].filter((id) => !present.has(id));
    if (this.threadIndex && (threaded || goneThreads.length > 0)) {
      if (goneThreads.length > 0) await this.threadIndex.remove(accountId, goneThreads);
      // read back whole: a message joining two threads moves the emails of one
      state.threads = await this.threadIndex.threads(accountId);
      state.generation++;
    }
    // complete only when every message was read: the next catch-up reads the others again
    if (unread === 0) this.#current.add(emails);
  }

  /** Thread ids of Emails no longer in the account, where still remembered (Thread/changes). */
  async goneThreads(user: string, ids: readonly string[]): Promise<Map<string, string>> {
    return this.threadIndex ? this.threadIndex.gone(accountIdOf(user), ids) : new Map();
  }
}

/** The first `n` octets of `stream` (fewer when it ends before); the rest is not read. */
async function readPrefix(stream: Readable, n: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got = 0;
  // leaving the loop early destroys the stream (its file is closed)
  for await (const chunk of stream) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    chunks.push(b);
    got += b.length;
    if (got >= n) break;
  }
  return Buffer.concat(chunks).subarray(0, n);
}

interface IndexDoc {
  readonly id: string;
  readonly text: string;
  readonly thread: ThreadDoc;
}

/**
 * Reads a message once for both indexes: its searchable text (addresses, subject, text body)
 * and its thread links; undefined when it cannot be read whole now.
 */
async function readForIndex(user: string, e: IndexedEmail, folders: MailFolderStore): Promise<IndexDoc | undefined> {
  let raw: Buffer;
  const big = e.size > maxReadWhole;
  try {
    const stream = await folders.open(user, e.folder, e.key);
    raw = big ? await readPrefix(stream, bigMessagePrefix) : await readWhole(stream);
  } catch {
    return undefined; // gone or unreadable meanwhile: read at a later catch-up if it is there
  }
  // still being written (another program wrote it in place); a big one's prefix is all it needs
  if (raw.length < (big ? bigMessagePrefix : e.size)) return undefined;
  const parsed = parseEmail(raw, e.blobId);
  const addresses = ['from', 'to', 'cc', 'bcc'].map((h) => (parseAddresses(findHeader(parsed.fields, h)) ?? []).map((a) => `${a.name ?? ''} <${a.email}>`).join(', '));
  const text = [...addresses, asText(findHeader(parsed.fields, 'subject')) ?? '', plainText(parsed).slice(0, 100_000)].join('\n');
  const own = parseMessageIds(findHeader(parsed.fields, 'message-id'))?.[0];
  // RFC 5256 §2.2: References (oldest first), else In-Reply-To's first id
  const refs = parseMessageIds(findHeader(parsed.fields, 'references')) ?? parseMessageIds(findHeader(parsed.fields, 'in-reply-to'))?.slice(0, 1) ?? [];
  return { id: e.id, text, thread: { id: e.id, messageId: own, refs: refs.filter((r) => r !== own) } };
}
