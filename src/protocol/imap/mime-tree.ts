/**
 * @module mime-tree
 * The MIME structure of a stored message, for FETCH BODY[part], BODYSTRUCTURE and ENVELOPE:
 * each part's header and body as offsets into the message, its Content-* fields parsed, the
 * parts of a multipart and the message inside a message/rfc822.
 * Standards: RFC 2045 §5.1-§5.2 (Content-Type; an invalid one reads as text/plain), RFC 2046
 *   §5.1.1 (boundaries: a delimiter line is CRLF "--" boundary, matched as a prefix of the line,
 *   the CRLF belonging to the delimiter; the close delimiter ends with "--"; preamble and
 *   epilogue are not parts), RFC 2231 (a `boundary*` parameter is the boundary too), RFC 9051
 *   §6.4.5 (part numbering: a non-multipart message has one part, numbered 1; the parts of an
 *   embedded message are numbered below it).
 * Security: broken MIME never throws: boundaries are read the way Dovecot reads them (a
 *   delimiter of an outer multipart closes the inner ones; a multipart without delimiters has
 *   no parts), nesting (40) and parts (10,000) are bounded (deeper parts are plain bodies),
 *   header fields are parsed by the shared protocol/mime code.
 * Limitations: none known beyond the bounds; a streamed message's tree holds its header blocks
 *   (mime-octets says what the pass holds).
 */
import { decodeHeaderBytes, parseHeaderFields, type HeaderField } from '../mime/index.js';
import { extendedParam, joinContinuations, parseParams, type Param } from './mime-params.js';
import { MimeOctets } from './mime-octets.js';

export { parseParams } from './mime-params.js';

export interface ContentType {
  /** lower case, for decisions */
  readonly type: string;
  readonly subtype: string;
  /** names in lower case, values as written (RFC 2231 segments not joined) */
  readonly params: readonly Param[];
  /** as written (BODYSTRUCTURE keeps the sender's case), RFC 2231 continuations joined */
  readonly written: { readonly type: string; readonly subtype: string; readonly params: readonly Param[] };
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
  /** parsed as a stream (parseMimeTreeStream): the header block's octets, and the body's line ends */
  readonly header?: Buffer;
  readonly lines?: number;
}

const maxDepth = 40;
const maxParts = 10_000;

function contentTypeOf(fields: readonly HeaderField[], parentDigest: boolean): ContentType {
  // RFC 2045 §5.2 defaults; the first Content-Type counts (as with Dovecot)
  const raw = fields.find((f) => f.name.toLowerCase() === 'content-type')?.value;
  const dflt: ContentType = parentDigest
    ? { type: 'message', subtype: 'rfc822', params: [], written: { type: 'message', subtype: 'rfc822', params: [] } }
    : { type: 'text', subtype: 'plain', params: [['charset', 'us-ascii']], written: { type: 'text', subtype: 'plain', params: [['charset', 'us-ascii']] } };
  if (raw === undefined) return dflt;
  const p = parseParams(raw);
  const m = /^([^\s/]+)\s*\/\s*([^\s/]+)$/.exec(p.value);
  // RFC 2045 §5.2: an invalid Content-Type is read as the default
  if (!m) return dflt;
  return {
    type: m[1].toLowerCase(),
    subtype: m[2].toLowerCase(),
    params: p.params.map(([k, v]) => [k.toLowerCase(), v] as const),
    written: { type: m[1], subtype: m[2], params: joinContinuations(p.params) },
  };
}

export function parseMimeTree(buf: Buffer): MimePart {
  const r = new TreeParser(MimeOctets.whole(buf)).entity(0, [], 0, false).next();
  // the whole message is there: the parser never waits for more octets
  if (!r.done) throw new Error('parseMimeTree: octets missing');
  return r.value.part;
}

/**
 * The tree of a message read as a stream, made in one pass that keeps only its header blocks
 * (each part's `header`) and offsets, and counts its lines (`lines`): BODYSTRUCTURE, ENVELOPE
 * and HEADER of a big message without it in memory. The same parser as parseMimeTree.
 */
export async function parseMimeTreeStream(src: AsyncIterable<Buffer>): Promise<MimePart> {
  const o = MimeOctets.stream();
  const parse = new TreeParser(o).entity(0, [], 0, false);
  const it = src[Symbol.asyncIterator]();
  for (let r = parse.next(); ; r = parse.next()) {
    if (r.done) return r.value.part;
    const c = await it.next();
    if (c.done) o.finish();
    else o.push(c.value);
  }
}

/** A delimiter line found while reading a part: which open multipart it belongs to. */
interface Hit {
  /** index in the boundary stack (0 = outermost) */
  readonly level: number;
  readonly close: boolean;
  readonly lineStart: number;
  /** the offset after the delimiter line */
  readonly next: number;
}

/** What a part's header gives. */
interface PartBase {
  readonly headerStart: number;
  readonly fields: readonly HeaderField[];
  readonly contentType: ContentType;
}

/** The parser's steps: each may wait (yield) for more octets of a streamed message. */
type Step<T> = Generator<void, T, void>;

/**
 * One pass over the lines with the boundaries of the open multiparts (RFC 2046 §5.1.1): a
 * line is a delimiter when it starts with "--" and a boundary (a prefix match: text after the
 * boundary is ignored, as the RFC's note to implementors says); when several open boundaries
 * match, the longest, then the innermost, wins. A delimiter of an outer multipart also ends
 * the inner ones (their close delimiter missing). A multipart without any delimiter has no
 * parts (BODYSTRUCTURE shows an empty text/plain, body-structure.ts). The octets are read
 * forward only (mime-octets), each line once.
 */
class TreeParser {
  private parts = 0;
  constructor(private readonly o: MimeOctets) {}

  /** A part [bodyStart, end): its line count and header octets when streaming (the body is not kept). */
  private made(base: PartBase, header: Buffer | undefined, bodyStart: number, end: number, lf0: number, children?: readonly MimePart[], message?: MimePart): MimePart {
    const p: { -readonly [K in keyof MimePart]: MimePart[K] } = { headerStart: base.headerStart, bodyStart, end, fields: base.fields, contentType: base.contentType };
    if (children) p.children = children;
    if (message) p.message = message;
    if (this.o.counting) {
      p.header = header;
      p.lines = this.o.lfBefore(end) - lf0;
    }
    return p;
  }

  *entity(start: number, stack: readonly Buffer[], depth: number, parentDigest: boolean): Step<{ part: MimePart; hit?: Hit }> {
    const o = this.o;
    o.pin = start;
    const head = yield* this.header(start, stack);
    const raw = o.slice(start, head.end);
    o.pin = undefined;
    const fields = parseHeaderFields(decodeHeaderBytes(raw));
    const contentType = contentTypeOf(fields, parentDigest);
    const base = { headerStart: start, fields, contentType };
    const header = o.counting ? raw : undefined;
    if (head.hit) {
      const at = this.before(head.hit, start);
      // the header block ends before the delimiter's CRLF, as the part does
      return { part: this.made(base, header?.subarray(0, at - start), at, at, o.counting ? o.lfBefore(at) : 0), hit: head.hit };
    }
    const bodyStart = head.end;
    const lf0 = o.counting ? o.lfBefore(bodyStart) : 0;
    const boundary = contentType.type === 'multipart' ? extendedParam(contentType.params, 'boundary') : undefined;
    if (contentType.type === 'multipart' && depth < maxDepth && this.parts < maxParts) {
      const children: MimePart[] = [];
      if (boundary === undefined || boundary === '') {
        const hit = yield* this.scan(bodyStart, stack);
        return { part: this.made(base, header, bodyStart, this.endAt(hit, bodyStart), lf0, children), hit };
      }
      // RFC 2046 §5.1.1 allows 70 characters; a longer boundary compares by its first 80 octets (as Dovecot)
      const mine = [...stack, Buffer.from(boundary, 'latin1').subarray(0, 80)];
      const level = stack.length;
      let hit = yield* this.scan(bodyStart, mine);
      while (hit && hit.level === level && !hit.close && this.parts++ < maxParts) {
        const child = yield* this.entity(hit.next, mine, depth + 1, contentType.subtype === 'digest');
        children.push(child.part);
        hit = child.hit;
      }
      // closed: the epilogue runs to a delimiter of an outer multipart (the line end after the
      // close delimiter is the epilogue's, so an empty epilogue gives its CRLF to no delimiter)
      let min = bodyStart;
      if (hit && hit.level === level) {
        min = hit.next;
        hit = yield* this.scan(hit.next, stack);
      }
      return { part: this.made(base, header, bodyStart, this.endAt(hit, min), lf0, children), hit };
    }
    if (depth < maxDepth && contentType.type === 'message' && (contentType.subtype === 'rfc822' || contentType.subtype === 'global')) {
      const inner = yield* this.entity(bodyStart, stack, depth + 1, false);
      return { part: this.made(base, header, bodyStart, Math.max(bodyStart, inner.part.end), lf0, undefined, inner.part), hit: inner.hit };
    }
    const hit = yield* this.scan(bodyStart, stack);
    return { part: this.made(base, header, bodyStart, this.endAt(hit, bodyStart), lf0), hit };
  }

  /** The end of the header block from `from` (after its empty line), or a delimiter line inside it. */
  private header(from: number, stack: readonly Buffer[]): Step<{ end: number; hit?: Hit }> {
    return this.lines(from, stack, true);
  }

  /** The first delimiter line of `stack` at or after `from`. */
  private *scan(from: number, stack: readonly Buffer[]): Step<Hit | undefined> {
    return (yield* this.lines(from, stack, false)).hit;
  }

  /** Reads the lines from `from` to a delimiter of `stack` or, in a header block, to its empty line. */
  private *lines(from: number, stack: readonly Buffer[], header: boolean): Step<{ end: number; hit?: Hit }> {
    const o = this.o;
    if (!header && stack.length === 0) {
      // no open multipart, no delimiter: the rest is the part's (a stream is read to its end)
      while (!o.done) {
        o.at = o.end;
        yield;
      }
      return { end: o.end };
    }
    for (let i = from; ; ) {
      // the offset of the LF ending the line at i (-1: the message ends first), once the line is held
      let lf = o.lf(i);
      while (lf === -2) {
        o.at = i;
        yield;
        lf = o.lf(i);
      }
      if (i >= o.end) break;
      if (header && o.byte(i) === 0x0a) return { end: i + 1 };
      if (header && o.byte(i) === 0x0d && o.byte(i + 1) === 0x0a) return { end: i + 2 };
      const hit = this.delimiter(i, lf, stack);
      if (hit) return { end: i, hit };
      if (lf < 0) break;
      i = lf + 1;
    }
    return { end: o.end };
  }

  private delimiter(lineStart: number, lf: number, stack: readonly Buffer[]): Hit | undefined {
    const o = this.o;
    if (o.byte(lineStart) !== 0x2d || o.byte(lineStart + 1) !== 0x2d) return undefined;
    let level = -1;
    for (let k = stack.length - 1; k >= 0; k--) {
      const b = stack[k];
      if ((level < 0 || b.length > stack[level].length) && o.equals(lineStart + 2, b)) level = k;
    }
    if (level < 0) return undefined;
    const after = lineStart + 2 + stack[level].length;
    return { level, close: o.byte(after) === 0x2d && o.byte(after + 1) === 0x2d, lineStart, next: lf < 0 ? o.end : lf + 1 };
  }

  /** Where a part before a delimiter ends: the CRLF before the delimiter belongs to it. */
  private before(hit: Hit, min: number): number {
    let e = hit.lineStart;
    if (e > min && this.o.byte(e - 1) === 0x0a) e--;
    if (e > min && this.o.byte(e - 1) === 0x0d) e--;
    return e;
  }

  private endAt(hit: Hit | undefined, min: number): number {
    return hit ? Math.max(min, this.before(hit, min)) : this.o.end;
  }
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
