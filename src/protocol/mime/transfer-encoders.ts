/**
 * @module transfer-encoders
 * Content-Transfer-Encoding encoders fed a part's body in pieces, with its line breaks told
 * apart, for the 7-bit downgrade (to-7bit.ts): quoted-printable for text that is mostly ASCII,
 * base64 for everything else. Each writes through `out` as it goes (nothing held whole).
 * Standards: RFC 2045 §6.7 (quoted-printable: lines of at most 76 characters, "=" soft breaks,
 *   trailing white space encoded), §6.8 (base64 in lines of 76 characters).
 * Security: none (output only; the memory held is under one 57-octet group or one character).
 * Limitations: base64 keeps the part's own line-end octets as data (binary-exact).
 */

export type Out = (b: Buffer | string) => void;

/** RFC 2045 §6.7: quoted-printable, lines at most 76 characters, trailing white space encoded. */
export class QpEncoder {
  private col = 0;
  private pendingWs = -1;
  wrote = false;
  endsWithBreak = false;
  constructor(private readonly out: Out) {}
  private emit(token: string): void {
    if (this.col + token.length > 75) {
      this.out('=\r\n');
      this.col = 0;
    }
    this.out(token);
    this.col += token.length;
    this.wrote = true;
    this.endsWithBreak = false;
  }
  private flushWs(encoded: boolean): void {
    if (this.pendingWs < 0) return;
    const b = this.pendingWs;
    this.pendingWs = -1;
    this.emit(encoded ? `=${b.toString(16).toUpperCase().padStart(2, '0')}` : String.fromCharCode(b));
  }
  feed(bytes: Buffer): void {
    for (const b of bytes) {
      this.flushWs(false);
      if (b === 0x20 || b === 0x09) this.pendingWs = b;
      else if (b >= 33 && b <= 126 && b !== 61) this.emit(String.fromCharCode(b));
      else this.emit(`=${b.toString(16).toUpperCase().padStart(2, '0')}`);
    }
  }
  lineBreak(_eol?: Buffer): void {
    this.flushWs(true);
    this.out('\r\n');
    this.col = 0;
    this.wrote = true;
    this.endsWithBreak = true;
  }
  end(): void {
    this.flushWs(true);
  }
}

/** RFC 2045 §6.8: base64 in lines of 76 characters (57 octets). Lines are separated, not ended. */
export class Base64Encoder {
  private rest = Buffer.alloc(0);
  wrote = false;
  readonly endsWithBreak = false;
  constructor(private readonly out: Out) {}
  private line(b: Buffer): void {
    if (this.wrote) this.out('\r\n');
    this.out(b.toString('base64'));
    this.wrote = true;
  }
  feed(bytes: Buffer): void {
    let buf = this.rest.length ? Buffer.concat([this.rest, bytes]) : bytes;
    while (buf.length >= 57) {
      this.line(buf.subarray(0, 57));
      buf = buf.subarray(57);
    }
    this.rest = Buffer.from(buf);
  }
  /** the exact line-end octets: base64 content is binary-exact */
  lineBreak(eol: Buffer = Buffer.from('\r\n')): void {
    this.feed(eol);
  }
  end(): void {
    if (this.rest.length) this.line(this.rest);
    this.rest = Buffer.alloc(0);
  }
}
