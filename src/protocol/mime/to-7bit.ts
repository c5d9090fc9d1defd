/**
 * @module to-7bit
 * Streaming downgrade of a message with 8-bit content to 7 bits, for a next hop that does not
 * offer 8BITMIME: walks the MIME structure (nested multiparts, message/rfc822), re-encodes each
 * 8-bit part as quoted-printable (text that is mostly ASCII) or base64 (everything else), and
 * rewrites that part's Content-Transfer-Encoding. 7-bit parts and every header are left as they
 * are (the encoders: transfer-encoders.ts). Two passes over the stored message: analyze8bit()
 * reads it once and says whether a conversion is possible and which parts need it;
 * To7bitStream then converts on the way out.
 * Standards: RFC 6152 §3 (a server without 8BITMIME: convert or return the message); RFC 2045
 *   §6 (Content-Transfer-Encoding; §6.7 quoted-printable; §6.8 base64), RFC 2046 §5.1.1
 *   (boundaries: the CRLF before "--boundary" belongs to the delimiter), §5.1.5 (digest default
 *   type message/rfc822), §5.2.1 (message/rfc822 may contain 8-bit only as 8bit/binary CTE);
 *   RFC 3463 5.6.3 (conversion required but not supported).
 * Security: input is untrusted: header blocks are bounded (64 KiB per entity), lines are handled
 *   in bounded pieces, nesting depth is bounded (100); bodies stream, never held whole.
 * Limitations: 8-bit octets in header fields cannot be converted (RFC 2047 would change the
 *   header's meaning): that is reported, giving 5.6.3. 8-bit octets inside an already encoded
 *   (base64/quoted-printable) part are likewise unconvertible. 8-bit octets in a multipart's
 *   preamble or epilogue (never shown to readers, RFC 2046 §5.1.1) are replaced by "?".
 */
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { MailError, reply } from '../../core/index.js';
import { Base64Encoder, QpEncoder, type Out } from './transfer-encoders.js';

const MAX_HEADER_BLOCK = 64 * 1024;
const MAX_PIECE = 16 * 1024;
const MAX_DEPTH = 100;

/** Per leaf part (in document order) what the analysis saw. */
export interface PartStats {
  readonly contentType: string;
  /** the declared Content-Transfer-Encoding, lower case ("" when absent) */
  readonly encoding: string;
  readonly octets: number;
  readonly eightBitOctets: number;
}

export interface EightBitAnalysis {
  /** any octet ≥ 0x80 anywhere (or NUL, which also needs a conversion) */
  readonly has8bit: boolean;
  /** false when the message cannot be made 7-bit without changing it (see reason) */
  readonly convertible: boolean;
  readonly reason?: string;
  readonly parts: readonly PartStats[];
}

/** 554 5.6.3: the next hop needs 7 bits and this message cannot be converted. */
export function conversionNotSupported(why = 'Conversion required but not supported'): MailError {
  return new MailError(reply(554, '5.6.3', why), 'MAIL_ERR_CONVERSION');
}

type Encoding = 'none' | 'qp' | 'base64';

interface Frame {
  state: 'headers' | 'body';
  headerLines: Buffer[];
  headerBytes: number;
  kind: 'multipart' | 'message' | 'leaf';
  boundary?: string;
  /** multipart: preamble before the first delimiter, epilogue after the close delimiter */
  section: 'preamble' | 'parts' | 'epilogue';
  childDefaultType: string;
  defaultType: string;
  /** a message's top entity (may get MIME-Version added) */
  isMessageTop: boolean;
  leafIndex: number;
  encoding: Encoding;
  encoder?: QpEncoder | Base64Encoder;
  /** the line end just read, held back: it may belong to a delimiter (RFC 2046 §5.1.1) */
  pendingEol: Buffer | undefined;
  /** the current line is a continuation piece of a long line */
  midLine: boolean;
}

function newFrame(defaultType: string, isMessageTop: boolean): Frame {
  return {
    state: 'headers',
    headerLines: [],
    headerBytes: 0,
    kind: 'leaf',
    section: 'preamble',
    childDefaultType: 'text/plain',
    defaultType,
    isMessageTop,
    leafIndex: -1,
    encoding: 'none',
    pendingEol: undefined,
    midLine: false,
  };
}

function unfoldHeaders(lines: Buffer[]): { name: string; value: string; lines: number[] }[] {
  const fields: { name: string; value: string; lines: number[] }[] = [];
  lines.forEach((raw, i) => {
    const s = raw.toString('latin1').replace(/\r?\n$/, '');
    if (/^[ \t]/.test(s) && fields.length) {
      const f = fields[fields.length - 1];
      f.value += ' ' + s.trim();
      f.lines.push(i);
      return;
    }
    const c = s.indexOf(':');
    if (c <= 0) return; // not a field (e.g. an mbox "From " line): left as is
    fields.push({ name: s.slice(0, c).trim().toLowerCase(), value: s.slice(c + 1).trim(), lines: [i] });
  });
  return fields;
}

function stripComments(v: string): string {
  return v.replace(/\([^)]*\)/g, '').trim();
}

function has8(b: Buffer): number {
  let n = 0;
  for (const x of b) if (x >= 0x80 || x === 0) n++;
  return n;
}

/**
 * The converter. With an analysis (from analyze8bit) it converts exactly the parts that carry
 * 8-bit octets; without one it converts every part declared 8bit/binary (text → QP, other →
 * base64) and fails on 8-bit octets elsewhere. Errors are MailError 554 5.6.3.
 */
export class To7bitStream extends Transform {
  private stack: Frame[] = [newFrame('text/plain', true)];
  private carry = Buffer.alloc(0);
  private leafCount = 0;
  private outBuf: (Buffer | string)[] = [];
  private readonly analyzeOnly: boolean;
  /** filled in analysis mode */
  readonly stats: { contentType: string; encoding: string; octets: number; eightBitOctets: number }[] = [];
  has8bit = false;
  problem: string | undefined;

  constructor(private readonly plan?: EightBitAnalysis, mode: 'convert' | 'analyze' = 'convert') {
    super();
    this.analyzeOnly = mode === 'analyze';
  }

  private readonly out: Out = (b) => {
    if (!this.analyzeOnly) this.outBuf.push(b);
  };

  private flushOut(): Buffer | undefined {
    if (this.outBuf.length === 0) return undefined;
    const b = Buffer.concat(this.outBuf.map((x) => (typeof x === 'string' ? Buffer.from(x, 'latin1') : x)));
    this.outBuf = [];
    return b;
  }

  override _transform(chunk: Buffer | string, _e: BufferEncoding, done: TransformCallback): void {
    if (this.plan && !this.plan.has8bit) return done(null, chunk); // nothing to convert
    try {
      let buf = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk;
      if (this.carry.length) buf = Buffer.concat([this.carry, buf]);
      let start = 0;
      for (;;) {
        const nl = buf.indexOf(0x0a, start);
        if (nl < 0) break;
        this.piece(buf.subarray(start, nl + 1), true);
        start = nl + 1;
      }
      let rest = buf.subarray(start);
      while (rest.length > MAX_PIECE) {
        this.piece(rest.subarray(0, MAX_PIECE), false);
        rest = rest.subarray(MAX_PIECE);
      }
      this.carry = Buffer.from(rest);
      done(null, this.flushOut());
    } catch (err) {
      done(err as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    if (this.plan && !this.plan.has8bit) return done();
    try {
      if (this.carry.length) this.piece(this.carry, false);
      this.carry = Buffer.alloc(0);
      this.closeFrames(0);
      done(null, this.flushOut());
    } catch (err) {
      done(err as Error);
    }
  }

  private fail(why: string): never {
    this.problem ??= why;
    if (this.analyzeOnly) throw new AnalysisStop();
    throw conversionNotSupported();
  }

  /** One line (with its LF) or a piece of a long line (complete=false: no line end yet). */
  private piece(p: Buffer, complete: boolean): void {
    const top = this.stack[this.stack.length - 1];
    const atLineStart = !top.midLine;
    top.midLine = !complete;
    if (top.state === 'headers') return this.headerPiece(top, p, complete, atLineStart);
    // a delimiter of any enclosing multipart (RFC 2046 §5.1.1), checked innermost first
    if (atLineStart && complete && p[0] === 0x2d && p[1] === 0x2d) {
      const line = p.toString('latin1').replace(/\r?\n$/, '');
      for (let d = this.stack.length - 1; d >= 0; d--) {
        const f = this.stack[d];
        if (f.kind !== 'multipart' || f.boundary === undefined || f.section === 'epilogue') continue;
        const b = '--' + f.boundary;
        if (!line.startsWith(b)) continue;
        const tail = line.slice(b.length);
        const close = tail.startsWith('--');
        if (!/^[ \t]*$/.test(close ? tail.slice(2) : tail)) continue;
        this.closeFrames(d + 1, true);
        this.out(p);
        if (close) f.section = 'epilogue';
        else {
          f.section = 'parts';
          if (this.stack.length >= MAX_DEPTH) this.fail('MIME nesting too deep');
          this.stack.push(newFrame(f.childDefaultType, false));
        }
        return;
      }
    }
    this.bodyPiece(top, p, complete);
  }

  private headerPiece(f: Frame, p: Buffer, complete: boolean, atLineStart: boolean): void {
    const blank = atLineStart && complete && (p.length === 1 || (p.length === 2 && p[0] === 0x0d));
    if (!blank) {
      if (has8(p) > 0) {
        this.has8bit = true;
        this.fail('8-bit octets in a header field');
      }
      f.headerBytes += p.length;
      if (f.headerBytes > MAX_HEADER_BLOCK) this.fail('header block too large');
      if (atLineStart) f.headerLines.push(Buffer.from(p));
      else f.headerLines[f.headerLines.length - 1] = Buffer.concat([f.headerLines[f.headerLines.length - 1], p]);
      return;
    }
    this.endHeaders(f, p);
  }

  /** Decides what the entity is and writes its (possibly amended) header block. */
  private endHeaders(f: Frame, blankLine: Buffer): void {
    f.state = 'body';
    const fields = unfoldHeaders(f.headerLines);
    const ctField = fields.find((x) => x.name === 'content-type');
    const cteField = fields.find((x) => x.name === 'content-transfer-encoding');
    const ctValue = ctField?.value ?? '';
    const type = (/^\s*([^\s;/]+\s*\/\s*[^\s;]+)/.exec(stripComments(ctValue))?.[1] ?? f.defaultType).replace(/\s+/g, '').toLowerCase();
    const cte = cteField ? stripComments(cteField.value).toLowerCase() : '';
    const boundary = /;\s*boundary\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))/i.exec(ctValue);
    let rewrite: string | undefined;
    if (type.startsWith('multipart/') && boundary) {
      f.kind = 'multipart';
      f.boundary = (boundary[1] ?? boundary[2]).replace(/\\(.)/g, '$1');
      f.childDefaultType = type === 'multipart/digest' ? 'message/rfc822' : 'text/plain';
      if (cte === '8bit' || cte === 'binary') rewrite = '7bit';
    } else if (type === 'message/rfc822' && (cte === '' || cte === '7bit' || cte === '8bit' || cte === 'binary')) {
      f.kind = 'message';
      if (cte === '8bit' || cte === 'binary') rewrite = '7bit';
    } else {
      f.kind = 'leaf';
      f.leafIndex = this.leafCount++;
      if (this.analyzeOnly) this.stats.push({ contentType: type, encoding: cte, octets: 0, eightBitOctets: 0 });
      else f.encoding = this.chooseEncoding(f.leafIndex, type, cte);
      if (f.encoding !== 'none') rewrite = f.encoding === 'qp' ? 'quoted-printable' : 'base64';
    }
    const drop = new Set(rewrite ? (cteField?.lines ?? []) : []);
    f.headerLines.forEach((l, i) => {
      if (!drop.has(i)) this.out(l);
    });
    if (rewrite) {
      if (f.isMessageTop && !fields.some((x) => x.name === 'mime-version')) this.out('MIME-Version: 1.0\r\n');
      this.out(`Content-Transfer-Encoding: ${rewrite}\r\n`);
    }
    f.headerLines = [];
    this.out(blankLine);
    if (f.encoding === 'qp') f.encoder = new QpEncoder(this.out);
    if (f.encoding === 'base64') f.encoder = new Base64Encoder(this.out);
    if (f.kind === 'message') {
      if (this.stack.length >= MAX_DEPTH) this.fail('MIME nesting too deep');
      this.stack.push(newFrame('text/plain', true));
    }
  }

  private chooseEncoding(index: number, type: string, cte: string): Encoding {
    const s = this.plan?.parts[index];
    const identity = cte === '' || cte === '7bit' || cte === '8bit' || cte === 'binary';
    const needs = this.plan ? (s?.eightBitOctets ?? 0) > 0 : cte === '8bit' || cte === 'binary';
    if (!needs) return 'none';
    if (!identity) this.fail(`8-bit octets in a part encoded as ${cte}`);
    // RFC 2045 §6.7 vs §6.8: QP keeps mostly-ASCII text readable; base64 is denser otherwise.
    const ratio = s && s.octets > 0 ? s.eightBitOctets / s.octets : 0;
    return type.startsWith('text/') && ratio < 0.2 ? 'qp' : 'base64';
  }

  private bodyPiece(f: Frame, p: Buffer, complete: boolean): void {
    const n8 = has8(p);
    if (n8 > 0) this.has8bit = true;
    if (f.kind === 'leaf') {
      if (this.analyzeOnly) {
        const s = this.stats[f.leafIndex];
        s.octets += p.length;
        s.eightBitOctets += n8;
        return;
      }
      if (!f.encoder) {
        if (n8 > 0 && !this.plan) this.fail('8-bit octets in a part declared 7bit');
        this.out(p);
        return;
      }
      let content = p;
      let eol: Buffer | undefined;
      if (complete) {
        const cut = p.length - (p.length >= 2 && p[p.length - 2] === 0x0d ? 2 : 1);
        content = p.subarray(0, cut);
        eol = Buffer.from(p.subarray(cut));
      }
      if (f.pendingEol) f.encoder.lineBreak(f.pendingEol);
      f.encoder.feed(content);
      f.pendingEol = eol;
      return;
    }
    // multipart preamble/epilogue, or text after a nested message: invisible to readers
    if (n8 > 0) {
      const copy = Buffer.from(p);
      for (let i = 0; i < copy.length; i++) if (copy[i] >= 0x80 || copy[i] === 0) copy[i] = 0x3f;
      this.out(copy);
    } else this.out(p);
  }

  /** Ends every frame at depth ≥ d; byDelimiter: a delimiter line follows. */
  private closeFrames(d: number, byDelimiter = false): void {
    while (this.stack.length > d) {
      const f = this.stack[this.stack.length - 1];
      if (f.state === 'headers') {
        // headers without a body: write them as they are
        for (const l of f.headerLines) this.out(l);
        f.headerLines = [];
      } else if (f.encoder) {
        if (!byDelimiter && f.pendingEol) f.encoder.lineBreak(f.pendingEol);
        f.encoder.end();
        // the CRLF that starts the delimiter (RFC 2046 §5.1.1), or the message's last line end
        if (byDelimiter || (f.encoder.wrote && !f.encoder.endsWithBreak)) this.out('\r\n');
      }
      if (this.stack.length === 1) break;
      this.stack.pop();
    }
  }
}

class AnalysisStop extends Error {}

/** Reads a whole message once and says whether and how it can be made 7-bit. */
export async function analyze8bit(input: Readable): Promise<EightBitAnalysis> {
  const t = new To7bitStream(undefined, 'analyze');
  try {
    for await (const chunk of input) {
      await new Promise<void>((resolve, reject) => t._transform(chunk as Buffer, 'latin1', (e) => (e ? reject(e) : resolve())));
    }
    await new Promise<void>((resolve, reject) => t._flush((e) => (e ? reject(e) : resolve())));
  } catch (err) {
    if (!(err instanceof AnalysisStop)) throw err;
    input.destroy();
    return { has8bit: t.has8bit, convertible: false, reason: t.problem, parts: t.stats };
  }
  const encoded = t.stats.find((p) => p.eightBitOctets > 0 && !['', '7bit', '8bit', 'binary'].includes(p.encoding));
  if (encoded) return { has8bit: true, convertible: false, reason: `8-bit octets in a part encoded as ${encoded.encoding}`, parts: t.stats };
  return { has8bit: t.has8bit, convertible: true, parts: t.stats };
}
