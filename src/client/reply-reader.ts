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

/** Builds a reply from its raw lines (without CRLF). Throws ReplyProtocolError when malformed. */
export function parseReplyLines(raw: readonly string[]): SmtpReply {
  let code = 0;
  let status: EnhancedStatus | undefined;
  const lines: string[] = [];
  raw.forEach((line, i) => {
    const m = /^([2-5]\d\d)([ -]|$)(.*)$/s.exec(line);
    if (!m) throw new ReplyProtocolError(`malformed reply line: ${JSON.stringify(line.slice(0, 80))}`);
    const c = Number(m[1]);
    if (i === 0) code = c;
    else if (c !== code) throw new ReplyProtocolError(`reply code changed within a reply: ${code} then ${c}`);
    let text = m[3];
    // RFC 2034 §4: the enhanced code starts the text of each line; its class matches the code's.
    const e = enhancedRe.exec(text);
    if (e && e[1] === String(code)[0]) {
      const s = `${e[1]}.${Number(e[2])}.${Number(e[3])}` as EnhancedStatus;
      if (i === 0) status = s;
      if (s === status) text = text.slice(e[0].length);
    }
    lines.push(text);
  });
  if (raw.length === 0) throw new ReplyProtocolError('empty reply');
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
    this.buf += typeof chunk === 'string' ? chunk : chunk.toString('latin1');
    for (;;) {
      const i = this.buf.indexOf('\n');
      if (i < 0) break;
      const line = this.buf.slice(0, i).replace(/\r$/, '');
      this.buf = this.buf.slice(i + 1);
      this.line(line);
      if (this.ended) return;
    }
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

  /** The next reply. Rejects with the end error once the connection is gone. */
  async next(): Promise<SmtpReply> {
    const r = this.ready.shift() ?? (this.ended && this.ready.length === 0 ? this.ended : undefined);
    if (r) {
      if (r instanceof Error) throw r;
      return r;
    }
    const got = await new Promise<SmtpReply | Error>((resolve) => (this.waiter = resolve));
    if (got instanceof Error) throw got;
    return got;
  }

  private line(line: string): void {
    if (line.length > MAX_LINE) return this.fail(new ReplyProtocolError('reply line too long'));
    this.pending.push(line);
    if (this.pending.length > MAX_LINES) return this.fail(new ReplyProtocolError('reply has too many lines'));
    if (/^\d{3}-/.test(line)) return;
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
