/**
 * @module compose-message
 * Builds an RFC 5322 message from parts (the JSON form of HTTP submission): From, To, Cc,
 * Subject, a text and/or HTML body, attachments. Date and Message-ID are left to intake (a
 * submission gets them there, RFC 6409 §8). Bcc recipients are never written.
 * Standards: RFC 5322 §3.4 (address fields), §3.6; RFC 2045/2046 (MIME, multipart/mixed and
 *   /alternative), RFC 2047 §4.1 (B-encoded words for non-ASCII subjects and display names),
 *   RFC 2183 (Content-Disposition), RFC 2231 is not used: non-ASCII file names are B-encoded
 *   words in quotes, as mail readers take them.
 * Security: every value written into a header has CR and LF removed; bodies are base64, so no
 *   line of the input can end the header block, a part or the message.
 * Limitations: no inline images by Content-ID, no other charsets than UTF-8.
 */
import { randomBytes } from 'node:crypto';

export interface ComposeAttachment {
  readonly filename: string;
  readonly contentType: string;
  readonly content: Buffer;
}

export interface ComposeParts {
  /** header values as given ("Name <a@b>", "a@b"); already checked by the caller */
  readonly from: string;
  readonly to: readonly string[];
  readonly cc: readonly string[];
  readonly subject: string;
  readonly text?: string;
  readonly html?: string;
  readonly attachments: readonly ComposeAttachment[];
}

const oneLine = (s: string): string => s.replace(/[\r\n]+/g, ' ');
const ascii = /^[\x20-\x7e]*$/;

/** RFC 2047 §4.1 B-encoding, in words of at most 75 octets, split between characters. */
export function encodeWords(text: string): string {
  if (ascii.test(text)) return text;
  const words: string[] = [];
  let chunk = '';
  for (const ch of text) {
    // 45 octets of UTF-8 → 60 base64 characters + 12 of framing: within 75
    if (Buffer.byteLength(chunk + ch) > 45) {
      words.push(chunk);
      chunk = '';
    }
    chunk += ch;
  }
  if (chunk !== '') words.push(chunk);
  return words.map((w) => `=?UTF-8?B?${Buffer.from(w, 'utf8').toString('base64')}?=`).join(' ');
}

/** "Display Name <addr>": a non-ASCII display name as encoded words, the address as given. */
function addressField(value: string): string {
  const m = /^\s*(.*?)\s*<([^<>]+)>\s*$/.exec(oneLine(value));
  if (!m || m[1] === '') return oneLine(value).trim();
  const name = m[1].replace(/^"(.*)"$/, '$1');
  return `${ascii.test(name) ? `"${name.replace(/(["\\])/g, '\\$1')}"` : encodeWords(name)} <${m[2]}>`;
}

function base64Lines(b: Buffer): string {
  return (b.toString('base64').match(/.{1,76}/g) ?? []).join('\r\n');
}

interface Part {
  readonly headers: string[];
  readonly body: string;
}

function textPart(type: 'plain' | 'html', text: string): Part {
  const normalized = text.replace(/\r?\n/g, '\r\n');
  return { headers: [`Content-Type: text/${type}; charset=utf-8`, 'Content-Transfer-Encoding: base64'], body: base64Lines(Buffer.from(normalized, 'utf8')) };
}

function multipart(subtype: 'mixed' | 'alternative', parts: readonly Part[]): Part {
  const boundary = `=_correio_${randomBytes(12).toString('hex')}`;
  const body = parts.map((p) => `--${boundary}\r\n${p.headers.join('\r\n')}\r\n\r\n${p.body}\r\n`).join('') + `--${boundary}--`;
  return { headers: [`Content-Type: multipart/${subtype}; boundary="${boundary}"`], body };
}

function attachmentPart(a: ComposeAttachment): Part {
  const name = oneLine(a.filename).replace(/["\\]/g, '_');
  const quoted = `"${encodeWords(name)}"`;
  return {
    headers: [`Content-Type: ${oneLine(a.contentType)}; name=${quoted}`, `Content-Disposition: attachment; filename=${quoted}`, 'Content-Transfer-Encoding: base64'],
    body: base64Lines(a.content),
  };
}

/** The message, CRLF line ends, ready for intake. */
export function composeMessage(p: ComposeParts): Buffer {
  const bodies: Part[] = [];
  if (p.text !== undefined) bodies.push(textPart('plain', p.text));
  if (p.html !== undefined) bodies.push(textPart('html', p.html));
  let main: Part = bodies.length === 0 ? textPart('plain', '') : bodies.length === 1 ? bodies[0] : multipart('alternative', bodies);
  if (p.attachments.length > 0) main = multipart('mixed', [main, ...p.attachments.map(attachmentPart)]);
  const headers = [
    `From: ${addressField(p.from)}`,
    ...(p.to.length > 0 ? [`To: ${p.to.map(addressField).join(',\r\n ')}`] : []),
    ...(p.cc.length > 0 ? [`Cc: ${p.cc.map(addressField).join(',\r\n ')}`] : []),
    `Subject: ${encodeWords(oneLine(p.subject))}`,
    'MIME-Version: 1.0',
    ...main.headers,
  ];
  return Buffer.from(`${headers.join('\r\n')}\r\n\r\n${main.body}\r\n`, 'utf8');
}
