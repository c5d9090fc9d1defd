/**
 * @module body-structure
 * FETCH BODY and BODYSTRUCTURE from a MIME tree.
 * Standards: RFC 9051 §7.5.2 (body fields: type, subtype, parameters, id, description,
 *   encoding, size; lines for text/*; envelope, body and lines for message/rfc822; extension
 *   data md5, disposition, language, location; a multipart is its parts then its subtype, and
 *   parameters, disposition, language, location as extension data).
 * Security: sizes and line counts come from the stored octets, never from headers.
 * Limitations: Content-MD5 is given as written.
 */
import type { HeaderField } from '../mime/index.js';
import { envelopeOf } from './envelope.js';
import { ImapRun, type ImapValue } from './imap-value.js';
import { parseParams, type MimePart } from './mime-tree.js';

const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');

function field(fields: readonly HeaderField[], name: string): string | undefined {
  return fields.find((f) => f.name.toLowerCase() === name)?.value.trim();
}

function nstr(v: string | undefined): ImapValue {
  return v === undefined ? null : latin1(v);
}

function paramList(params: readonly (readonly [string, string])[]): ImapValue {
  if (params.length === 0) return null;
  const out: ImapValue[] = [];
  for (const [k, v] of params) out.push(latin1(k), latin1(v));
  return out;
}

/** Lines of a body: its line ends (a last line without one is not counted, as Dovecot counts). */
function countLines(buf: Buffer, start: number, end: number): number {
  let n = 0;
  for (let i = buf.indexOf(0x0a, start); i >= 0 && i < end; i = buf.indexOf(0x0a, i + 1)) n++;
  return n;
}

function extension(p: MimePart): ImapValue[] {
  const disp = field(p.fields, 'content-disposition');
  let disposition: ImapValue = null;
  if (disp !== undefined) {
    const d = parseParams(disp);
    if (d.value !== '') disposition = [latin1(d.value.toLowerCase()), paramList(d.params)];
  }
  const lang = field(p.fields, 'content-language');
  let language: ImapValue = null;
  if (lang !== undefined) {
    const tags = lang.split(',').map((s) => s.trim()).filter((s) => s !== '');
    language = tags.length === 0 ? null : tags.length === 1 ? latin1(tags[0]) : tags.map(latin1);
  }
  return [disposition, language, nstr(field(p.fields, 'content-location'))];
}

/** BODYSTRUCTURE when `extended`, otherwise BODY. */
export function bodyStructure(buf: Buffer, p: MimePart, extended: boolean): ImapValue {
  const ct = p.contentType;
  if (p.children) {
    const out: ImapValue[] = [new ImapRun(p.children.map((c) => bodyStructure(buf, c, extended))), latin1(ct.subtype)];
    if (extended) out.push(paramList(ct.params), ...extension(p));
    return out;
  }
  const size = Math.max(0, p.end - p.bodyStart);
  // RFC 2045 §5.2: a text part without a charset is US-ASCII (said explicitly, as Dovecot does)
  const params = ct.type === 'text' && !ct.params.some(([k]) => k.toLowerCase() === 'charset') ? [...ct.params, ['charset', 'us-ascii'] as const] : ct.params;
  const out: ImapValue[] = [
    latin1(ct.type),
    latin1(ct.subtype),
    paramList(params),
    nstr(field(p.fields, 'content-id')),
    nstr(field(p.fields, 'content-description')),
    latin1((field(p.fields, 'content-transfer-encoding') ?? '7bit').toLowerCase()),
    size,
  ];
  if (p.message) {
    out.push(envelopeOf(p.message.fields), bodyStructure(buf, p.message, extended), countLines(buf, p.bodyStart, p.end));
  } else if (ct.type === 'text') {
    out.push(countLines(buf, p.bodyStart, p.end));
  }
  if (extended) out.push(nstr(field(p.fields, 'content-md5')), ...extension(p));
  return out;
}
