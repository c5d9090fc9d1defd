/**
 * @module data-decoder
 * The DATA reader: raw socket bytes after the 354 reply in, the dot-unstuffed body out (CRLF
 * kept), until the one true end of data "<CRLF>.<CRLF>". Bytes after the end (pipelined
 * commands) are handed back. `DataDecoder` is the pure state machine; `DataReader` wraps it as a
 * Transform stream.
 * Standards: RFC 5321 §4.1.4 (end of data), §4.5.2 (transparency: remove the leading period),
 *   §4.5.3.1.6 (text line at most 1000 octets with CRLF), §2.3.8 (CR and LF only as CRLF);
 *   RFC 1870 §6 (size limit while receiving).
 * Security: SMTP smuggling (CVE-2023-51764/51765/51766): only CRLF "." CRLF ends the data — the
 *   data is deemed to start at the beginning of a line, so "." CRLF right after 354 ends it too;
 *   a bare CR or bare LF never starts a line and is flagged, so the session rejects the message
 *   after reading to the real end. A flaw never stops reading: there is never a second
 *   transaction hidden in a body.
 * Limitations: none.
 */
import { Transform, type TransformCallback } from 'node:stream';
import type { SmtpReply } from '../../core/smtp-reply.js';
import { replies } from '../../core/replies.js';

/** Why a message must be refused after its end of data. */
export type DataFlaw = 'bare-line-ending' | 'line-too-long' | 'too-big';

export function replyForFlaw(f: DataFlaw): SmtpReply {
  switch (f) {
    case 'bare-line-ending':
      return replies.bareLineEnding();
    case 'line-too-long':
      return replies.textLineTooLong();
    case 'too-big':
      return replies.messageTooBig();
  }
}

export interface DataDecoderOptions {
  /** body octets (after unstuffing) past which the message is flagged too big; default unlimited */
  readonly maxSize?: number;
  /** RFC 5321 §4.5.3.1.6: 1000 octets including CRLF */
  readonly maxLineLength?: number;
}

export interface DecodeResult {
  /** body pieces, in order (views into the input, not copies) */
  readonly body: Buffer[];
  /** true once "<CRLF>.<CRLF>" was seen */
  readonly done: boolean;
  /** bytes after the end of data, when done */
  readonly rest?: Buffer;
}

const enum S {
  /** at the start of a line (after CRLF, or at the very beginning) */
  Start,
  /** a leading "." was removed */
  Dot,
  /** "." then CR: LF ends the data */
  DotCr,
  Text,
  /** CR in text, waiting for LF */
  Cr,
}

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
const CR_BUF = Buffer.from([CR]);

export class DataDecoder {
  private state = S.Start;
  private lineLen = 0;
  /** body octets so far (after unstuffing) */
  size = 0;
  /** the first flaw found, if any */
  flaw: DataFlaw | undefined;
  done = false;
  private readonly maxSize: number;
  private readonly maxLine: number;

  constructor(opts: DataDecoderOptions = {}) {
    this.maxSize = opts.maxSize ?? Infinity;
    this.maxLine = opts.maxLineLength ?? 1000;
  }

  private flag(f: DataFlaw): void {
    this.flaw ??= f;
  }

  /** Feeds raw bytes. Must not be called after `done`. */
  push(chunk: Buffer): DecodeResult {
    if (this.done) throw new Error('DataDecoder: push after end of data');
    const out: Buffer[] = [];
    let seg = 0; // start of the current run of bytes to emit
    let state = this.state;
    let lineLen = this.lineLen;
    const n = chunk.length;
    for (let i = 0; i < n; i++) {
      if (state === S.Text) {
        // Hot path: ordinary text up to the next CR or LF only needs counting for the line
        // length; skip it in a tight loop and let the switch handle the CR or LF.
        let j = i;
        while (j < n) {
          const c = chunk[j];
          if (c === CR || c === LF) break;
          j++;
        }
        if (j > i) {
          lineLen += j - i;
          if (lineLen > this.maxLine) this.flag('line-too-long');
          if (j === n) break;
          i = j;
        }
      }
      const b = chunk[i];
      lineLen++;
      switch (state) {
        case S.Start:
          if (b === DOT) {
            // §4.5.2: drop the leading period
            if (i > seg) out.push(chunk.subarray(seg, i));
            seg = i + 1;
            state = S.Dot;
          } else if (b === CR) state = S.Cr;
          else {
            if (b === LF) this.flag('bare-line-ending');
            state = S.Text;
          }
          break;
        case S.Dot:
          if (b === CR) {
            // hold the CR back: if LF follows this is the end of data
            seg = i + 1;
            state = S.DotCr;
          } else {
            if (b === LF) this.flag('bare-line-ending');
            state = S.Text;
          }
          break;
        case S.DotCr:
          if (b === LF) {
            this.done = true;
            this.state = S.Start;
            this.lineLen = 0;
            return this.finish(out, chunk.subarray(i + 1));
          }
          // ".\r" then something else: a bare CR; emit the held CR and treat b as text
          this.flag('bare-line-ending');
          out.push(CR_BUF);
          seg = i;
          if (b === CR) state = S.Cr;
          else {
            if (b === LF) this.flag('bare-line-ending');
            state = S.Text;
          }
          break;
        case S.Text:
          if (b === CR) state = S.Cr;
          else if (b === LF) this.flag('bare-line-ending');
          break;
        case S.Cr:
          if (b === LF) {
            if (lineLen > this.maxLine) this.flag('line-too-long');
            lineLen = 0;
            state = S.Start;
          } else if (b === CR) this.flag('bare-line-ending');
          else {
            this.flag('bare-line-ending');
            state = S.Text;
          }
          break;
      }
      // §4.5.3.1.6: 1000 octets including CRLF; flagged as soon as it is exceeded
      if (lineLen > this.maxLine) this.flag('line-too-long');
    }
    if (n > seg) out.push(chunk.subarray(seg, n));
    this.state = state;
    this.lineLen = lineLen;
    return this.finish(out, undefined);
  }

  private finish(out: Buffer[], rest: Buffer | undefined): DecodeResult {
    let body = out;
    if (this.flaw === undefined) {
      for (const b of out) this.size += b.length;
      if (this.size > this.maxSize) this.flag('too-big');
    }
    // once flawed, the body is of no use: stop handing it out (it is still read to the end)
    if (this.flaw !== undefined) body = [];
    return rest === undefined ? { body, done: this.done } : { body, done: true, rest };
  }
}

/**
 * A Transform around DataDecoder: write raw bytes, read the body. After the end of data the
 * readable side ends; bytes that followed the end are kept in `leftover` (including anything
 * written afterwards) and `flaw` tells whether the message must be refused.
 */
export class DataReader extends Transform {
  private readonly decoder: DataDecoder;
  private extra: Buffer[] = [];

  constructor(opts: DataDecoderOptions = {}) {
    super();
    this.decoder = new DataDecoder(opts);
  }
  get flaw(): DataFlaw | undefined {
    return this.decoder.flaw;
  }
  get ended(): boolean {
    return this.decoder.done;
  }
  get leftover(): Buffer {
    return Buffer.concat(this.extra);
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.decoder.done) {
      this.extra.push(chunk);
      cb();
      return;
    }
    const r = this.decoder.push(chunk);
    for (const b of r.body) this.push(b);
    if (r.done) {
      if (r.rest && r.rest.length > 0) this.extra.push(r.rest);
      this.push(null);
      this.emit('end-of-data', r.rest ?? Buffer.alloc(0));
    }
    cb();
  }
  override _flush(cb: TransformCallback): void {
    if (!this.decoder.done) cb(new Error('connection ended before <CRLF>.<CRLF>'));
    else cb();
  }
}
