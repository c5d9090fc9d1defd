/**
 * @module sendmail-input
 * The message as `sendmail` reads it from standard input: line ends made CRLF, an optional lone
 * "." line ending the input (unless -i), a leading mbox "From " line dropped, and the header
 * block read (bounded) so that recipients can be taken from it (-t), Bcc removed and a missing
 * From: added, while the body is streamed on unread.
 * Standards: RFC 5322 §2.1 (CRLF lines), §2.2 (header fields, folding), §3.6.3 (Bcc); sendmail(8)
 *   and Postfix sendmail(1) input conventions (-i, -t, "From " line).
 * Security: the header block is buffered up to a cap (HEADER_CAP); past it the input is refused
 *   (EX_DATAERR), never buffered further. The body is never held whole in memory.
 * Limitations: bare CR is passed through unchanged (only LF is made CRLF).
 */

/** Largest header block read into memory (octets). */
export const HEADER_CAP = 1024 * 1024;

/** An input problem with its sysexits(3) status: 65 bad data, 66 unreadable input. */
export class SendmailInputError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'SendmailInputError';
  }
}

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;
const CRLF = Buffer.from('\r\n');

/**
 * Makes every LF a CRLF (an existing CRLF is kept), across chunk boundaries. Used for -bs input.
 * Returns a function that converts one chunk at a time.
 */
export function lfToCrlf(): (chunk: Buffer) => Buffer {
  let lastByte = -1;
  return (chunk) => {
    const parts: Buffer[] = [];
    let pos = 0;
    for (;;) {
      const i = chunk.indexOf(LF, pos);
      if (i < 0) break;
      const prev = i > 0 ? chunk[i - 1] : lastByte;
      if (prev !== CR) {
        parts.push(chunk.subarray(pos, i), CRLF);
        pos = i + 1;
      } else {
        parts.push(chunk.subarray(pos, i + 1));
        pos = i + 1;
      }
    }
    parts.push(chunk.subarray(pos));
    if (chunk.length > 0) lastByte = chunk[chunk.length - 1];
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  };
}

/**
 * The input with CRLF line ends, ending at EOF or (when `dotEnds`) at a line holding only "."
 * (sendmail's default without -i). A last line without a line end gets CRLF. A read error
 * becomes SendmailInputError 66.
 */
export async function* normalizeInput(source: AsyncIterable<Buffer | string>, dotEnds: boolean): AsyncGenerator<Buffer> {
  let carry: Buffer = Buffer.alloc(0);
  let lineStart = true;
  let lastByte = -1;
  let emittedAny = false;
  const it = source[Symbol.asyncIterator]();
  for (;;) {
    let next: IteratorResult<Buffer | string>;
    try {
      next = await it.next();
    } catch (err) {
      throw unreadable(err);
    }
    if (next.done) break;
    const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
    const data = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
    carry = Buffer.alloc(0);
    const out: Buffer[] = [];
    let pos = 0;
    let ended = false;
    while (pos < data.length) {
      if (lineStart && dotEnds && data[pos] === DOT) {
        // ".\n" or ".\r\n" ends the input; wait for more bytes when undecided.
        const a = data[pos + 1];
        const b = data[pos + 2];
        if (a === LF || (a === CR && b === LF)) {
          ended = true;
          break;
        }
        if (a === undefined || (a === CR && b === undefined)) {
          carry = data.subarray(pos);
          break;
        }
      }
      const i = data.indexOf(LF, pos);
      if (i < 0) {
        out.push(data.subarray(pos));
        lastByte = data[data.length - 1];
        lineStart = false;
        pos = data.length;
        break;
      }
      const prev = i > pos ? data[i - 1] : lastByte;
      out.push(data.subarray(pos, i), prev === CR ? Buffer.from('\n') : CRLF);
      lastByte = LF;
      lineStart = true;
      pos = i + 1;
    }
    const buf = Buffer.concat(out);
    if (buf.length > 0) {
      emittedAny = true;
      yield buf;
    }
    if (ended) {
      // Stop reading: the rest of stdin is not part of the message (sendmail(8) without -i).
      await it.return?.();
      return;
    }
  }
  if (carry.length > 0) {
    yield carry;
    emittedAny = true;
    lastByte = carry[carry.length - 1];
  }
  if (emittedAny && lastByte !== LF) yield CRLF;
}

function unreadable(err: unknown): SendmailInputError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const why = code === 'EISDIR' ? 'standard input is a directory' : err instanceof Error ? err.message : String(err);
  return new SendmailInputError(`cannot read the message: ${why}`, 66);
}

/** One header field as read: its name (lower case) and raw text (folded lines, CRLF inside, no final CRLF). */
export interface RawField {
  readonly name: string;
  readonly raw: string;
}

export interface SplitMessage {
  /** the header fields in order (latin1 strings: byte-exact) */
  readonly fields: RawField[];
  /** true when the header ended with an empty line; false when the body began without one */
  readonly separator: boolean;
  /** the rest of the message (CRLF lines), streamed */
  readonly body: AsyncGenerator<Buffer>;
}

const FIELD_NAME = /^([\x21-\x39\x3b-\x7e]+)[ \t]*:/;

/**
 * Reads the header block from normalized input (CRLF lines), up to HEADER_CAP, dropping a
 * leading mbox "From " line. The first line that is neither a field nor a continuation ends
 * the header and begins the body (Postfix does the same).
 */
export async function splitMessage(input: AsyncGenerator<Buffer>, cap = HEADER_CAP): Promise<SplitMessage> {
  let buf: Buffer = Buffer.alloc(0);
  let done = false;
  const fields: { name: string; raw: string }[] = [];
  let pos = 0;
  let first = true;
  let separator = false;
  let bodyStart = -1;
  for (;;) {
    const i = buf.indexOf(CRLF, pos);
    if (i < 0) {
      if (done) {
        bodyStart = buf.length;
        break;
      }
      if (buf.length - pos > cap || pos > cap) {
        throw new SendmailInputError(`message header block over ${cap} octets`, 65);
      }
      const next = await input.next();
      if (next.done) done = true;
      else buf = buf.length === 0 ? next.value : Buffer.concat([buf, next.value]);
      continue;
    }
    const line = buf.subarray(pos, i).toString('latin1');
    if (first && line.startsWith('From ')) {
      // the mbox separator line some programs write first (Postfix's sendmail drops it)
      first = false;
      pos = i + 2;
      continue;
    }
    first = false;
    if (line === '') {
      separator = true;
      bodyStart = i + 2;
      break;
    }
    const last = fields.at(-1);
    if ((line.startsWith(' ') || line.startsWith('\t')) && last) {
      last.raw += `\r\n${line}`;
    } else {
      const m = FIELD_NAME.exec(line);
      if (!m) {
        bodyStart = pos;
        break;
      }
      fields.push({ name: m[1].toLowerCase(), raw: line });
    }
    pos = i + 2;
    if (pos > cap) throw new SendmailInputError(`message header block over ${cap} octets`, 65);
  }
  const rest = buf.subarray(bodyStart);
  async function* body(): AsyncGenerator<Buffer> {
    if (rest.length > 0) yield rest;
    if (!done) yield* input;
  }
  return { fields, separator, body: body() };
}

/** The unfolded value of a raw field (after the colon), decoded as UTF-8 (RFC 6532). */
export function fieldValue(f: RawField): string {
  const colon = f.raw.indexOf(':');
  return Buffer.from(f.raw.slice(colon + 1), 'latin1').toString('utf8').replace(/\r\n/g, '').trim();
}
