/**
 * @module mail-api
 * What the webmail does with mail, as JMAP method calls (RFC 8621): the folder list, one page
 * of a folder (Email/query with position and limit, then Email/get of that page only, so a
 * folder of 100,000 messages costs one page), a search with highlighted snippets, reading one
 * message, keywords, moves, deletion, drafts and sending.
 * Standards: RFC 8621 §2 (Mailbox), §4 (Email: query, get, set), §5 (SearchSnippet),
 *   §6–§7 (Identity, EmailSubmission with onSuccessUpdateEmail), RFC 8620 §3.7 (result references).
 * Security: nothing here builds HTML; text from messages is rendered by Preact as text.
 * A folder lists conversations (Email/query collapseThreads: the newest message of each, with
 * the size of its Thread); a search lists messages.
 * Limitations: a conversation's count includes its messages in every folder.
 */
import type { JmapClient } from './jmap-client.js';

export interface Mailbox {
  readonly id: string;
  readonly name: string;
  readonly role: string | null;
  readonly parentId: string | null;
  readonly unreadEmails: number;
  readonly totalEmails: number;
}

export interface EmailAddress {
  readonly name: string | null;
  readonly email: string;
}

export interface ListItem {
  readonly id: string;
  readonly from: EmailAddress[] | null;
  readonly to: EmailAddress[] | null;
  readonly subject: string | null;
  readonly receivedAt: string;
  readonly keywords: Record<string, true>;
  readonly preview: string;
  readonly hasAttachment: boolean;
  readonly mailboxIds: Record<string, true>;
  readonly threadId: string;
  /** how many Emails its Thread has (folder lists only) */
  readonly threadSize?: number;
}

export interface BodyPart {
  readonly partId: string | null;
  readonly blobId: string | null;
  readonly size: number;
  readonly name: string | null;
  readonly type: string;
  readonly disposition: string | null;
  readonly cid: string | null;
}

export interface FullEmail extends ListItem {
  readonly cc: EmailAddress[] | null;
  readonly replyTo: EmailAddress[] | null;
  readonly sentAt: string | null;
  readonly messageId: string[] | null;
  readonly inReplyTo: string[] | null;
  readonly references: string[] | null;
  readonly attachments: BodyPart[];
  readonly textBody: BodyPart[];
  readonly htmlBody: BodyPart[];
  readonly bodyValues: Record<string, { value: string }>;
}

export interface Page {
  readonly items: ListItem[];
  readonly position: number;
  readonly total: number;
  /** highlighted snippets by Email id (searches only); `<mark>` is the only markup */
  readonly snippets: Map<string, { subject: string | null; preview: string | null }>;
}

export interface Draft {
  readonly to: string;
  readonly cc: string;
  readonly subject: string;
  readonly text: string;
  /** the rich-text form, when the user wrote one (sent as text/html beside the text) */
  readonly html?: string;
  readonly attachments: { blobId: string; name: string; type: string; size: number }[];
  readonly inReplyTo?: string[] | null;
  readonly references?: string[] | null;
}

export const pageSize = 50;
const listProperties = ['from', 'to', 'subject', 'receivedAt', 'keywords', 'preview', 'hasAttachment', 'mailboxIds', 'threadId'];

/**
 * The entries of an address field as typed: split on "," ";" or a line break, but not inside a
 * "quoted string" (with its \-escapes) or <angle brackets>, so `"Doe, John" <j@x>` stays one.
 * A small splitter of its own because this bundle cannot import src/address (node:url); the
 * server parses every address again and refuses what is not one.
 */
function splitAddresses(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  let angle = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted && c === '\\' && i + 1 < text.length) {
      cur += c + text[++i];
      continue;
    }
    if (c === '"' && !angle) quoted = !quoted;
    else if (!quoted && c === '<') angle = true;
    else if (!quoted && c === '>') angle = false;
    else if (!quoted && !angle && (c === ',' || c === ';' || c === '\n')) {
      out.push(cur);
      cur = '';
      continue;
    }
    cur += c;
  }
  out.push(cur);
  return out.map((s) => s.trim()).filter((s) => s !== '');
}

/** A display name as typed: a "quoted string" loses its quotes and \-escapes. */
const unquoteName = (name: string): string => (/^".*"$/s.test(name) ? name.slice(1, -1).replace(/\\(.)/gs, '$1') : name);

/** `a@b, Name <c@d>, "Doe, J" <e@f>` → JMAP EmailAddress objects (the server checks them again). */
export function parseAddressList(text: string): EmailAddress[] {
  return splitAddresses(text).map((s) => {
    const m = /^(.*?)\s*<([^<>\s]+)>$/s.exec(s);
    return m ? { name: unquoteName(m[1].trim()) || null, email: m[2] } : { name: null, email: s };
  });
}

/**
 * An address as the user sees and edits it; a display name holding a special (RFC 5322 §3.2.3:
 * ( ) < > [ ] : ; @ \ , . ") is written as a quoted-string (§3.2.4, " and \ escaped), so that
 * `Doe, John` read back by parseAddressList (a reply to all) is still one address.
 */
export const formatAddress = (a: EmailAddress): string => {
  if (!a.name) return a.email;
  const name = /[()<>[\]:;@\\,."]/.test(a.name) ? `"${a.name.replace(/(["\\])/g, '\\$1')}"` : a.name;
  return `${name} <${a.email}>`;
};

export class MailApi {
  constructor(readonly jmap: JmapClient) {}

  get #account(): string {
    return this.jmap.accountId;
  }

  async mailboxes(): Promise<Mailbox[]> {
    const r = await this.jmap.call([['Mailbox/get', { accountId: this.#account, ids: null, properties: ['name', 'role', 'parentId', 'unreadEmails', 'totalEmails'] }, 'm']]);
    return r.get('m')?.list as Mailbox[];
  }

  /** One page of a folder, or of a search (`text`) in it or everywhere (`mailboxId` undefined). */
  async page(mailboxId: string | undefined, position: number, text?: string): Promise<Page> {
    const filter: Record<string, unknown> = {};
    if (mailboxId !== undefined) filter.inMailbox = mailboxId;
    if (text) filter.text = text;
    const account = this.#account;
    const ref = { resultOf: 'q', name: 'Email/query', path: '/ids' };
    // a folder lists conversations (RFC 8621 §4.4: collapseThreads), a search lists messages
    const collapse = !text;
    const calls: [string, Record<string, unknown>, string][] = [
      ['Email/query', { accountId: account, filter, sort: [{ property: 'receivedAt', isAscending: false }], collapseThreads: collapse, position, limit: pageSize, calculateTotal: true }, 'q'],
      ['Email/get', { accountId: account, '#ids': ref, properties: listProperties }, 'g'],
    ];
    if (collapse) calls.push(['Thread/get', { accountId: account, '#ids': { resultOf: 'g', name: 'Email/get', path: '/list/*/threadId' } }, 't']);
    if (text) calls.push(['SearchSnippet/get', { accountId: account, filter, '#emailIds': ref }, 's']);
    const r = await this.jmap.call(calls);
    const q = r.get('q') as { ids: string[]; position: number; total: number };
    const sizes = new Map(((r.get('t')?.list ?? []) as { id: string; emailIds: string[] }[]).map((t) => [t.id, t.emailIds.length]));
    const byId = new Map((r.get('g')?.list as ListItem[]).map((e): [string, ListItem] => [e.id, { ...e, threadSize: sizes.get(e.threadId) }]));
    const snippets = new Map<string, { subject: string | null; preview: string | null }>();
    for (const s of (r.get('s')?.list ?? []) as { emailId: string; subject: string | null; preview: string | null }[]) snippets.set(s.emailId, s);
    return { items: q.ids.map((id) => byId.get(id)).filter((e): e is ListItem => e !== undefined), position: q.position, total: q.total, snippets };
  }

  async email(id: string): Promise<FullEmail | undefined> {
    const r = await this.jmap.call([
      [
        'Email/get',
        {
          accountId: this.#account,
          ids: [id],
          properties: [...listProperties, 'cc', 'replyTo', 'sentAt', 'messageId', 'inReplyTo', 'references', 'attachments', 'textBody', 'htmlBody', 'bodyValues'],
          fetchTextBodyValues: true,
          maxBodyValueBytes: 256 * 1024,
        },
        'e',
      ],
    ]);
    return (r.get('e')?.list as FullEmail[])[0];
  }

  /** The Emails of a conversation, oldest first (RFC 8621 §3: Thread/get, then Email/get of its emailIds). */
  async conversation(threadId: string): Promise<ListItem[]> {
    const r = await this.jmap.call([
      ['Thread/get', { accountId: this.#account, ids: [threadId] }, 't'],
      ['Email/get', { accountId: this.#account, '#ids': { resultOf: 't', name: 'Thread/get', path: '/list/*/emailIds' }, properties: listProperties }, 'g'],
    ]);
    const order = ((r.get('t')?.list ?? []) as { emailIds: string[] }[])[0]?.emailIds ?? [];
    const byId = new Map(((r.get('g')?.list ?? []) as ListItem[]).map((e) => [e.id, e]));
    return order.flatMap((id) => byId.get(id) ?? []);
  }

  /** Sets or clears keywords ($seen, $flagged …) on some Emails. */
  async setKeyword(ids: readonly string[], keyword: string, on: boolean): Promise<void> {
    const update: Record<string, Record<string, unknown>> = {};
    for (const id of ids) update[id] = { [`keywords/${keyword}`]: on ? true : null };
    await this.#set({ update });
  }

  /** Moves an Email to another mailbox (it keeps its id; maxMailboxesPerEmail is 1). */
  async move(id: string, mailboxId: string): Promise<void> {
    await this.#set({ update: { [id]: { mailboxIds: { [mailboxId]: true } } } });
  }

  async destroy(id: string): Promise<void> {
    await this.#set({ destroy: [id] });
  }

  async #set(args: Record<string, unknown>): Promise<Record<string, unknown>> {
    const r = (await this.jmap.call([['Email/set', { accountId: this.#account, ...args }, 's']])).get('s') ?? {};
    const failed = { ...(r.notCreated as object), ...(r.notUpdated as object), ...(r.notDestroyed as object) } as Record<string, { type: string; description?: string }>;
    const first = Object.values(failed)[0];
    if (first) throw new Error(first.description ?? first.type);
    return r;
  }

  /** The draft as a JMAP Email to create in `mailboxId`. */
  #emailOf(draft: Draft, from: string, mailboxId: string, keywords: Record<string, true>): Record<string, unknown> {
    return {
      mailboxIds: { [mailboxId]: true },
      keywords,
      from: [{ email: from }],
      to: parseAddressList(draft.to),
      ...(draft.cc.trim() !== '' && { cc: parseAddressList(draft.cc) }),
      subject: draft.subject,
      ...(draft.inReplyTo && { inReplyTo: draft.inReplyTo }),
      ...(draft.references && { references: draft.references }),
      textBody: [{ partId: 't', type: 'text/plain' }],
      ...(draft.html !== undefined && { htmlBody: [{ partId: 'h', type: 'text/html' }] }),
      attachments: draft.attachments.map((a) => ({ blobId: a.blobId, type: a.type, name: a.name, disposition: 'attachment' })),
      bodyValues: { t: { value: draft.text }, ...(draft.html !== undefined && { h: { value: draft.html } }) },
    };
  }

  /** Saves a draft in Drafts, replacing the previous save; answers the new draft's id. */
  async saveDraft(draft: Draft, drafts: Mailbox, previous: string | undefined): Promise<string> {
    const r = await this.#set({ create: { d: this.#emailOf(draft, this.jmap.session.username, drafts.id, { $draft: true, $seen: true }) }, ...(previous && { destroy: [previous] }) });
    return (r.created as Record<string, { id: string }>).d.id;
  }

  /**
   * Sends: the message is stored in Drafts, submitted (EmailSubmission/set) and, once sent,
   * moved to Sent (onSuccessUpdateEmail); the draft saved while typing is removed. A refusal
   * (a recipient, the sender rules) rejects with its sentence and leaves the message in Drafts.
   */
  async send(draft: Draft, drafts: Mailbox, sent: Mailbox, previousDraft: string | undefined): Promise<void> {
    const account = this.#account;
    const r = await this.jmap.call([
      ['Email/set', { accountId: account, create: { m: this.#emailOf(draft, this.jmap.session.username, drafts.id, { $draft: true, $seen: true }) }, ...(previousDraft && { destroy: [previousDraft] }) }, 'c'],
      ['EmailSubmission/set', { accountId: account, create: { s: { identityId: 'i0', emailId: '#m' } }, onSuccessUpdateEmail: { '#s': { mailboxIds: { [sent.id]: true }, 'keywords/$draft': null } } }, 's'],
    ]);
    const notCreated = (r.get('c')?.notCreated ?? {}) as Record<string, { description?: string; type: string }>;
    const notSent = (r.get('s')?.notCreated ?? {}) as Record<string, { description?: string; type: string }>;
    const failure = notCreated.m ?? notSent.s;
    if (failure) throw new Error(failure.description ?? failure.type);
  }
}
