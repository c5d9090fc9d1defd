/**
 * @module email-read
 * Reading one Email of the account: its stored message, parsed once per request, and the
 * JMAP Email object built from it and from its Maildir record (RFC 8621 §4.1).
 * Standards: RFC 8621 §4.1 (properties), §4.2 (Email/get arguments: bodyProperties,
 *   fetchTextBodyValues, fetchHTMLBodyValues, fetchAllBodyValues, maxBodyValueBytes).
 * Security: messages are read through the folder store (its path checks).
 * Limitations: the whole message is read to answer any property but the Maildir ones (once
 *   while it stays in the process's ParsedCache).
 */
import { findHeader } from '../../protocol/mime/index.js';
import { readWhole } from '../../util/index.js';
import { MethodError, type Args } from './jmap-protocol.js';
import type { AccountSession } from './jmap-account.js';
import { asText, headerProperty, parseAddresses, parseDate, parseEmail, parseMessageIds, plainText, type BodyPart, type ParsedEmail } from './email-parse.js';

export { plainText };
import { keywordsOf, type EmailRecord } from './mail-view.js';

export const emailProperties = [
  'id', 'blobId', 'threadId', 'mailboxIds', 'keywords', 'size', 'receivedAt', 'messageId', 'inReplyTo', 'references', 'sender', 'from', 'to', 'cc', 'bcc',
  'replyTo', 'subject', 'sentAt', 'hasAttachment', 'preview', 'bodyValues', 'textBody', 'htmlBody', 'attachments', 'headers', 'bodyStructure',
];
export const defaultEmailProperties = emailProperties.filter((p) => p !== 'headers' && p !== 'bodyStructure');
export const bodyPartProperties = ['partId', 'blobId', 'size', 'headers', 'name', 'type', 'charset', 'disposition', 'cid', 'language', 'location', 'subParts'];
export const defaultBodyProperties = ['partId', 'blobId', 'size', 'name', 'type', 'charset', 'disposition', 'cid', 'language', 'location'];
const maildirOnly = new Set(['id', 'blobId', 'threadId', 'mailboxIds', 'keywords', 'size', 'receivedAt']);

export const isoDate = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Messages read in this request, parsed once. */
export class MessageCache {
  readonly #parsed = new Map<string, Promise<{ raw: Buffer; parsed: ParsedEmail }>>();
  constructor(private readonly account: AccountSession) {}

  raw(e: EmailRecord): Promise<Buffer> {
    return this.load(e).then((x) => x.raw);
  }

  load(e: EmailRecord): Promise<{ raw: Buffer; parsed: ParsedEmail }> {
    let p = this.#parsed.get(e.id);
    if (!p) {
      // kept across requests (parsed-cache.ts): the same page is asked for again and again
      const shared = this.account.mailView.parsed;
      const known = shared.get(this.account.accountId, e.blobId);
      p = known
        ? Promise.resolve(known)
        : this.account.folders.open(this.account.user, e.folder, e.key).then(async (s) => {
            const raw = await readWhole(s);
            const m = { raw, parsed: parseEmail(raw, e.blobId) };
            shared.set(this.account.accountId, e.blobId, m);
            return m;
          });
      this.#parsed.set(e.id, p);
    }
    return p;
  }
}

function pickPart(p: BodyPart, props: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of props) {
    if (k === 'subParts') {
      if (p.subParts) out.subParts = p.subParts.map((s) => pickPart(s, props));
    } else out[k] = (p as unknown as Record<string, unknown>)[k];
  }
  return out;
}

export interface GetOptions {
  readonly properties: readonly string[];
  readonly bodyProperties: readonly string[];
  readonly fetchText: boolean;
  readonly fetchHtml: boolean;
  readonly fetchAll: boolean;
  readonly maxBodyValueBytes: number;
}

export function getOptions(args: Args, properties: readonly string[]): GetOptions {
  const bp = args.bodyProperties;
  if (bp !== undefined && bp !== null && (!Array.isArray(bp) || !bp.every((x) => typeof x === 'string' && (bodyPartProperties.includes(x) || x.startsWith('header:'))))) {
    throw new MethodError('invalidArguments', 'bodyProperties must list EmailBodyPart properties');
  }
  const max = args.maxBodyValueBytes;
  if (max !== undefined && (typeof max !== 'number' || !Number.isInteger(max) || max < 0)) throw new MethodError('invalidArguments', 'maxBodyValueBytes must be an unsigned integer');
  return {
    properties,
    bodyProperties: (bp as string[] | undefined | null) ?? defaultBodyProperties,
    fetchText: args.fetchTextBodyValues === true,
    fetchHtml: args.fetchHTMLBodyValues === true,
    fetchAll: args.fetchAllBodyValues === true,
    maxBodyValueBytes: typeof max === 'number' ? max : 0,
  };
}

/** One Email object with the asked properties. */
export async function emailObject(e: EmailRecord, opts: GetOptions, cache: MessageCache): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = { id: e.id };
  const base: Record<string, unknown> = {
    blobId: e.blobId,
    threadId: e.threadId,
    mailboxIds: { [e.mailboxId]: true },
    keywords: keywordsOf(e.flags, e.keywords),
    size: e.size,
    receivedAt: isoDate(e.receivedAt),
  };
  const needsMessage = opts.properties.some((p) => !maildirOnly.has(p));
  const parsed = needsMessage ? (await cache.load(e)).parsed : undefined;
  for (const p of opts.properties) {
    if (p in base) out[p] = base[p];
    else if (parsed) out[p] = messageProperty(parsed, p, opts);
  }
  return out;
}

function messageProperty(parsed: ParsedEmail, p: string, opts: GetOptions): unknown {
  const h = (name: string): string | undefined => findHeader(parsed.fields, name);
  const parts = (list: BodyPart[]): Record<string, unknown>[] => list.map((x) => pickPart(x, opts.bodyProperties));
  switch (p) {
    case 'messageId':
      return parseMessageIds(h('message-id'));
    case 'inReplyTo':
      return parseMessageIds(h('in-reply-to'));
    case 'references':
      return parseMessageIds(h('references'));
    case 'sender':
    case 'from':
    case 'to':
    case 'cc':
    case 'bcc':
      return parseAddresses(h(p));
    case 'replyTo':
      return parseAddresses(h('reply-to'));
    case 'subject':
      return asText(h('subject'));
    case 'sentAt':
      return parseDate(h('date'));
    case 'hasAttachment':
      return parsed.attachments.length > 0;
    case 'preview':
      return plainText(parsed).replace(/\s+/g, ' ').trim().slice(0, 256);
    case 'headers':
      return parsed.fields.map((f) => ({ name: f.name, value: ` ${f.value}` }));
    case 'bodyStructure':
      return pickPart(parsed.bodyStructure, [...opts.bodyProperties, 'subParts']);
    case 'textBody':
      return parts(parsed.textBody);
    case 'htmlBody':
      return parts(parsed.htmlBody);
    case 'attachments':
      return parts(parsed.attachments);
    case 'bodyValues':
      return bodyValues(parsed, opts);
    default:
      return headerProperty(parsed.fields, p) ?? null;
  }
}

function bodyValues(parsed: ParsedEmail, opts: GetOptions): Record<string, unknown> {
  const wanted = new Set<BodyPart>();
  const add = (list: BodyPart[]): void => list.filter((x) => x.type.startsWith('text/')).forEach((x) => wanted.add(x));
  if (opts.fetchText || opts.fetchAll) add(parsed.textBody);
  if (opts.fetchHtml || opts.fetchAll) add(parsed.htmlBody);
  if (opts.fetchAll) {
    const walk = (x: BodyPart): void => {
      if (x.subParts) x.subParts.forEach(walk);
      else if (x.type.startsWith('text/')) wanted.add(x);
    };
    walk(parsed.bodyStructure);
  }
  const out: Record<string, unknown> = {};
  for (const part of wanted) {
    if (!part.partId) continue;
    const t = parsed.text(part.partId);
    if (!t) continue;
    let value = t.value;
    let isTruncated = false;
    if (opts.maxBodyValueBytes > 0 && Buffer.byteLength(value) > opts.maxBodyValueBytes) {
      // cut on a character boundary, never inside a UTF-8 sequence
      value = Buffer.from(value).subarray(0, opts.maxBodyValueBytes).toString('utf8').replace(/\uFFFD$/, '');
      isTruncated = true;
    }
    out[part.partId] = { value, isEncodingProblem: t.isEncodingProblem, isTruncated };
  }
  return out;
}
