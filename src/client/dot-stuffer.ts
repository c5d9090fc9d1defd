/**
 * @module dot-stuffer
 * The sending side of DATA: doubles a leading "." on every line, makes every line end in CRLF,
 * and ends the message with the "<CRLF>.<CRLF>" terminator.
 * Standards: RFC 5321 §4.5.2 (transparency), §2.3.8 (lines end in CRLF), §4.1.1.4 (DATA end).
 * Security: bare CR and bare LF are rewritten to CRLF before stuffing, so no byte sequence in a
 *   message can end the transaction early at a receiver that accepts bare line ends (SMTP
 *   smuggling, CVE-2023-51764 family).
 * Limitations: a message with bare CR/LF is changed (normalized) on the way out.
 */
const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;

/** Stuffs a message piece by piece: stuff() each piece in order, then finish() for the end. */
export class DotStuffer {
  private lineStart = true;
  private pendingCr = false;
  /** octets read from the message */
  bytesIn = 0;
  /** octets written, terminator included */
  bytesOut = 0;

  /** The stuffed form of the next piece of the message. */
  stuff(buf: Buffer): Buffer {
    this.bytesIn += buf.length;
    // worst case: every byte becomes two ("." → "..", LF → CRLF)
    const out = Buffer.allocUnsafe(buf.length * 2 + 2);
    let o = 0;
    for (let i = 0; i < buf.length; i++) {
      const b = buf[i];
      if (this.pendingCr) {
        this.pendingCr = false;
        out[o++] = CR;
        out[o++] = LF;
        this.lineStart = true;
        if (b === LF) continue; // a proper CRLF
        // else: a bare CR, now a line end; b is the first byte of the next line
      }
      if (b === CR) {
        this.pendingCr = true;
      } else if (b === LF) {
        out[o++] = CR; // bare LF
        out[o++] = LF;
        this.lineStart = true;
      } else {
        if (this.lineStart && b === DOT) out[o++] = DOT;
        out[o++] = b;
        this.lineStart = false;
      }
    }
    this.bytesOut += o;
    return out.subarray(0, o);
  }

  /** The end: a line end if the message lacked one, then the terminator. */
  finish(): Buffer {
    let tail = '';
    if (this.pendingCr || !this.lineStart) tail += '\r\n';
    tail += '.\r\n';
    this.bytesOut += tail.length;
    return Buffer.from(tail, 'latin1');
  }
}
