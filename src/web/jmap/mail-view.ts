/**
 * @module mail-view
 * One account's mail as JMAP sees it (RFC 8621 §2, §4), over the folders IMAP uses
 * (core MailFolderStore): Mailbox and Email ids, keywords from Maildir flags, counts, and the
 * state strings of each type with the changes between recent states.
 * Ids: a Mailbox is "m" + base64url of its folder name; an Email (and its Thread, one Email per
 * Thread) is derived from its Maildir key, the same in every view and after a restart.
 * States: a state string is a digest of every object's id and properties, so equal contents
 * give equal states (a client's state survives a restart when nothing changed); the last
 * states of each account are kept in memory with their contents, so /changes can list what
 * was created, updated and destroyed since one of them (an older one: cannotCalculateChanges).
 * Standards: RFC 8621 §2.1 (Mailbox properties, roles from RFC 8457 / RFC 6154), §4.1.1
 *   (keywords $seen $flagged $answered $draft $forwarded ↔ Maildir S F R D P), RFC 8620 §5.2.
 * Security: a view is built for the authenticated account only.
 * Limitations: every load syncs every folder (O(messages)); a message moved to another folder
 *   gets a new Maildir key there, hence a new Email id (the old one is destroyed).
 */
import { createHash } from 'node:crypto';
import type { MailFolderStore, SpecialUse } from '../../core/index.js';

export interface MailboxRecord {
  readonly id: string;
  readonly folder: string;
  readonly name: string;
  readonly parentId: string | null;
  readonly role: string | null;
  readonly isSubscribed: boolean;
  readonly totalEmails: number;
  readonly unreadEmails: number;
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
  readonly size: number;
  readonly receivedAt: number;
}

export interface AccountView {
  readonly mailboxes: readonly MailboxRecord[];
  readonly mailboxById: ReadonlyMap<string, MailboxRecord>;
  /** ascending receivedAt, then id */
  readonly emails: readonly EmailRecord[];
  readonly emailById: ReadonlyMap<string, EmailRecord>;
  readonly mailboxState: string;
  readonly emailState: string;
}

export interface Changes {
  readonly created: string[];
  readonly updated: string[];
  readonly destroyed: string[];
}

const keywordFlags: readonly [string, string][] = [
  ['$draft', 'D'],
  ['$flagged', 'F'],
  ['$forwarded', 'P'],
  ['$answered', 'R'],
  ['$seen', 'S'],
];

/** RFC 8621 §4.1.1: the keywords a Maildir flag string holds. */
export function keywordsOf(flags: string): Record<string, true> {
  const out: Record<string, true> = {};
  for (const [k, f] of keywordFlags) if (flags.includes(f)) out[k] = true;
  return out;
}

/** The Maildir flags of a keyword set (keeping T, the IMAP \Deleted mark, from `old`); undefined names a keyword Maildir cannot hold. */
export function flagsOf(keywords: Record<string, unknown>, old = ''): string | { unsupported: string } {
  let flags = old.includes('T') ? 'T' : '';
  for (const [k, v] of Object.entries(keywords)) {
    if (v !== true) continue;
    const f = keywordFlags.find(([kw]) => kw === k.toLowerCase())?.[1];
    if (f === undefined) return { unsupported: k };
    flags += f;
  }
  return [...new Set(flags)].sort().join('');
}

const roles: Record<SpecialUse, string> = { '\\Sent': 'sent', '\\Drafts': 'drafts', '\\Trash': 'trash', '\\Junk': 'junk', '\\Archive': 'archive' };

export function mailboxIdOf(folder: string): string {
  return `m${Buffer.from(folder.toUpperCase() === 'INBOX' ? 'INBOX' : folder, 'utf8').toString('base64url')}`;
}

export function folderOfMailboxId(id: string): string | undefined {
  if (!/^m[A-Za-z0-9_-]+$/.test(id)) return undefined;
  return Buffer.from(id.slice(1), 'base64url').toString('utf8');
}

function emailSuffix(key: string): string {
  return createHash('sha256').update(key).digest('base64url').slice(0, 22);
}

function digest(entries: Iterable<[string, string]>): string {
  const h = createHash('sha256');
  for (const [id, sig] of [...entries].sort((a, b) => (a[0] < b[0] ? -1 : 1))) h.update(`${id}=${sig}\n`);
  return h.digest('base64url').slice(0, 16);
}

/** The last states of one type for one account, each with the signatures of its objects. */
class StateHistory {
  readonly #states = new Map<string, ReadonlyMap<string, string>>();
  constructor(private readonly keep: number) {}

  record(objects: ReadonlyMap<string, string>): string {
    const state = digest(objects);
    if (!this.#states.has(state)) {
      this.#states.set(state, objects);
      if (this.#states.size > this.keep) this.#states.delete(this.#states.keys().next().value as string);
    }
    return state;
  }

  /** What changed from `since` to `now`; undefined when `since` is not remembered. */
  changes(since: string, now: ReadonlyMap<string, string>): Changes | undefined {
    const old = this.#states.get(since);
    if (!old) return undefined;
    const created: string[] = [];
    const updated: string[] = [];
    for (const [id, sig] of now) {
      const was = old.get(id);
      if (was === undefined) created.push(id);
      else if (was !== sig) updated.push(id);
    }
    const destroyed = [...old.keys()].filter((id) => !now.has(id));
    return { created, updated, destroyed };
  }
}

export class MailView {
  readonly #history = new Map<string, { mailbox: StateHistory; email: StateHistory; mailboxSigs: ReadonlyMap<string, string>; emailSigs: ReadonlyMap<string, string> }>();

  constructor(
    readonly folders: MailFolderStore,
    private readonly keepStates = 50,
  ) {}

  /** Syncs every folder of `user` and records the states. */
  async load(user: string): Promise<AccountView> {
    await this.folders.ensureDefaultFolders(user);
    const entries = await this.folders.listFolders(user);
    const subscribed = new Set(await this.folders.listSubscriptions(user));
    const names = new Set(entries.map((e) => e.name));
    const mailboxes: MailboxRecord[] = [];
    const emails: EmailRecord[] = [];
    const d = this.folders.delimiter;
    for (const e of entries) {
      const snap = await this.folders.sync(user, e.name);
      const mailboxId = mailboxIdOf(e.name);
      let unread = 0;
      for (const m of snap.messages) {
        if (!m.flags.includes('S')) unread++;
        const suffix = emailSuffix(m.key);
        emails.push({ id: `e${suffix}`, threadId: `t${suffix}`, blobId: `b${suffix}`, folder: e.name, mailboxId, key: m.key, uid: m.uid, flags: m.flags, size: m.size, receivedAt: m.receivedAt });
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
      });
    }
    emails.sort((a, b) => a.receivedAt - b.receivedAt || (a.id < b.id ? -1 : 1));
    const mailboxSigs = new Map(mailboxes.map((m) => [m.id, `${m.folder}|${m.isSubscribed}|${m.totalEmails}|${m.unreadEmails}|${m.parentId}`] as [string, string]));
    const emailSigs = new Map(emails.map((e) => [e.id, `${e.mailboxId}|${e.flags}`] as [string, string]));
    let h = this.#history.get(user);
    if (!h) {
      h = { mailbox: new StateHistory(this.keepStates), email: new StateHistory(this.keepStates), mailboxSigs, emailSigs };
      this.#history.set(user, h);
    }
    h.mailboxSigs = mailboxSigs;
    h.emailSigs = emailSigs;
    return {
      mailboxes,
      mailboxById: new Map(mailboxes.map((m) => [m.id, m])),
      emails,
      emailById: new Map(emails.map((e) => [e.id, e])),
      mailboxState: h.mailbox.record(mailboxSigs),
      emailState: h.email.record(emailSigs),
    };
  }

  /** Changes since a state of the last `load`; undefined: cannot be calculated. */
  changes(user: string, type: 'Mailbox' | 'Email', since: string): Changes | undefined {
    const h = this.#history.get(user);
    if (!h) return undefined;
    return type === 'Mailbox' ? h.mailbox.changes(since, h.mailboxSigs) : h.email.changes(since, h.emailSigs);
  }
}
