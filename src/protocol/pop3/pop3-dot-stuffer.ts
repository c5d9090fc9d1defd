/**
 * @module pop3-dot-stuffer
 * From a stored message (CRLF line ends, not stuffed), chunk by chunk, to the body of a POP3
 * multi-line response: byte-stuffed lines (`stuff`) and the terminating ".CRLF" (`finish`).
 * A plain step, not a Transform: its caller (server/pop3/message-transfer.ts) writes each
 * chunk before it reads the next (issue 17). With `bodyLines` set it yields what TOP sends:
 * the header, the blank line and that many body lines.
 * Standards: RFC 1939 §3 (byte-stuffing, termination octet), §7 (TOP: header, blank line,
 *   n lines of body).
 * Security: a "." is added after every LF (not only after CRLF), so a stray bare LF in a stored
 *   message can never let a client see a premature end of response. Memory use is one chunk.
 * Limitations: a message not ending in CRLF gets one before the terminator (RFC 1939 §3), so
 *   the client sees 2 more octets than LIST reported for such (malformed) messages.
 */
const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;
const DOT_BUF = Buffer.from('.');
const CRLF_BUF = Buffer.from('\r\n');
const END_BUF = Buffer.from('.\r\n');

export interface Pop3DotStufferOptions {
  /** TOP: send only the header, the blank line and this many body lines (RFC 1939 §7). */
  readonly bodyLines?: number;
}

export class Pop3DotStuffer {
  private atLineStart = true;
  /** octets seen in the current line, ignoring a CR just before the LF */
  private lineLength = 0;
  private lastWasCr = false;
  private inBody = false;
  private readonly limit: number | undefined;
  private bodyLinesSent = 0;
  /** true once a TOP response has all its lines; further input is discarded */
  private finished = false;
  private sentAny = false;

  constructor(opts: Pop3DotStufferOptions = {}) {
    this.limit = opts.bodyLines;
    if (this.limit !== undefined && (!Number.isInteger(this.limit) || this.limit < 0)) {
      throw new RangeError('bodyLines must be a non-negative integer');
    }
  }

  /** true once TOP has sent everything it will send; the source may be destroyed early. */
  get complete(): boolean {
    return this.finished;
  }

  /**
   * The stuffed octets of the next chunk of the message, undefined when it gives none (TOP
   * complete).
   */
  stuff(buf: Buffer): Buffer | undefined {
    if (this.finished || buf.length === 0) return undefined;
    // the output: runs of the chunk itself (subarrays, not copies) with a dot between them
    const out: Buffer[] = [];
    let runStart = 0;
    let start = 0;
    while (start < buf.length) {
      if (this.atLineStart) {
        // In the body with the TOP budget spent: stop before this line.
        if (this.inBody && this.limit !== undefined && this.bodyLinesSent >= this.limit) {
          this.finished = true;
          break;
        }
        if (buf[start] === DOT) {
          if (start > runStart) out.push(buf.subarray(runStart, start));
          out.push(DOT_BUF);
          runStart = start;
        }
        this.atLineStart = false;
        this.lineLength = 0;
        this.lastWasCr = false;
      }
      const lf = buf.indexOf(LF, start);
      const end = lf < 0 ? buf.length : lf + 1;
      this.sentAny = true;
      if (lf < 0) {
        this.lineLength += end - start;
        this.lastWasCr = buf[end - 1] === CR;
      } else {
        // Content octets of the line, not counting LF or the CR before it.
        const crBefore = lf > start ? buf[lf - 1] === CR : this.lastWasCr;
        const content = this.lineLength + (lf - start) - (crBefore ? 1 : 0);
        this.endLine(content === 0);
      }
      start = end;
    }
    if (start > runStart) out.push(runStart === 0 && start === buf.length ? buf : buf.subarray(runStart, start));
    // a chunk with no line to stuff (most) goes on as it came, not copied: a copy of every
    // chunk was garbage as big as the message, freed only at the next collection (issue 14)
    return out.length === 0 ? undefined : out.length === 1 ? out[0] : Buffer.concat(out);
  }

  private endLine(empty: boolean): void {
    this.atLineStart = true;
    if (this.inBody) this.bodyLinesSent++;
    else if (empty) this.inBody = true; // RFC 5322 §2.1: the first empty line ends the header
  }

  /** What ends the response: a CRLF when the message did not end with one, and ".CRLF". */
  finish(): Buffer[] {
    this.finished = true;
    return this.sentAny && !this.atLineStart ? [CRLF_BUF, END_BUF] : [END_BUF];
  }
}
