/**
 * @module bdat-reader
 * CHUNKING: a BDAT chunk is exactly chunk-size octets, no dot-stuffing and no end marker.
 * `BdatReader` takes exactly that many octets from the input; `TextChecker` applies the text
 * rules of DATA across the chunks of one message.
 * Standards: RFC 3030 §2-§3 (BDAT, LAST, chunk-size); RFC 5321 §2.3.8 (CRLF), §4.5.3.1.6 (1000
 *   octets per line); RFC 1870 (size limit while receiving).
 * Security: BDAT cannot be smuggled into (its end is a count), but a body with bare CR/LF is
 *   still refused so what we store and relay is always CRLF text (no BINARYMIME).
 * Limitations: no BINARYMIME.
 */
import type { DataFlaw } from './data-decoder.js';

export interface ChunkResult {
  /** octets belonging to the chunk (a view into the input) */
  readonly data?: Buffer;
  /** true when the chunk is complete */
  readonly done: boolean;
  /** input after the chunk, when done */
  readonly rest?: Buffer;
}

/** Takes exactly `size` octets. */
export class BdatReader {
  private left: number;
  constructor(size: number) {
    this.left = size;
  }
  get remaining(): number {
    return this.left;
  }
  push(chunk: Buffer): ChunkResult {
    if (this.left === 0) return { done: true, rest: chunk };
    if (chunk.length < this.left) {
      this.left -= chunk.length;
      return { data: chunk, done: false };
    }
    const data = chunk.subarray(0, this.left);
    const rest = chunk.subarray(this.left);
    this.left = 0;
    return { data, done: true, rest };
  }
}

/** Checks CRLF discipline, line length and total size over a message's chunks. */
export class TextChecker {
  private prevCr = false;
  private lineLen = 0;
  size = 0;
  flaw: DataFlaw | undefined;
  constructor(
    private readonly maxSize = Infinity,
    private readonly maxLine = 1000,
  ) {}

  push(chunk: Buffer): void {
    this.size += chunk.length;
    if (this.size > this.maxSize) this.flaw ??= 'too-big';
    if (this.flaw !== undefined) return;
    let prevCr = this.prevCr;
    let lineLen = this.lineLen;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      lineLen++;
      if (b === 0x0a) {
        if (!prevCr) this.flaw ??= 'bare-line-ending';
        lineLen = 0;
      } else if (prevCr) this.flaw ??= 'bare-line-ending';
      if (lineLen > this.maxLine) this.flaw ??= 'line-too-long';
      prevCr = b === 0x0d;
    }
    this.prevCr = prevCr;
    this.lineLen = lineLen;
  }

  /** At the LAST chunk: a trailing CR without LF is a bare CR. */
  end(): void {
    if (this.prevCr) this.flaw ??= 'bare-line-ending';
  }
}
