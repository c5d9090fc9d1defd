/**
 * @module mail-view
 * One account's mail as JMAP sees it (RFC 8621 §2, §4), over the folders IMAP uses
 * (core MailFolderStore): Mailbox and Email records (ids: mail-ids.ts), counts, and the state
 * strings with the changes between any two of them.
 * States are made of IMAP's numbers: for each folder its Mailbox id, UIDVALIDITY, UIDNEXT and
 * HIGHESTMODSEQ (and whether it is subscribed, for Mailbox states). Equal contents give equal
 * states, across restarts; a flag changed over IMAP raises a MODSEQ and so the state; and the
 * changes since any earlier state are asked of the folder store (`changesSince`), so no state
 * history is kept in memory: a new message has a UID at or above the old UIDNEXT (created), a
 * changed one a MODSEQ above the old one (updated), a gone one is in the store's expunge
 * record (destroyed).
 * Standards: RFC 8621 §2.1 (Mailbox properties, roles from RFC 6154), RFC 8620 §5.2 (/changes),
 *   RFC 7162 §3.1 (MODSEQ, HIGHESTMODSEQ), RFC 9051 §2.3.1.1 (UIDs ascend, UIDVALIDITY).
 * Security: a view is built for the authenticated account only.
 * Emails keep their ids across moves (core EmailAliases): a place id is mapped to the id its
 * Email had before the move, in the records and in the changes (left one folder and came into
 * another: updated). A JMAP move records it as it moves; any other move that keeps the
 * message's store key (an IMAP MOVE, another Maildir program renaming the file into another
 * folder) is found when a view is built: an Email of the last view gone, and a message new to
 * this one with its key, is that Email at its new place. The blob id follows the Email id
 * ("b" + the same suffix), so it too stays.
 * Limitations: a move that keeps the key is only found against the last view built in this
 *   process (a move made while the server was stopped, or before any view of the account was
 *   built since it started, gives the message a new id: a destroy and a create); every load
 *   syncs every folder (O(messages) in memory, no message read); the
 *   destroyed list may name ids the client never had (the store's expunge record is bounded;
 *   RFC 7162 allows it to over-report), and a deleted folder's or a changed UIDVALIDITY's old
 *   ids are named by their UID range, so when that is over `maxExpanded` the answer is
 *   cannotCalculateChanges and the client fetches again.
 */
import type { EmailAliases, FolderSnapshot, MailFolderStore, SpecialUse } from '../../core/index.js';
import { accountIdOf, folderOfMailboxId, folderTag, mailboxIdOf, messageSuffix } from './mail-ids.js';
import type { EmailSearch } from './email-search.js';
import { ParsedCache } from './parsed-cache.js';

export { keywordsOf, mailboxIdOf, folderOfMailboxId } from './mail-ids.js';

export interface MailboxRecord {
  readonly id: string;
  readonly folder: string;
  readonly name: string;
  readonly parentId: string | null;
  readonly role: string | null;
  readonly isSubscribed: boolean;
  readonly totalEmails: number;
  readonly unreadEmails: number;
  /** the folder's numbers as of this view (the state strings are made of them) */
  readonly tag: string;
  readonly uidValidity: number;
  readonly uidNext: number;
  readonly highestModseq: number;
}

export interface EmailRecord {
  readonly id: string;
  /** the id the message would have from its folder tag, UIDVALIDITY and UID (differs from `id` after a move) */
  readonly place: string;
  readonly threadId: string;
  readonly blobId: string;
  readonly folder: string;
  readonly mailboxId: string;
  readonly key: string;
  readonly uid: number;
  readonly flags: string;
  readonly keywords: readonly string[];
  readonly modseq: number;
  readonly size: number;
  readonly receivedAt: number;
}

export interface AccountView {
  readonly mailboxes: readonly MailboxRecord[];
  readonly mailboxById: ReadonlyMap<string, MailboxRecord>;
  /** ascending receivedAt, then id */
  readonly emails: readonly EmailRecord[];
  readonly emailById: ReadonlyMap<string, EmailRecord>;
  /** by blobId ("b" + the Email id's suffix: it stays across moves) */
  readonly emailByBlob: ReadonlyMap<string, EmailRecord>;
  /** the Email id a place id (folder tag, UIDVALIDITY, UID) carries: itself unless a JMAP move put an Email there */
  readonly idAt: (place: string) => string;
  /** each Mailbox's Emails, in the order of `emails` (a page of one Mailbox without sorting) */
  readonly byMailbox: ReadonlyMap<string, readonly EmailRecord[]>;
  /** each Thread's Emails, in the order of `emails` (RFC 8621 §3: sorted by receivedAt) */
  readonly byThread: ReadonlyMap<string, readonly EmailRecord[]>;
  readonly mailboxState: string;
  readonly emailState: string;
}

export interface Changes {
  readonly created: string[];
  readonly updated: string[];
  readonly destroyed: string[];
}

/** The most ids a /changes answer names from a UID range (a deleted folder, a new UIDVALIDITY). */
export const maxExpanded = 10_000;

const roles: Record<SpecialUse, string> = { '\\Sent': 'sent', '\\Drafts': 'drafts', '\\Trash': 'trash', '\\Junk': 'junk', '\\Archive': 'archive' };

interface FolderState {
  readonly uidValidity: number;
  readonly uidNext: number;
  readonly modseq: number;
  readonly subscribed: boolean;
}

/** A state string: each folder's Mailbox id, UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ (base 36), "u" when unsubscribed. */
function stateOf(mailboxes: readonly MailboxRecord[], withSubscriptions: boolean): string {
  return mailboxes
    .map((m) => `${m.id}.${m.uidValidity.toString(36)}.${m.uidNext.toString(36)}.${m.highestModseq.toString(36)}${withSubscriptions && !m.isSubscribed ? '.u' : ''}`)
    .sort()
    .join('~');
}

function parseState(state: string): Map<string, FolderState> | undefined {
  const out = new Map<string, FolderState>();
  if (state === '') return out;
  for (const part of state.split('~')) {
    const m = /^(m[A-Za-z0-9_-]+)\.([0-9a-z]+)\.([0-9a-z]+)\.([0-9a-z]+)(\.u)?$/.exec(part);
    if (!m) return undefined;
    out.set(m[1], { uidValidity: parseInt(m[2], 36), uidNext: parseInt(m[3], 36), modseq: parseInt(m[4], 36), subscribed: m[5] === undefined });
  }
  return out;
}

/**
 * Whether a message of `last` is no longer in its folder (cheap: UIDs are never given again, so
 * a folder lost none when it holds as many UIDs below the old UIDNEXT as it had messages).
 */
function anyGone(last: AccountView, folders: readonly { folder: string; snap: FolderSnapshot }[]): boolean {
  const before = new Map(last.mailboxes.map((m) => [m.folder, m]));
  for (const { folder, snap } of folders) {
    const m = before.get(folder);
    if (!m) continue;
    before.delete(folder);
    if (m.uidValidity !== snap.uidValidity) return m.totalEmails > 0;
    let kept = 0;
    for (const msg of snap.list) if (msg.uid < m.uidNext) kept++;
    if (kept !== m.totalEmails) return true;
  }
  return [...before.values()].some((m) => m.totalEmails > 0);
}

/**
 * The moves since `last` that kept a message's store key: [new place id, the Email id it
 * carries] for each message at a place not in `last` under an id not in `last`, whose key an
 * Email of `last` no longer in the account had (one new place per such Email).
 */
function movesSince(last: AccountView, folders: readonly { folder: string; snap: FolderSnapshot }[], aliases: ReadonlyMap<string, string>, user: string): [string, string][] {
  if (!anyGone(last, folders)) return [];
  const now: { place: string; key: string }[] = [];
  for (const { folder, snap } of folders) {
    const tag = folderTag(user, folder);
    for (const m of snap.list) now.push({ place: `e${messageSuffix(tag, snap.uidValidity, m.uid)}`, key: m.key });
  }
  const ids = new Set(now.map((m) => aliases.get(m.place) ?? m.place));
  const gone = new Map<string, string>();
  for (const e of last.emails) if (!ids.has(e.id)) gone.set(e.key, e.id);
  const pairs: [string, string][] = [];
  if (gone.size === 0) return pairs;
  for (const m of now) {
    const id = gone.get(m.key);
    if (id === undefined || last.emailById.has(aliases.get(m.place) ?? m.place)) continue;
    pairs.push([m.place, id]);
    gone.delete(m.key);
  }
  return pairs;
}

export class MailView {
  /** per account, the last view built (reused while its states are the same: no records rebuilt) */
  readonly #last = new Map<string, AccountView>();
  readonly #stamps = new Map<string, string>();
  /** messages read for JMAP, kept across requests */
  readonly parsed = new ParsedCache();
  /** per account, the Email ids moved messages carry (loaded once, or at each load from a shared store; JMAP moves add to them) */
  readonly #aliases = new Map<string, Promise<Map<string, string>>>();

  constructor(
    readonly folders: MailFolderStore,
    /** the indexes that give thread ids (absent: one Thread per Email) */
    readonly indexes?: EmailSearch,
    /** Email ids kept across JMAP moves (absent: a moved Email gets its new place's id) */
    readonly ids?: EmailAliases,
  ) {}

  #aliasesOf(user: string): Promise<Map<string, string>> {
    let a = this.#aliases.get(user);
    if (!a) {
      a = this.ids ? this.ids.aliases(accountIdOf(user)) : Promise.resolve(new Map<string, string>());
      a.catch(() => this.#aliases.delete(user));
      this.#aliases.set(user, a);
    }
    return a;
  }

  /** Records that each new place id carries an existing Email id (a move, RFC 8621 §4.1.1: ids are immutable). */
  async moved(user: string, pairs: readonly (readonly [place: string, id: string])[]): Promise<void> {
    if (pairs.length === 0) return;
    await this.ids?.add(accountIdOf(user), pairs);
    const map = await this.#aliasesOf(user);
    for (const [place, id] of pairs) map.set(place, id);
  }

  /** Syncs every folder of `user`: its mailboxes and emails, and the states. */
  async load(user: string, opts: { ensureFolders?: boolean } = {}): Promise<AccountView> {
    // a client's first look makes the usual folders; the background indexer (index-warmer.ts) does not
    if (opts.ensureFolders !== false) await this.folders.ensureDefaultFolders(user);
    const entries = await this.folders.listFolders(user);
    const subscribed = new Set(await this.folders.listSubscriptions(user));
    const snaps = await Promise.all(entries.map((e) => this.folders.sync(user, e.name)));
    // the state of what was synced: the same as the last view's, the same view
    // kept with mailboxes several nodes share (PostgreSQL): read again, another node may have moved an Email
    if (this.folders.jmapIndexes) this.#aliases.delete(user);
    const aliases = await this.#aliasesOf(user);
    // the aliases' count is in the stamp: a move recorded after a view was built makes a new one
    const threadGeneration = this.indexes ? await this.indexes.generation(user) : 0;
    const folderStamp = entries.map((e, i) => `${e.name}\0${e.specialUse ?? ''}\0${subscribed.has(e.name)}\0${snaps[i].uidValidity}.${snaps[i].uidNext}.${snaps[i].highestModseq}`).join('\n');
    const last = this.#last.get(user);
    if (last && this.#stamps.get(user) === `${threadGeneration}.${aliases.size}\n${folderStamp}`) return last;
    // moves that kept the store key (IMAP, another Maildir program): recorded before ids are given
    if (last) await this.moved(user, movesSince(last, entries.map((e, i) => ({ folder: e.name, snap: snaps[i] })), aliases, user));
    let stamp = `${threadGeneration}.${aliases.size}\n${folderStamp}`;
    const names = new Set(entries.map((e) => e.name));
    const mailboxes: MailboxRecord[] = [];
    const emails: { -readonly [K in keyof EmailRecord]: EmailRecord[K] }[] = [];
    const d = this.folders.delimiter;
    for (const [i, e] of entries.entries()) {
      const snap = snaps[i];
      const mailboxId = mailboxIdOf(e.name);
      const tag = folderTag(user, e.name);
      let unread = 0;
      for (const m of snap.list) {
        if (!m.flags.includes('S')) unread++;
        const place = `e${messageSuffix(tag, snap.uidValidity, m.uid)}`;
        const id = aliases.get(place) ?? place;
        emails.push({ id, place, threadId: `t${id.slice(1)}`, blobId: `b${id.slice(1)}`, folder: e.name, mailboxId, key: m.key, uid: m.uid, flags: m.flags, keywords: m.keywords, modseq: m.modseq, size: m.size, receivedAt: m.receivedAt });
      }
      const cut = e.name.lastIndexOf(d);
      const parent = cut > 0 ? e.name.slice(0, cut) : undefined;
      mailboxes.push({
        id: mailboxId,
        folder: e.name,
        name: cut > 0 ? e.name.slice(cut + 1) : e.name === 'INBOX' ? 'Inbox' : e.name,
        parentId: parent !== undefined && names.has(parent) ? mailboxIdOf(parent) : null,
        role: e.name === 'INBOX' ? 'inbox' : e.specialUse ? roles[e.specialUse] : null,
        isSubscribed: subscribed.has(e.name),
        totalEmails: snap.list.length,
        unreadEmails: unread,
        tag,
        uidValidity: snap.uidValidity,
        uidNext: snap.uidNext,
        highestModseq: snap.highestModseq,
      });
    }
    emails.sort((a, b) => a.receivedAt - b.receivedAt || (a.id < b.id ? -1 : 1));
    if (this.indexes) {
      const { threads, generation: now } = await this.indexes.threadIds(user, emails, this.folders);
      stamp = `${now}.${aliases.size}\n${folderStamp}`;
      for (const e of emails) e.threadId = threads.get(e.id) ?? e.threadId;
    }
    const byMailbox = new Map<string, EmailRecord[]>(mailboxes.map((m) => [m.id, []]));
    const byThread = new Map<string, EmailRecord[]>();
    for (const e of emails) {
      byMailbox.get(e.mailboxId)?.push(e);
      const t = byThread.get(e.threadId);
      if (t) t.push(e);
      else byThread.set(e.threadId, [e]);
    }
    const view: AccountView = {
      mailboxes,
      mailboxById: new Map(mailboxes.map((m) => [m.id, m])),
      emails,
      emailById: new Map(emails.map((e) => [e.id, e])),
      emailByBlob: new Map(emails.map((e) => [e.blobId, e])),
      idAt: (place) => aliases.get(place) ?? place,
      byMailbox,
      byThread,
      mailboxState: stateOf(mailboxes, true),
      emailState: stateOf(mailboxes, false),
    };
    this.#last.delete(user);
    this.#last.set(user, view);
    this.#stamps.set(user, stamp);
    if (this.#last.size > 100) {
      const oldest = this.#last.keys().next().value as string;
      this.#last.delete(oldest);
      this.#stamps.delete(oldest);
    }
    return view;
  }

  /** The Mailboxes created, updated (counts, subscription) and destroyed since `since`; undefined: not a state of ours. */
  mailboxChanges(view: AccountView, since: string): Changes | undefined {
    const old = parseState(since);
    if (!old) return undefined;
    const created: string[] = [];
    const updated: string[] = [];
    for (const m of view.mailboxes) {
      const o = old.get(m.id);
      if (!o) created.push(m.id);
      else if (o.uidValidity !== m.uidValidity || o.uidNext !== m.uidNext || o.modseq !== m.highestModseq || o.subscribed !== m.isSubscribed) updated.push(m.id);
    }
    const destroyed = [...old.keys()].filter((id) => !view.mailboxById.has(id));
    return { created, updated, destroyed };
  }

  /** The Emails created, updated (keywords) and destroyed since `since`, from the folders' MODSEQs; undefined: cannot be calculated. */
  async emailChanges(user: string, view: AccountView, since: string): Promise<Changes | undefined> {
    const old = parseState(since);
    if (!old) return undefined;
    const created: string[] = [];
    const updated: string[] = [];
    const destroyed: string[] = [];
    const idOf = (tag: string, uidValidity: number, uid: number): string => view.idAt(`e${messageSuffix(tag, uidValidity, uid)}`);
    // every UID below UIDNEXT of a folder's old state, as destroyed ids (bounded)
    const allOld = (tag: string, o: FolderState): boolean => {
      if (o.uidNext - 1 + destroyed.length > maxExpanded) return false;
      for (let uid = 1; uid < o.uidNext; uid++) destroyed.push(idOf(tag, o.uidValidity, uid));
      return true;
    };
    for (const m of view.mailboxes) {
      const o = old.get(m.id);
      old.delete(m.id);
      if (o && o.uidValidity === m.uidValidity) {
        if (o.modseq === m.highestModseq && o.uidNext === m.uidNext) continue;
        const ch = await this.folders.changesSince(user, m.folder, o.modseq);
        if (ch.uidValidity !== m.uidValidity) return undefined;
        for (const msg of ch.changed) (msg.uid >= o.uidNext ? created : updated).push(idOf(m.tag, m.uidValidity, msg.uid));
        for (const r of ch.vanished) {
          // UIDs given after the old state and gone since were never seen by the client
          const to = Math.min(r.to, o.uidNext - 1);
          if (to - r.from + 1 + destroyed.length > maxExpanded) return undefined;
          for (let uid = r.from; uid <= to; uid++) destroyed.push(idOf(m.tag, m.uidValidity, uid));
        }
        continue;
      }
      // a new folder, or one whose UIDs were given anew: what is in it now is created
      for (const e of view.emails) if (e.mailboxId === m.id) created.push(e.id);
      if (o && !allOld(m.tag, o)) return undefined;
    }
    for (const [id, o] of old) {
      const folder = folderOfMailboxId(id);
      if (folder === undefined || !allOld(folderTag(user, folder), o)) return undefined;
    }
    // an Email moved (by JMAP: same id) left one folder and came into another: it was updated
    const here = new Set(created.filter((id) => view.emailById.has(id)));
    const moved = new Set(destroyed.filter((id) => here.has(id)));
    if (moved.size === 0) return { created, updated, destroyed };
    return { created: created.filter((id) => !moved.has(id)), updated: [...new Set([...updated, ...moved])], destroyed: destroyed.filter((id) => !moved.has(id)) };
  }
}
