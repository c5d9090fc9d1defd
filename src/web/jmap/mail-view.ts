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
 * Limitations: every load syncs every folder (O(messages) in memory, no message read); the
 *   destroyed list may name ids the client never had (the store's expunge record is bounded;
 *   RFC 7162 allows it to over-report), and a deleted folder's or a changed UIDVALIDITY's old
 *   ids are named by their UID range, so when that is over `maxExpanded` the answer is
 *   cannotCalculateChanges and the client fetches again.
 */
import type { MailFolderStore, SpecialUse } from '../../core/index.js';
import { folderOfMailboxId, folderTag, mailboxIdOf, messageSuffix } from './mail-ids.js';
import type { EmailSearch } from './email-search.js';

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

export class MailView {
  /** per account, the last view built (reused while its states are the same: no records rebuilt) */
  readonly #last = new Map<string, AccountView>();
  readonly #stamps = new Map<string, string>();

  constructor(
    readonly folders: MailFolderStore,
    /** the indexes that give thread ids (absent: one Thread per Email) */
    readonly indexes?: EmailSearch,
  ) {}

  /** Syncs every folder of `user`: its mailboxes and emails, and the states. */
  async load(user: string, opts: { ensureFolders?: boolean } = {}): Promise<AccountView> {
    // a client's first look makes the usual folders; the background indexer (index-warmer.ts) does not
    if (opts.ensureFolders !== false) await this.folders.ensureDefaultFolders(user);
    const entries = await this.folders.listFolders(user);
    const subscribed = new Set(await this.folders.listSubscriptions(user));
    const snaps = await Promise.all(entries.map((e) => this.folders.sync(user, e.name)));
    // the state of what was synced: the same as the last view's, the same view
    const generation = this.indexes ? await this.indexes.generation(user) : 0;
    const folderStamp = entries.map((e, i) => `${e.name}\0${e.specialUse ?? ''}\0${subscribed.has(e.name)}\0${snaps[i].uidValidity}.${snaps[i].uidNext}.${snaps[i].highestModseq}`).join('\n');
    const last = this.#last.get(user);
    if (last && this.#stamps.get(user) === `${generation}\n${folderStamp}`) return last;
    let stamp = `${generation}\n${folderStamp}`;
    const names = new Set(entries.map((e) => e.name));
    const mailboxes: MailboxRecord[] = [];
    const emails: { -readonly [K in keyof EmailRecord]: EmailRecord[K] }[] = [];
    const d = this.folders.delimiter;
    for (const [i, e] of entries.entries()) {
      const snap = snaps[i];
      const mailboxId = mailboxIdOf(e.name);
      const tag = folderTag(e.name);
      let unread = 0;
      for (const m of snap.messages) {
        if (!m.flags.includes('S')) unread++;
        const suffix = messageSuffix(tag, snap.uidValidity, m.uid);
        emails.push({ id: `e${suffix}`, threadId: `t${suffix}`, blobId: `b${suffix}`, folder: e.name, mailboxId, key: m.key, uid: m.uid, flags: m.flags, keywords: m.keywords, modseq: m.modseq, size: m.size, receivedAt: m.receivedAt });
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
        totalEmails: snap.messages.length,
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
      stamp = `${now}\n${folderStamp}`;
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
    const idOf = (tag: string, uidValidity: number, uid: number): string => `e${messageSuffix(tag, uidValidity, uid)}`;
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
      if (folder === undefined || !allOld(folderTag(folder), o)) return undefined;
    }
    return { created, updated, destroyed };
  }
}
