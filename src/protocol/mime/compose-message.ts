/**
 * @module compose-message
 * A message made from parts, for every place that writes one for a user: JMAP's Email/set
 * create (RFC 8621 §4.6) and the JSON form of HTTP submission. Header fields, the text and
 * HTML bodies, attachments, in the usual MIME shape:
 * text/plain, or multipart/alternative of text and HTML, inside multipart/mixed when there
 * are attachments.
 * Standards: RFC 5322 §3.6 (fields), RFC 2045–2047 (MIME, base64, encoded words in
 *   unstructured text and display names), RFC 2231 (non-ASCII file names), RFC 2183.
 * Security: header values from the client lose CR and LF (no field can be injected); boundaries
 *   are random; every body is base64, so no line can end the message early.
 * Limitations: no multipart/related (inline images are attachments with a cid); no
 *   header:X properties at create.
 */
import { randomBytes } from 'node:crypto';
import { foldHeader } from './header-block.js';
import { formatDate } from './trace-headers.js';

export interface ComposeAddress {
  readonly name?: string | null;
  readonly email: string;
}

export interface ComposePart {
  readonly type: string;
  readonly data: Buffer;
  readonly name?: string | null;
  readonly disposition?: string | null;
  readonly cid?: string | null;
}

export interface ComposeInput {
  readonly from?: readonly ComposeAddress[];
  readonly sender?: readonly ComposeAddress[];
  readonly to?: readonly ComposeAddress[];
  readonly cc?: readonly ComposeAddress[];
  readonly bcc?: readonly ComposeAddress[];
  readonly replyTo?: readonly ComposeAddress[];
  readonly subject?: string;
  readonly sentAt?: number;
  readonly messageId?: string;
  readonly inReplyTo?: readonly string[];
  readonly references?: readonly string[];
  readonly text?: string;
  readonly html?: string;
  readonly attachments: readonly ComposePart[];
  /** the domain of generated Message-IDs */
  readonly domain: string;
  /** more header fields, after MIME-Version (reports: TLS-Report-Domain …) */
  readonly fields?: readonly (readonly [string, string])[];
  /** the multipart type around attachments: "mixed" (default), or e.g. `report; report-type="tlsrpt"` (RFC 6522) */
  readonly multipart?: string;
}

const clean = (s: string): string => s.replace(/[\r\n]+/g, ' ');

/** RFC 2047 B encoding, split on character boundaries, when the text is not plain ASCII. */
export function encodeWords(text: string): string {
  const s = clean(text);
  if (/^[\x20-\x7e]*$/.test(s)) return s;
  const words: string[] = [];
  let chunk = '';
  for (const ch of s) {
    if (Buffer.byteLength(chunk + ch) > 45) {
      words.push(chunk);
      chunk = '';
    }
    chunk += ch;
  }
  if (chunk) words.push(chunk);
  return words.map((w) => `=?UTF-8?B?${Buffer.from(w).toString('base64')}?=`).join(' ');
}

function mailbox(a: ComposeAddress): string {
  const email = clean(a.email).replace(/[<>\s]/g, '');
  if (!a.name) return email;
  const name = clean(a.name);
  const shown = /^[\x20-\x7e]*$/.test(name) ? `"${name.replace(/(["\\])/g, '\\$1')}"` : encodeWords(name);
  return `${shown} <${email}>`;
}

function base64Lines(data: Buffer): string {
  return (data.toString('base64').match(/.{1,76}/g) ?? []).join('\r\n');
}

function leaf(p: ComposePart): string {
  const fields = [`Content-Type: ${p.type}${p.type.startsWith('text/') ? '; charset=utf-8' : ''}`, 'Content-Transfer-Encoding: base64'];
  if (p.name || p.disposition) {
    const name = p.name ? (/^[\x20-\x7e]*$/.test(p.name) ? `; filename="${clean(p.name).replace(/(["\\])/g, '\\$1')}"` : `; filename*=UTF-8''${encodeURIComponent(p.name)}`) : '';
    fields.push(`Content-Disposition: ${p.disposition === 'inline' ? 'inline' : 'attachment'}${name}`);
  }
  if (p.cid) fields.push(`Content-ID: <${clean(p.cid).replace(/[<>]/g, '')}>`);
  return `${fields.join('\r\n')}\r\n\r\n${base64Lines(p.data)}\r\n`;
}

function multipart(subtype: string, parts: readonly string[]): string {
  const boundary = `=_correio_${randomBytes(12).toString('hex')}`;
  return `Content-Type: multipart/${subtype}; boundary="${boundary}"\r\n\r\n${parts.map((p) => `--${boundary}\r\n${p}`).join('')}--${boundary}--\r\n`;
}

/** The whole message, CRLF line ends. */
export function composeMessage(m: ComposeInput): Buffer {
  const fields: string[] = [];
  const addresses = (name: string, list: readonly ComposeAddress[] | undefined): void => {
    if (list && list.length > 0) fields.push(foldHeader(name, list.map(mailbox).join(', ')));
  };
  addresses('From', m.from);
  addresses('Sender', m.sender);
  addresses('To', m.to);
  addresses('Cc', m.cc);
  addresses('Bcc', m.bcc);
  addresses('Reply-To', m.replyTo);
  if (m.subject !== undefined) fields.push(foldHeader('Subject', encodeWords(m.subject)));
  fields.push(`Date: ${formatDate(m.sentAt ?? Date.now())}`);
  fields.push(`Message-ID: <${m.messageId ? clean(m.messageId).replace(/[<>\s]/g, '') : `${randomBytes(12).toString('hex')}@${m.domain}`}>`);
  const ids = (list: readonly string[] | undefined): string => (list ?? []).map((i) => `<${clean(i).replace(/[<>\s]/g, '')}>`).join(' ');
  if (m.inReplyTo?.length) fields.push(foldHeader('In-Reply-To', ids(m.inReplyTo)));
  if (m.references?.length) fields.push(foldHeader('References', ids(m.references)));
  fields.push('MIME-Version: 1.0');
  for (const [name, value] of m.fields ?? []) fields.push(foldHeader(clean(name).replace(/[^\x21-\x39\x3b-\x7e]/g, ''), encodeWords(value)));
  const text = m.text !== undefined ? leaf({ type: 'text/plain', data: Buffer.from(m.text) }) : undefined;
  const html = m.html !== undefined ? leaf({ type: 'text/html', data: Buffer.from(m.html) }) : undefined;
  let body = text && html ? multipart('alternative', [text, html]) : (text ?? html ?? leaf({ type: 'text/plain', data: Buffer.alloc(0) }));
  if (m.attachments.length > 0) body = multipart(m.multipart ?? 'mixed', [body, ...m.attachments.map(leaf)]);
  return Buffer.from(`${fields.join('\r\n')}\r\n${body}`);
}
