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
import { countLf } from './mime-octets.js';
import { joinContinuations, parseParams } from './mime-params.js';
import type { MimePart } from './mime-tree.js';

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

/**
 * Lines of a body: its line ends (a last line without one is not counted, as Dovecot counts);
 * counted by the parser for a message parsed as a stream (its body is not in memory).
 */
function countLines(buf: Buffer | undefined, p: MimePart): number {
  if (p.lines !== undefined || !buf) return p.lines ?? 0;
  return countLf(buf, p.bodyStart, p.end);
}

function extension(p: MimePart): ImapValue[] {
  const disp = field(p.fields, 'content-disposition');
  let disposition: ImapValue = null;
  if (disp !== undefined) {
    const d = parseParams(disp);
    if (d.value !== '') disposition = [latin1(d.value), paramList(joinContinuations(d.params))];
  }
  return [disposition, languages(field(p.fields, 'content-language')), nstr(field(p.fields, 'content-location'))];
}

/** RFC 3282 Content-Language: a list of tags (always a list, as Dovecot sends); one ending in junk ends it. */
function languages(value: string | undefined): ImapValue {
  if (value === undefined) return null;
  const tags: Buffer[] = [];
  for (const item of value.replace(/\([^()]*\)/g, ' ').split(',')) {
    const words = item.trim().split(/\s+/).filter((w) => w !== '');
    if (words.length > 0) tags.push(latin1(words[0]));
    if (words.length > 1) break;
  }
  return tags.length === 0 ? null : tags;
}

/** RFC 9051 §7.5.2 body-type-mpart needs one part at least: a multipart without any gets an empty text/plain. */
const noPart: ImapValue = [latin1('text'), latin1('plain'), [latin1('charset'), latin1('us-ascii')], null, null, latin1('7bit'), 0, 0];

/** BODYSTRUCTURE when `extended`, otherwise BODY (`buf`: the message, absent when its tree was made from a stream). */
export function bodyStructure(buf: Buffer | undefined, p: MimePart, extended: boolean): ImapValue {
  // the type, subtype, encoding and parameter names as the sender wrote them (case-insensitive, RFC 2045 §5.1)
  const ct = p.contentType.written;
  if (p.children) {
    const parts = p.children.length === 0 ? [extended ? [...(noPart as ImapValue[]), null, null, null, null] : noPart] : p.children.map((c) => bodyStructure(buf, c, extended));
    const out: ImapValue[] = [new ImapRun(parts), latin1(ct.subtype)];
    if (extended) out.push(paramList(ct.params), ...extension(p));
    return out;
  }
  const size = Math.max(0, p.end - p.bodyStart);
  // RFC 2045 §5.2: a text part without a charset is US-ASCII (said explicitly, as Dovecot does)
  const params = p.contentType.type === 'text' && !ct.params.some(([k]) => k.toLowerCase() === 'charset') ? [...ct.params, ['charset', 'us-ascii'] as const] : ct.params;
  const out: ImapValue[] = [
    // an embedded message's type is named in lower case whatever its header says (as Dovecot)
    latin1(p.message ? 'message' : ct.type),
    latin1(p.message ? p.contentType.subtype : ct.subtype),
    paramList(params),
    nstr(field(p.fields, 'content-id')),
    nstr(field(p.fields, 'content-description')),
    latin1(field(p.fields, 'content-transfer-encoding') ?? '7bit'),
    size,
  ];
  if (p.message) {
    out.push(envelopeOf(p.message.fields), bodyStructure(buf, p.message, extended), countLines(buf, p));
  } else if (p.contentType.type === 'text') {
    out.push(countLines(buf, p));
  }
  if (extended) out.push(nstr(field(p.fields, 'content-md5')), ...extension(p));
  return out;
}
