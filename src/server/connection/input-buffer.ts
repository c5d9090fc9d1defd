/**
 * @module input-buffer
 * The input a LineConnection has received and not yet read, as the chunks came, and the line
 * finder over it: where a line ends, a line too long to keep, raw octets taken as they came.
 * The connection (line-connection.ts) owns the stream, its pausing and timeouts; its output is
 * output-queue.ts's.
 * Standards: RFC 5321 §2.3.8 and RFC 1939 §3 (lines end with CRLF; a bare LF is accepted as
 *   an end of line, the CR before it removed).
 * Security: everything held here is the peer's, hostile input. A line longer than its limit
 *   is discarded to its end, never buffered whole. Chunks that come while the oldest input is
 *   not read are kept as they came and joined only to find a line across them, so a slow
 *   reader of a big body or literal does not copy it again at each arrival (issue 14).
 * Limitations: how much is held is bounded by the connection (it pauses reading past its
 *   `maxBuffered`), not here.
 */
import { LONG } from './read-results.js';

const EMPTY = Buffer.alloc(0);

export class InputBuffer {
  /** the oldest input not yet read (empty only when nothing is held) */
  private head: Buffer = EMPTY;
  /**
   * Chunks that came while `head` was not empty, joined to it only when a line is looked for
   * past it. Joining each arrival copied all the held input again for every chunk that came while
   * a reader was busy: garbage several times a big literal's or body's size, made only when the
   * process was slow (issue 14).
   */
  private later: Buffer[] = [];
  private laterLen = 0;
  /** the start of a line over its limit was dropped: the rest, to its end, goes too */
  private discarding = false;

  /** octets held */
  get length(): number {
    return this.head.length + this.laterLen;
  }
  /** whether nothing is held */
  get empty(): boolean {
    return this.head.length === 0;
  }

  /** Holds a chunk that came. */
  push(chunk: Buffer): void {
    if (this.head.length === 0) this.head = chunk;
    else {
      this.later.push(chunk);
      this.laterLen += chunk.length;
    }
  }

  /**
   * The next line (CRLF or LF ended, the line end removed), not copied; LONG for a line longer
   * than `limit` octets (counting a CRLF), discarded to its end; undefined when no line is
   * complete yet (the start of an over-long one is then dropped).
   */
  nextLine(limit: number): Buffer | typeof LONG | undefined {
    let i = this.head.indexOf(0x0a);
    if (i < 0 && this.later.length > 0) {
      this.joinLater();
      i = this.head.indexOf(0x0a);
    }
    if (i >= 0) {
      // one Buffer view for the line, none for the rest when the line ends the chunk (a
      // command usually comes alone); it was three views a line (issue 11)
      const head = this.head;
      const line = head.subarray(0, i > 0 && head[i - 1] === 0x0d ? i - 1 : i);
      this.setHead(i + 1 === head.length ? EMPTY : head.subarray(i + 1));
      if (this.discarding || line.length + 2 > limit) {
        this.discarding = false;
        return LONG;
      }
      return line;
    }
    if (this.head.length > limit) {
      this.discarding = true;
      this.take();
    }
    return undefined;
  }

  /** Takes the oldest octets held: a chunk as it came (or what is left of it), not copied. */
  take(): Buffer {
    const b = this.head;
    this.setHead(EMPTY);
    return b;
  }

  /** Takes everything held, in one Buffer (input that changes meaning: compressed from now). */
  takeAll(): Buffer {
    this.joinLater();
    return this.take();
  }

  /** Puts back octets read past the end of a body or chunk. */
  unshift(b: Buffer): void {
    if (this.head.length > 0) {
      this.later.unshift(this.head);
      this.laterLen += this.head.length;
    }
    this.head = b;
  }

  /** Forgets everything held. */
  clear(): void {
    this.head = EMPTY;
    this.later = [];
    this.laterLen = 0;
    this.discarding = false;
  }

  /** Makes `b` the oldest input, or the next chunk that came when `b` is empty. */
  private setHead(b: Buffer): void {
    const next = b.length === 0 ? this.later.shift() : undefined;
    if (next) this.laterLen -= next.length;
    this.head = next ?? b;
  }

  /** Joins the chunks that came later to the oldest input (a line looked for across them). */
  private joinLater(): void {
    if (this.later.length === 0) return;
    this.head = Buffer.concat([this.head, ...this.later]);
    this.later = [];
    this.laterLen = 0;
  }
}
