/**
 * @module header-block
 * A message's header block as a stream: split it from the body, parse and unfold its fields,
 * cut a message down to its header block, and fold long field values.
 * Standards: RFC 5322 §2.1 (header block ends at the first empty line), §2.1.1 (line length
 *   limits 998/78), §2.2 (header fields), §2.2.3 (long header fields: folding and unfolding),
 *   §3.2.2 (a folded line must not be whitespace only).
 * Security: the header block is read only up to a cap (maxHeaderBytes); past it the bytes are
 *   passed on unexamined, so a hostile message cannot make us buffer it whole. Field names are
 *   accepted only as RFC 5322 ftext; anything else is kept as an `invalid` line, never merged.
 * Limitations: a field value is parsed as text (UTF-8 when valid, else Latin-1); encoded words
 *   (RFC 2047) are left encoded. Folding breaks only at whitespace, except that a single word
 *   longer than 998 octets is cut (the one case where RFC 5322 §2.1.1 leaves no other choice).
 */
import { Readable } from 'node:stream';

/** One header field, unfolded (RFC 5322 §2.2.3). */
export interface HeaderField {
  /** the field name as written, e.g. "Content-Type" */
  readonly name: string;
  /** the unfolded value, leading whitespace removed, trailing whitespace kept */
  readonly value: string;
}

/** The default cap on the header block: past it the rest is treated as body. */
export const defaultMaxHeaderBytes = 256 * 1024;

const ftext = /^[\x21-\x39\x3b-\x7e]+$/;

/** Removes the CRLF (or bare LF) before each folding whitespace (RFC 5322 §2.2.3). */
export function unfold(value: string): string {
  return value.replace(/\r?\n(?=[ \t])/g, '');
}

/**
 * Parses a header block (the text before the empty line) into unfolded fields, in order.
 * Lines that are not `name: value` (no colon, or a name outside ftext) are skipped; pass
 * `invalid` to collect them.
 */
export function parseHeaderFields(block: string, invalid?: string[]): HeaderField[] {
  const fields: HeaderField[] = [];
  const lines = block.split(/\r?\n/);
  let current: string | undefined;
  const flush = (): void => {
    if (current === undefined) return;
    const colon = current.indexOf(':');
    // RFC 5322 §3.6.8: field-name = 1*ftext; obs-syntax (§4.5) allows WSP before the colon.
    const name = colon > 0 ? current.slice(0, colon).replace(/[ \t]+$/, '') : '';
    if (name !== '' && ftext.test(name)) {
      fields.push({ name, value: current.slice(colon + 1).replace(/^[ \t]+/, '') });
    } else {
      invalid?.push(current);
    }
    current = undefined;
  };
  for (const line of lines) {
    if (line === '') continue; // the final CRLF, or stray empty lines
    if ((line[0] === ' ' || line[0] === '\t') && current !== undefined) {
      current += line; // unfolding: the line break goes, the whitespace stays
    } else {
      flush();
      current = line;
    }
  }
  flush();
  return fields;
}

/** The value of the first field with this name (case-insensitive), or undefined. */
export function findHeader(fields: readonly HeaderField[], name: string): string | undefined {
  const lower = name.toLowerCase();
  return fields.find((f) => f.name.toLowerCase() === lower)?.value;
}

/** Decodes header bytes as UTF-8 when valid (RFC 6532), else Latin-1 (one char per octet). */
export function decodeHeaderBytes(buf: Buffer): string {
  const text = buf.toString('utf8');
  return text.includes('\ufffd') && !buf.includes(Buffer.from('\ufffd', 'utf8')) ? buf.toString('latin1') : text;
}

/**
 * Where the header block ends in `buf`: `headerEnd` is the offset just after the last header
 * line's line end, `bodyStart` the offset just after the empty line. -1 when not yet seen.
 * Accepts CRLF and, leniently, bare LF line ends. `atMessageStart`: buf[0] is the message's
 * first byte (so an empty line there means an empty header block).
 */
export function findHeaderEnd(
  buf: Buffer,
  from = 0,
  atMessageStart = true,
): { headerEnd: number; bodyStart: number } {
  // RFC 5322 §2.1: a message that starts with an empty line has no header fields.
  if (atMessageStart) {
    if (buf.length >= 2 && buf[0] === 0x0d && buf[1] === 0x0a) return { headerEnd: 0, bodyStart: 2 };
    if (buf.length >= 1 && buf[0] === 0x0a) return { headerEnd: 0, bodyStart: 1 };
  }
  for (let i = buf.indexOf(0x0a, from); i >= 0; i = buf.indexOf(0x0a, i + 1)) {
    if (buf[i + 1] === 0x0a) return { headerEnd: i + 1, bodyStart: i + 2 };
    if (buf[i + 1] === 0x0d && buf[i + 2] === 0x0a) return { headerEnd: i + 1, bodyStart: i + 3 };
  }
  return { headerEnd: -1, bodyStart: -1 };
}

function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new TypeError('message stream yielded a non-byte chunk');
}

/** A message's header block, parsed (see splitMessage and splitMessageBuffer). */
export interface SplitHeader {
  /** the raw header block: every header line with its line end, without the empty line */
  readonly header: Buffer;
  /** the header fields, unfolded */
  readonly fields: HeaderField[];
  /**
   * true when the end of the header block was found (the empty line, or the end of the message);
   * false when the cap was reached first: then `header` holds the capped bytes up to the last
   * complete line and the body everything after them.
   */
  readonly complete: boolean;
  /** whether the message has an empty line and so a body (possibly empty) */
  readonly hasBody: boolean;
}

export interface SplitMessage extends SplitHeader {
  /** what follows the empty line, streamed; destroying it destroys the source */
  readonly body: Readable;
}

export interface SplitBuffer extends SplitHeader {
  /** what follows the empty line */
  readonly body: Buffer;
}

/**
 * The header block of `buf` (the first `max` octets read of a message; `ended`: the message ends
 * there) and what follows it.
 */
function splitAt(buf: Buffer, end: { headerEnd: number; bodyStart: number }, ended: boolean, max: number): SplitBuffer {
  let header: Buffer;
  let rest: Buffer;
  let complete = true;
  let hasBody = true;
  if (end.headerEnd >= 0) {
    header = buf.subarray(0, end.headerEnd);
    rest = buf.subarray(end.bodyStart);
  } else if (ended) {
    // RFC 5322 §2.1: the body is optional, and with it the empty line.
    header = buf;
    rest = Buffer.alloc(0);
    hasBody = false;
  } else {
    // The cap was reached: keep whole lines as the header, hand the rest on untouched.
    complete = false;
    const lastLf = buf.lastIndexOf(0x0a, Math.min(buf.length, max) - 1);
    const cut = lastLf >= 0 ? lastLf + 1 : buf.length;
    header = buf.subarray(0, cut);
    rest = buf.subarray(cut);
  }
  return { header, fields: parseHeaderFields(decodeHeaderBytes(header)), complete, hasBody, body: rest };
}

/** splitMessage for a message held whole in memory: no stream, nothing copied. */
export function splitMessageBuffer(message: Buffer, opts: { maxHeaderBytes?: number } = {}): SplitBuffer {
  const max = opts.maxHeaderBytes ?? defaultMaxHeaderBytes;
  const end = findHeaderEnd(message, 0);
  // as splitMessage given the message in one chunk: without an empty line, a message of the cap
  // or more is cut at its last line within the cap
  return splitAt(message, end, end.headerEnd >= 0 || message.length < max, max);
}

/**
 * Reads a message stream up to the end of its header block and returns the parsed fields with
 * the rest of the message as a stream. Only the header block (at most maxHeaderBytes) is held in
 * memory. The source is consumed through `body`; destroy `body` to release the source.
 */
export async function splitMessage(
  message: Readable,
  opts: { maxHeaderBytes?: number } = {},
): Promise<SplitMessage> {
  const max = opts.maxHeaderBytes ?? defaultMaxHeaderBytes;
  const it = message[Symbol.asyncIterator]() as AsyncIterator<unknown>;
  let buf: Buffer = Buffer.alloc(0);
  let end = { headerEnd: -1, bodyStart: -1 };
  let ended = false;
  try {
    for (;;) {
      const r = await it.next();
      if (r.done) {
        ended = true;
        break;
      }
      const chunk = toBuffer(r.value);
      const from = Math.max(0, buf.length - 2);
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      end = findHeaderEnd(buf, from);
      if (end.headerEnd >= 0 || buf.length >= max) break;
    }
  } catch (err) {
    await it.return?.();
    throw err;
  }
  const { header, fields, complete, hasBody, body: rest } = splitAt(buf, end, ended, max);
  async function* remainder(): AsyncGenerator<Buffer> {
    try {
      if (rest.length > 0) yield rest;
      if (ended) return;
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        yield toBuffer(r.value);
      }
    } finally {
      // reached on normal end, on error and when the consumer destroys the body early
      if (!ended) await it.return?.();
    }
  }
  const body = Readable.from(remainder(), { objectMode: false });
  // destroyed before it was read, the generator never runs its finally: release the source here
  body.once('close', () => {
    if (!ended) message.destroy();
  });
  return { header, fields, complete, hasBody, body };
}

/**
 * The header block of a message, streamed: every header line up to (not including) the empty
 * line, at most maxHeaderBytes cut at a line end. The source is destroyed once the header block
 * has been passed on. Used to return "headers only" in a DSN (RFC 3461 §4.3 RET=HDRS).
 */
export function headerBlockOf(message: Readable, opts: { maxHeaderBytes?: number } = {}): Readable {
  const max = opts.maxHeaderBytes ?? defaultMaxHeaderBytes;
  async function* gen(): AsyncGenerator<Buffer> {
    let sent = 0;
    // the last (up to) two bytes passed on, to see an empty line across chunk edges
    let tail: Buffer = Buffer.alloc(0);
    // a CR that may begin the empty line: held back until the next byte decides
    let held: Buffer = Buffer.alloc(0);
    try {
      for await (const raw of message) {
        const joined = Buffer.concat([tail, held, toBuffer(raw)]);
        const { headerEnd } = findHeaderEnd(joined, 0, sent === 0 && tail.length === 0);
        let end = joined.length;
        let done = false;
        held = Buffer.alloc(0);
        if (headerEnd >= 0) {
          end = Math.max(tail.length, headerEnd);
          done = true;
        } else if (joined[end - 1] === 0x0d && (end === 1 || joined[end - 2] === 0x0a)) {
          held = joined.subarray(end - 1);
          end -= 1;
        }
        let piece = joined.subarray(tail.length, end);
        if (sent + piece.length > max) {
          // over the cap: stop at the last whole line that fits
          const room = piece.subarray(0, max - sent);
          const lastLf = room.lastIndexOf(0x0a);
          piece = lastLf >= 0 ? room.subarray(0, lastLf + 1) : Buffer.alloc(0);
          done = true;
        }
        if (piece.length > 0) yield piece;
        sent += piece.length;
        if (done) return;
        tail = joined.subarray(Math.max(0, end - 2), end);
      }
      if (held.length > 0 && sent < max) yield held;
    } finally {
      message.destroy();
    }
  }
  const out = Readable.from(gen(), { objectMode: false });
  // destroyed before it was read: the generator never ran, so release the source here
  out.once('close', () => message.destroy());
  return out;
}

/**
 * Folds one header field to lines of at most `width` octets where whitespace allows
 * (RFC 5322 §2.1.1 SHOULD 78, §2.2.3), and never over `hardLimit` (MUST 998). Returns
 * "Name: value" with CRLF+WSP folds and no final CRLF. `value` should be unfolded.
 */
export function foldHeader(name: string, value: string, opts: { width?: number; hardLimit?: number } = {}): string {
  const width = opts.width ?? 78;
  const hard = opts.hardLimit ?? 998;
  // Fast path (most fields, every Received clause): the field fits on one line as it is, so
  // there is nothing to fold; same result as the loop below, without splitting into pieces.
  const limit = Math.min(width, hard);
  if (value !== '' && name.length + value.length + 2 <= limit && !/[\r\n]/.test(value)) {
    const one = `${name}:${value[0] === ' ' || value[0] === '\t' ? '' : ' '}${value}`;
    if (Buffer.byteLength(one) <= limit) return one;
  }
  const clean = value.replace(/\r?\n/g, ' ');
  // pieces: the first word, then each run starting with one whitespace character
  const pieces = clean.split(/(?=[ \t])/).filter((p) => p !== '');
  const lines: string[] = [];
  let line = `${name}:`;
  let lineHasText = false; // the current line carries more than whitespace
  for (let i = 0; i < pieces.length; i++) {
    let piece = pieces[i];
    if (i === 0 && piece[0] !== ' ' && piece[0] !== '\t') piece = ` ${piece}`;
    const fits = Buffer.byteLength(line) + Buffer.byteLength(piece) <= width;
    // RFC 5322 §3.2.2: never fold so that a line is whitespace only
    if (!fits && lineHasText && /[^ \t]/.test(piece)) {
      lines.push(line);
      line = piece;
    } else {
      line += piece;
    }
    if (/[^ \t]/.test(piece)) lineHasText = true;
  }
  lines.push(line);
  const out: string[] = [];
  for (const l of lines) {
    if (Buffer.byteLength(l) <= hard) {
      out.push(l);
      continue;
    }
    // A single word past the hard limit: cut it (the inserted fold adds one space on unfolding).
    let rest = Buffer.from(l, 'utf8');
    let first = true;
    while (rest.length > 0) {
      const room = first ? hard : hard - 1;
      let cut = Math.min(room, rest.length);
      while (cut < rest.length && cut > 0 && (rest[cut] & 0xc0) === 0x80) cut--; // keep UTF-8 whole
      out.push((first ? '' : ' ') + rest.subarray(0, cut).toString('utf8'));
      rest = rest.subarray(cut);
      first = false;
    }
  }
  return out.join('\r\n');
}
