/**
 * @module pop3-line-splitter
 * Splits the octets a POP3 client sends into command lines, with a length limit, without
 * holding more than one line's worth of input.
 * Standards: RFC 1939 §3 (commands end with CRLF); RFC 2449 §4 (255 octets including CRLF).
 * Security: a line over the limit is reported once and skipped up to its end; the buffer never
 *   grows past the limit, so a client sending no LF cannot exhaust memory. A bare LF also ends
 *   a line (lenient, like most servers); the CR before it is removed.
 * Limitations: none.
 */

export type Pop3InputLine =
  | { readonly kind: 'line'; readonly line: Buffer }
  | { readonly kind: 'too-long' };

export class Pop3LineSplitter {
  private parts: Buffer[] = [];
  private length = 0;
  private skipping = false;

  /** maxLine counts the CRLF (RFC 2449 §4); it can be changed between pushes (SASL lines). */
  constructor(public maxLine = 255) {}

  /** Feeds octets; returns the complete lines (without CRLF) and over-long-line events, in order. */
  push(chunk: Buffer): Pop3InputLine[] {
    const out: Pop3InputLine[] = [];
    let start = 0;
    while (start < chunk.length) {
      const lf = chunk.indexOf(0x0a, start);
      if (lf < 0) {
        const rest = chunk.subarray(start);
        if (!this.skipping) {
          // Without its LF yet, the line may still be CR-less: allow maxLine - 1 octets so far.
          if (this.length + rest.length > this.maxLine - 1) {
            this.skipping = true;
            this.parts = [];
            this.length = 0;
            out.push({ kind: 'too-long' });
          } else {
            this.parts.push(Buffer.from(rest));
            this.length += rest.length;
          }
        }
        break;
      }
      const seg = chunk.subarray(start, lf);
      start = lf + 1;
      if (this.skipping) {
        this.skipping = false;
        continue;
      }
      let line = this.parts.length === 0 ? Buffer.from(seg) : Buffer.concat([...this.parts, seg]);
      this.parts = [];
      this.length = 0;
      const hadCr = line.length > 0 && line[line.length - 1] === 0x0d;
      if (hadCr) line = line.subarray(0, line.length - 1);
      // The limit counts the line end as two octets (CRLF), whatever the client sent.
      if (line.length + 2 > this.maxLine) out.push({ kind: 'too-long' });
      else out.push({ kind: 'line', line });
    }
    return out;
  }

  /** Drops any partial line (after STLS: RFC 2595 §4 / CVE-2011-0411 injection). */
  reset(): void {
    this.parts = [];
    this.length = 0;
    this.skipping = false;
  }
}
