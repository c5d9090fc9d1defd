/**
 * @module mime-octets
 * The octets the MIME tree parser (mime-tree) reads: a whole message in memory, or a window that
 * slides over a message read as a stream, keeping only what the parser may still look at (the
 * header block being read, the line it is at and the two octets before it), so that the tree of
 * a message of any size is made in memory bounded by its header blocks and longest line.
 * Standards: none (a buffer for RFC 2045/2046 parsing).
 * Security: the window holds a header block whole while it is read and a line whole while its
 *   end is looked for: a message without line ends (or with a huge header) is held up to its size.
 * Limitations: offsets are the message's; octets before the window cannot be read again.
 */

const LF = 0x0a;

/** The line ends (LF) in b[from, to). */
export function countLf(b: Buffer, from: number, to: number): number {
  let n = 0;
  for (let i = b.indexOf(LF, from); i >= 0 && i < to; i = b.indexOf(LF, i + 1)) n++;
  return n;
}

export class MimeOctets {
  /** the message's octets from `base` (a view of #store while streaming) */
  buf: Buffer;
  /** the offset in the message of buf[0] */
  base = 0;
  /** no octets come after buf */
  done: boolean;
  /** the start of the header block being read: kept until it is parsed */
  pin: number | undefined;
  /** the line the parser waits at: kept from two octets before it (RFC 2046 §5.1.1: the CRLF before a delimiter is the delimiter's) */
  at = 0;
  /** streaming: line ends are counted (BODYSTRUCTURE's lines), as the octets go */
  readonly counting: boolean;
  #store: Buffer;
  #start = 0;
  #lfPos = 0;
  #lfCount = 0;
  /** lf(i) searched [i, #searchedTo) already */
  #searchedFrom = -1;
  #searchedTo = 0;

  private constructor(buf: Buffer, done: boolean) {
    this.buf = buf;
    this.#store = buf;
    this.done = done;
    this.counting = !done;
  }

  static whole(buf: Buffer): MimeOctets {
    return new MimeOctets(buf, true);
  }

  static stream(): MimeOctets {
    return new MimeOctets(Buffer.alloc(0), false);
  }

  /** The offset after the octets held (the message's size once done). */
  get end(): number {
    return this.base + this.buf.length;
  }

  byte(i: number): number | undefined {
    return this.buf[i - this.base];
  }

  /** The offset of the first LF at or after `i`; -1 when there is none, -2 when more octets are needed to tell. */
  lf(i: number): number {
    const from = i === this.#searchedFrom ? Math.max(i, this.#searchedTo) : i;
    const k = this.buf.indexOf(LF, from - this.base);
    if (k >= 0) return k + this.base;
    if (this.done) return -1;
    this.#searchedFrom = i;
    this.#searchedTo = this.end;
    return -2;
  }

  /** Whether the octets at `i` are `b`. */
  equals(i: number, b: Buffer): boolean {
    const s = i - this.base;
    return this.buf.subarray(s, s + b.length).equals(b);
  }

  /** Octets [a, b): a view of the message in memory, a copy of the window's (it is reused). */
  slice(a: number, b: number): Buffer {
    const v = this.buf.subarray(a - this.base, b - this.base);
    return this.counting ? Buffer.from(v) : v;
  }

  /** Line ends before offset `x` (streaming only; `x` within the window). */
  lfBefore(x: number): number {
    if (x >= this.#lfPos) {
      this.#lfCount += countLf(this.buf, this.#lfPos - this.base, x - this.base);
      this.#lfPos = x;
      return this.#lfCount;
    }
    return this.#lfCount - countLf(this.buf, x - this.base, this.#lfPos - this.base);
  }

  /** Takes the stream's next chunk, dropping the octets the parser is past. */
  push(chunk: Buffer): void {
    const keep = Math.min(this.pin ?? Infinity, this.at - 2);
    if (keep > this.base) {
      if (keep > this.#lfPos) this.lfBefore(Math.min(keep, this.end));
      const drop = Math.min(keep, this.end) - this.base;
      this.#start += drop;
      this.base += drop;
      this.buf = this.buf.subarray(drop);
    }
    const live = this.buf.length;
    if (this.#start + live + chunk.length > this.#store.length) {
      // grown by doubling (a long line or header block costs its size, copied log(n) times)
      const store = live + chunk.length > this.#store.length / 2 ? Buffer.allocUnsafe(Math.max(256 * 1024, 2 * (live + chunk.length))) : this.#store;
      this.#store.copy(store, 0, this.#start, this.#start + live);
      this.#store = store;
      this.#start = 0;
    }
    chunk.copy(this.#store, this.#start + live);
    this.buf = this.#store.subarray(this.#start, this.#start + live + chunk.length);
  }

  /** The stream ended. */
  finish(): void {
    this.done = true;
  }
}
