/**
 * @module email-create
 * New Emails in the account: Email/set create (a draft made from properties, RFC 8621 §4.6)
 * and Email/import (a whole message from a blob, §4.8), both stored with the folder store's
 * append (as IMAP APPEND), and the blobs they are made from (uploads, or parts of stored mail).
 * Standards: RFC 8621 §4.6 (create: mailboxIds, keywords, header properties, bodyValues,
 *   textBody/htmlBody/attachments), §4.8 (Email/import); RFC 8620 §5.3 (SetError).
 * Security: blobs are looked up in this account only; a body value or attachment must be
 *   named by the request (no server file can be attached).
 * Limitations: bodyStructure and header:X at create are refused (invalidProperties).
 */
import type { Args } from './jmap-protocol.js';
import type { AccountSession } from './jmap-account.js';
import { MessageCache } from './email-read.js';
import { composeMessage, type ComposeAddress, type ComposePart } from '../../protocol/mime/compose-message.js';
import type { EmailRecord } from './mail-view.js';
import { badKeyword, parseBlobId, splitKeywords } from './mail-ids.js';

/** The octets and type of a blob of this account: an upload, a stored message, or one of its parts. */
export async function readBlob(account: AccountSession, blobId: string, cache: MessageCache): Promise<{ data: Buffer; type: string } | undefined> {
  const up = await account.blobs.get(account.accountId, blobId);
  if (up) return up;
  const b = parseBlobId(blobId);
  if (!b) return undefined;
  const e = (await account.view()).emailByBlob.get(`b${b.suffix}`);
  if (!e) return undefined;
  const partId = b.partId;
  if (partId === undefined) return { data: await cache.raw(e), type: 'message/rfc822' };
  const { parsed } = await cache.load(e);
  const data = parsed.octets(partId);
  const find = (p: typeof parsed.bodyStructure): string | undefined => (p.partId === partId ? p.type : p.subParts?.map(find).find((t) => t !== undefined));
  return data ? { data, type: find(parsed.bodyStructure) ?? 'application/octet-stream' } : undefined;
}

type SetError = { type: string; description: string; properties?: string[] };

/** The one mailbox of a create or import, with the creation ids of this request resolved. */
function targetFolder(account: AccountSession, mailboxIds: unknown, createdIds: Map<string, string>, view: Awaited<ReturnType<AccountSession['view']>>): string | SetError {
  const ids = typeof mailboxIds === 'object' && mailboxIds !== null ? Object.keys(mailboxIds).map((id) => (id.startsWith('#') ? (createdIds.get(id.slice(1)) ?? id) : id)) : [];
  const m = ids.length === 1 ? view.mailboxById.get(ids[0]) : undefined;
  if (!m) return { type: ids.length > 1 ? 'tooManyMailboxes' : 'invalidProperties', description: 'an email is put in exactly one existing mailbox here', properties: ['mailboxIds'] };
  return m.folder;
}

async function store(account: AccountSession, folder: string, message: Buffer, keywords: unknown, receivedAt: number | undefined): Promise<EmailRecord | SetError> {
  const asked = typeof keywords === 'object' && keywords !== null ? (keywords as Args) : {};
  const bad = badKeyword(asked);
  if (bad !== undefined) return { type: 'invalidProperties', description: `"${bad.slice(0, 40)}" is not a keyword (RFC 8621 §4.1.1)`, properties: ['keywords'] };
  const k = splitKeywords(asked);
  // RFC 8620 §5.3: "overQuota" when the message would take the account over its quota (docs/quota.md)
  const verdict = account.services.quota ? await account.services.quota.check(account.user, message.length) : 'ok';
  if (verdict !== 'ok') return { type: 'overQuota', description: 'the mailbox quota would be exceeded' };
  const { uid } = await account.folders.append(account.user, folder, message, { flags: k.letters, keywords: k.keywords, ...(receivedAt !== undefined && { receivedAt }) });
  account.changed();
  const e = (await account.view()).emails.find((x) => x.folder === folder && x.uid === uid);
  if (!e) throw new Error('the stored email vanished');
  return e;
}

const addressList = (v: unknown): ComposeAddress[] | undefined =>
  Array.isArray(v) ? v.filter((a): a is ComposeAddress => typeof a === 'object' && a !== null && typeof (a as ComposeAddress).email === 'string') : undefined;
const stringList = (v: unknown): string[] | undefined => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined);

const allowed = new Set(['mailboxIds', 'keywords', 'receivedAt', 'from', 'sender', 'to', 'cc', 'bcc', 'replyTo', 'subject', 'sentAt', 'messageId', 'inReplyTo', 'references', 'textBody', 'htmlBody', 'attachments', 'bodyValues']);

/** Email/set create: each creation id → the new Email's id, blobId, threadId, size, or a SetError. */
export async function createEmails(account: AccountSession, create: Record<string, Args>, createdIds: Map<string, string>): Promise<{ created: Args; notCreated: Args }> {
  const created: Args = {};
  const notCreated: Args = {};
  const cache = new MessageCache(account);
  for (const [cid, e] of Object.entries(create)) {
    const bad = Object.keys(e).filter((k) => !allowed.has(k));
    if (bad.length > 0) {
      notCreated[cid] = { type: 'invalidProperties', description: 'these cannot be given at create here', properties: bad };
      continue;
    }
    const folder = targetFolder(account, e.mailboxIds, createdIds, await account.view());
    if (typeof folder !== 'string') {
      notCreated[cid] = folder;
      continue;
    }
    const values = (e.bodyValues ?? {}) as Record<string, { value?: unknown }>;
    const bodyText = (list: unknown, type: string): string | undefined => {
      const p = Array.isArray(list) ? (list[0] as { partId?: unknown; type?: unknown } | undefined) : undefined;
      if (!p || typeof p.partId !== 'string') return undefined;
      const v = values[p.partId]?.value;
      return typeof v === 'string' && (p.type === undefined || p.type === type) ? v : undefined;
    };
    const attachments: ComposePart[] = [];
    let missing: string | undefined;
    for (const a of (Array.isArray(e.attachments) ? e.attachments : []) as Args[]) {
      const blob = typeof a.blobId === 'string' ? await readBlob(account, a.blobId, cache) : undefined;
      if (!blob) {
        missing = String(a.blobId);
        break;
      }
      attachments.push({ type: typeof a.type === 'string' ? a.type : blob.type, data: blob.data, name: typeof a.name === 'string' ? a.name : null, disposition: typeof a.disposition === 'string' ? a.disposition : null, cid: typeof a.cid === 'string' ? a.cid : null });
    }
    if (missing !== undefined) {
      notCreated[cid] = { type: 'blobNotFound', description: `no blob ${missing}`, notFound: [missing] };
      continue;
    }
    const sentAt = dateOf(e.sentAt);
    const message = composeMessage({
      from: addressList(e.from) ?? [{ email: account.user }],
      sender: addressList(e.sender),
      to: addressList(e.to),
      cc: addressList(e.cc),
      bcc: addressList(e.bcc),
      replyTo: addressList(e.replyTo),
      ...(typeof e.subject === 'string' && { subject: e.subject }),
      ...(sentAt !== undefined && { sentAt }),
      ...(stringList(e.messageId)?.[0] !== undefined && { messageId: stringList(e.messageId)![0] }),
      inReplyTo: stringList(e.inReplyTo),
      references: stringList(e.references),
      text: bodyText(e.textBody, 'text/plain'),
      html: bodyText(e.htmlBody, 'text/html'),
      attachments,
      domain: account.user.slice(account.user.lastIndexOf('@') + 1),
    });
    await storeOne(account, folder, message, e, cid, { created, notCreated, createdIds });
  }
  return { created, notCreated };
}

/** A JMAP UTCDate or Date property as ms since epoch; undefined when absent or unreadable. */
function dateOf(v: unknown): number | undefined {
  const ms = typeof v === 'string' ? Date.parse(v) : Number.NaN;
  return Number.isNaN(ms) ? undefined : ms;
}

/** Stores one created or imported message and records the outcome under its creation id. */
async function storeOne(
  account: AccountSession,
  folder: string,
  message: Buffer,
  e: Args,
  cid: string,
  out: { created: Args; notCreated: Args; createdIds: Map<string, string> },
): Promise<void> {
  const r = await store(account, folder, message, e.keywords, dateOf(e.receivedAt));
  if ('type' in r) out.notCreated[cid] = r;
  else {
    out.createdIds.set(cid, r.id);
    out.created[cid] = { id: r.id, blobId: r.blobId, threadId: r.threadId, size: r.size };
  }
}

/** Email/import (RFC 8621 §4.8): messages from blobs into a mailbox. */
export async function importEmails(account: AccountSession, emails: Record<string, Args>, createdIds: Map<string, string>): Promise<{ created: Args; notCreated: Args }> {
  const created: Args = {};
  const notCreated: Args = {};
  const cache = new MessageCache(account);
  for (const [cid, e] of Object.entries(emails)) {
    const blob = typeof e.blobId === 'string' ? await readBlob(account, e.blobId, cache) : undefined;
    if (!blob) {
      notCreated[cid] = { type: 'blobNotFound', description: `no blob ${String(e.blobId)}`, notFound: [e.blobId] };
      continue;
    }
    const folder = targetFolder(account, e.mailboxIds, createdIds, await account.view());
    if (typeof folder !== 'string') {
      notCreated[cid] = folder;
      continue;
    }
    // stored with CRLF line ends, as every message of the store
    const message = Buffer.from(blob.data.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
    await storeOne(account, folder, message, e, cid, { created, notCreated, createdIds });
  }
  return { created, notCreated };
}
