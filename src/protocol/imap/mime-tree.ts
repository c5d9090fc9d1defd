/**
 * @module mime-tree
 * The MIME structure of a stored message, for FETCH BODY[part], BODYSTRUCTURE and ENVELOPE:
 * each part's header and body as offsets into the message, its Content-* fields parsed, the
 * parts of a multipart and the message inside a message/rfc822.
 * Standards: RFC 2045 §5.1 (Content-Type, parameters: token or quoted-string), RFC 2046 §5.1.1
 *   (boundaries: a delimiter line is CRLF "--" boundary, the CRLF belonging to the delimiter;
 *   the close delimiter ends with "--"; preamble and epilogue are not parts), RFC 2183
 *   (Content-Disposition), RFC 9051 §6.4.5 (part numbering: a non-multipart message has one
 *   part, numbered 1; the parts of an embedded message are numbered below it).
 * Security: broken MIME never throws: a multipart without its boundary is read as one text
 *   part, nesting is bounded (deeper parts are read as plain bodies), header fields are parsed
 *   by the shared protocol/mime code.
 * Limitations: parameters are given raw (RFC 2231 continuations are not joined).
 */
import { decodeHeaderBytes, parseHeaderFields, type HeaderField } from '../mime/index.js';

export interface ContentType {
  readonly type: string;
  readonly subtype: string;
  readonly params: readonly (readonly [string, string])[];
}

export interface MimePart {
  /** offsets in the whole message: header block [headerStart, bodyStart), body [bodyStart, end) */
  readonly headerStart: number;
  readonly bodyStart: number;
  readonly end: number;
  readonly fields: readonly HeaderField[];
  readonly contentType: ContentType;
  readonly children?: readonly MimePart[];
  /** the embedded message of a message/rfc822 part */
  readonly message?: MimePart;
}

const maxDepth = 40;

/** Finds the end of the header block at `from`: the offset after the empty line (or `end`). */
function headerEnd(buf: Buffer, from: number, end: number): number {
  if (buf[from] === 0x0d && buf[from + 1] === 0x0a) return from + 2;
  if (buf[from] === 0x0a) return from + 1;
  let i = from;
  for (;;) {
    const lf = buf.indexOf(0x0a, i);
    if (lf < 0 || lf >= end) return end;
    const next = lf + 1;
    if (buf[next] === 0x0a) return Math.min(next + 1, end);
    if (buf[next] === 0x0d && buf[next + 1] === 0x0a) return Math.min(next + 2, end);
    i = next;
  }
}

/** RFC 2045 §5.1 value and parameters: `type/subtype; a=b; c="d e"` */
export function parseParams(value: string): { value: string; params: [string, string][] } {
  const params: [string, string][] = [];
  let i = 0;
  const s = value.replace(/\([^()]*\)/g, ' ');
  const skip = (): void => {
    while (i < s.length && /[ \t\r\n]/.test(s[i])) i++;
  };
  skip();
  const start = i;
  while (i < s.length && s[i] !== ';') i++;
  const head = s.slice(start, i).trim();
  while (i < s.length && s[i] === ';') {
    i++;
    skip();
    const ks = i;
    while (i < s.length && s[i] !== '=' && s[i] !== ';') i++;
    const key = s.slice(ks, i).trim();
    if (s[i] !== '=') continue;
    i++;
    skip();
    let v = '';
    if (s[i] === '"') {
      i++;
      while (i < s.length && s[i] !== '"') {
        if (s[i] === '\\' && i + 1 < s.length) i++;
        v += s[i++];
      }
      i++;
      while (i < s.length && s[i] !== ';') i++;
    } else {
      const vs = i;
      while (i < s.length && s[i] !== ';') i++;
      v = s.slice(vs, i).trim();
    }
    if (key !== '' && params.length < 100) params.push([key.toLowerCase(), v]);
  }
  return { value: head, params };
}

function contentTypeOf(fields: readonly HeaderField[], parentDigest: boolean): ContentType {
  const raw = fields.find((f) => f.name.toLowerCase() === 'content-type')?.value;
  const dflt: ContentType = parentDigest
    ? { type: 'message', subtype: 'rfc822', params: [] }
    : { type: 'text', subtype: 'plain', params: [['charset', 'us-ascii']] };
  if (raw === undefined) return dflt;
  const p = parseParams(raw);
  const m = /^([^\s/]+)\/([^\s/]+)$/.exec(p.value);
  // RFC 2045 §5.2: an invalid Content-Type is read as the default
  if (!m) return dflt;
  return { type: m[1].toLowerCase(), subtype: m[2].toLowerCase(), params: p.params };
}

export function parseMimeTree(buf: Buffer): MimePart {
  return parsePart(buf, 0, buf.length, 0, false);
}

function parsePart(buf: Buffer, start: number, end: number, depth: number, parentDigest: boolean): MimePart {
  const bodyStart = headerEnd(buf, start, end);
  const fields = parseHeaderFields(decodeHeaderBytes(buf.subarray(start, bodyStart)));
  let contentType = contentTypeOf(fields, parentDigest);
  if (depth < maxDepth && contentType.type === 'multipart') {
    const boundary = contentType.params.find(([k]) => k === 'boundary')?.[1];
    const children = boundary ? splitMultipart(buf, bodyStart, end, boundary) : undefined;
    if (children && children.length > 0) {
      const digest = contentType.subtype === 'digest';
      return { headerStart: start, bodyStart, end, fields, contentType, children: children.map(([s, e]) => parsePart(buf, s, e, depth + 1, digest)) };
    }
    contentType = { type: 'text', subtype: 'plain', params: [['charset', 'us-ascii']] };
  }
  if (depth < maxDepth && contentType.type === 'message' && (contentType.subtype === 'rfc822' || contentType.subtype === 'global')) {
    return { headerStart: start, bodyStart, end, fields, contentType, message: parsePart(buf, bodyStart, end, depth + 1, false) };
  }
  return { headerStart: start, bodyStart, end, fields, contentType };
}

/** The [start, end) of each body part between the delimiter lines of `boundary`. */
function splitMultipart(buf: Buffer, from: number, end: number, boundary: string): [number, number][] {
  const delim = Buffer.from(`--${boundary}`, 'latin1');
  const parts: [number, number][] = [];
  let partStart = -1;
  let lineStart = from;
  while (lineStart < end) {
    let lf = buf.indexOf(0x0a, lineStart);
    if (lf < 0 || lf >= end) lf = end;
    if (buf[lineStart] === 0x2d && buf.subarray(lineStart, lineStart + delim.length).equals(delim)) {
      const rest = buf.toString('latin1', lineStart + delim.length, lf).replace(/\r$/, '');
      const close = rest.startsWith('--');
      if (/^[ \t]*$/.test(close ? rest.slice(2) : rest)) {
        if (partStart >= 0) {
          // the CRLF before the delimiter belongs to it (RFC 2046 §5.1.1)
          let e = lineStart;
          if (e > partStart && buf[e - 1] === 0x0a) e--;
          if (e > partStart && buf[e - 1] === 0x0d) e--;
          parts.push([partStart, Math.max(partStart, e)]);
          if (parts.length >= 1000) return parts;
        }
        if (close) return parts;
        partStart = Math.min(lf + 1, end);
      }
    }
    lineStart = lf + 1;
  }
  // no close delimiter: the last part runs to the end
  if (partStart >= 0) parts.push([partStart, end]);
  return parts;
}

/**
 * The part at a path ([] = the message itself); undefined when there is none. RFC 9051 §6.4.5:
 * a non-multipart message (or embedded message) has one part, 1, itself; the parts below a
 * message/rfc822 part are those of the message it holds.
 */
export function findPart(root: MimePart, path: readonly number[]): MimePart | undefined {
  let p = root;
  for (const [i, n] of path.entries()) {
    let container: MimePart;
    if (i === 0) container = p;
    else if (p.message) container = p.message;
    else if (p.children) container = p;
    else return undefined;
    if (container.children) {
      const c = container.children[n - 1];
      if (!c) return undefined;
      p = c;
    } else if (n === 1) p = container;
    else return undefined;
  }
  return p;
}
