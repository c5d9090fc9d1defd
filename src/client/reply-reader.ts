/**
 * @module reply-reader
 * Turns the bytes a server sends into SmtpReply values: multi-line replies are joined, the
 * RFC 2034 enhanced status code is lifted out of the text.
 * Standards: RFC 5321 §4.2 (reply format, "xyz-" continuation lines), RFC 2034 §4 (enhanced
 *   status codes at the start of the text), RFC 3463.
 * Security: the server is untrusted: line length and reply size are bounded, a malformed line is
 *   a protocol error (the session is abandoned), never a guessed code.
 * Limitations: none.
 */
import type { EnhancedStatus, SmtpReply } from '../core/index.js';

/** RFC 5321 §4.5.3.1.5 gives 512 octets for a reply line; be generous with real servers. */
const MAX_LINE = 8192;
const MAX_LINES = 256;

export class ReplyProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReplyProtocolError';
  }
}

const enhancedRe = /^([245])\.(\d{1,3})\.(\d{1,3})(?: +|$)/;

/** The reply code of a line's first three octets (200-599), or 0 when they are not one. */
function lineCode(line: string): number {
  const a = line.charCodeAt(0) - 0x30;
  const b = line.charCodeAt(1) - 0x30;
  const c = line.charCodeAt(2) - 0x30;
  return a >= 2 && a <= 5 && b >= 0 && b <= 9 && c >= 0 && c <= 9 ? a * 100 + b * 10 + c : 0;
}

/** Whether a line is three digits and "-": a line of a reply that goes on (RFC 5321 §4.2.1). */
function continues(line: string): boolean {
  return line.charCodeAt(3) === 0x2d && isDigit(line.charCodeAt(0)) && isDigit(line.charCodeAt(1)) && isDigit(line.charCodeAt(2));
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/**
 * Builds a reply from its raw lines (without CRLF). Throws ReplyProtocolError when malformed.
 * Each line is "xyz", "xyz text" or "xyz-text" (RFC 5321 §4.2), read by its octets: a
 * relayed message's four replies went through a regular expression and a callback each.
 */
export function parseReplyLines(raw: readonly string[]): SmtpReply {
  if (raw.length === 0) throw new ReplyProtocolError('empty reply');
  let code = 0;
  let status: EnhancedStatus | undefined;
  const lines: string[] = [];
  for (let i = 0; i < raw.length; i++) {
    const line = raw[i];
    const c = lineCode(line);
    const sep = line.charCodeAt(3);
    if (c === 0 || (line.length > 3 && sep !== 0x20 && sep !== 0x2d)) {
      throw new ReplyProtocolError(`malformed reply line: ${JSON.stringify(line.slice(0, 80))}`);
    }
    if (i === 0) code = c;
    else if (c !== code) throw new ReplyProtocolError(`reply code changed within a reply: ${code} then ${c}`);
    let text = line.length > 4 ? line.slice(4) : '';
    // RFC 2034 §4: the enhanced code starts the text of each line; its class matches the code's.
    const e = text.charCodeAt(0) === line.charCodeAt(0) ? enhancedRe.exec(text) : null;
    if (e) {
      const s = `${e[1]}.${Number(e[2])}.${Number(e[3])}` as EnhancedStatus;
      if (i === 0) status = s;
      if (s === status) text = text.slice(e[0].length);
    }
    lines.push(text);
  }
  return status ? { code, status, lines } : { code, lines };
}

/**
 * Accumulates bytes and hands out complete replies in order. The client feeds it with push()
 * and tells it about the end of the connection with end().
 */
export class ReplyReader {
  private buf = '';
  private pending: string[] = [];
  private ready: (SmtpReply | Error)[] = [];
  private waiter: ((r: SmtpReply | Error) => void) | undefined;
  private ended: Error | undefined;

  push(chunk: Buffer | string): void {
    if (this.ended) return;
    const got = typeof chunk === 'string' ? chunk : chunk.toString('latin1');
    const text = this.buf.length > 0 ? this.buf + got : got;
    // each line cut once from the text (not the rest of the text cut again after each line)
    let from = 0;
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', from)) {
      const end = i > from && text.charCodeAt(i - 1) === 0x0d ? i - 1 : i;
      const line = text.slice(from, end);
      from = i + 1;
      this.line(line);
      if (this.ended) return;
    }
    this.buf = from === 0 ? text : text.slice(from);
    if (this.buf.length > MAX_LINE) this.fail(new ReplyProtocolError('reply line too long'));
  }

  /** The connection ended (or failed): every later next() rejects with err. */
  end(err: Error): void {
    if (this.ended) return;
    this.ended = err;
    this.deliver(err);
  }

  /** True when bytes or whole replies arrived that nobody asked for yet. */
  get hasUnread(): boolean {
    return this.ready.length > 0 || this.pending.length > 0 || this.buf.length > 0;
  }

  /**
   * The next reply. Rejects with the end error once the connection is gone. Not an async
   * function: a reply already here is handed over in a settled promise, no second one around it.
   */
  next(): Promise<SmtpReply> {
    const r = this.ready.shift() ?? (this.ended && this.ready.length === 0 ? this.ended : undefined);
    if (r) return r instanceof Error ? Promise.reject(r) : Promise.resolve(r);
    return new Promise<SmtpReply>((resolve, reject) => {
      this.waiter = (got) => (got instanceof Error ? reject(got) : resolve(got));
    });
  }

  private line(line: string): void {
    if (line.length > MAX_LINE) return this.fail(new ReplyProtocolError('reply line too long'));
    this.pending.push(line);
    if (this.pending.length > MAX_LINES) return this.fail(new ReplyProtocolError('reply has too many lines'));
    if (continues(line)) return;
    const raw = this.pending;
    this.pending = [];
    try {
      this.deliver(parseReplyLines(raw));
    } catch (err) {
      this.fail(err as Error);
    }
  }

  private fail(err: Error): void {
    this.deliver(err);
    this.ended = err;
  }

  private deliver(r: SmtpReply | Error): void {
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w(r);
    } else this.ready.push(r);
  }
}
