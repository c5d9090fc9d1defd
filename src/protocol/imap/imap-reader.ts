/**
 * @module imap-reader
 * The tokens of an IMAP command: a reader over the whole command (its line and literals, as
 * the session collected them) that takes atoms, numbers, strings (quoted or literal), astrings,
 * lists and sequence sets, and throws ImapSyntaxError at the first octet out of place.
 * Standards: RFC 9051 §4 (data formats), §9 (formal syntax: ATOM-CHAR, astring, literal with
 *   "{n}" / "{n+}" (RFC 7888 LITERAL+), quoted with "\" escaping only "\" and '"').
 * Security: every count is bounded (numbers to 2^32-1, nesting by the caller, literals by the
 *   octets actually present); the input is never trusted to match its own counts.
 * Limitations: literal8 ("~{n}") is read for APPEND only.
 */

export class ImapSyntaxError extends Error {}

const CR = 0x0d;
const LF = 0x0a;

/** RFC 9051 §9: ATOM-CHAR is any CHAR except atom-specials ( ) { SP CTL % * " \ ] */
function isAtomChar(c: number): boolean {
  if (c <= 0x20 || c >= 0x7f) return false;
  return !(c === 0x28 || c === 0x29 || c === 0x7b || c === 0x25 || c === 0x2a || c === 0x22 || c === 0x5c || c === 0x5d);
}

export class ImapReader {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }
  peek(): number {
    return this.pos < this.buf.length ? this.buf[this.pos] : -1;
  }
  fail(what: string): never {
    throw new ImapSyntaxError(`${what} expected at octet ${this.pos}`);
  }
  sp(): void {
    if (this.peek() !== 0x20) this.fail('space');
    this.pos++;
  }
  /** Takes one space when present. */
  maybeSp(): boolean {
    if (this.peek() !== 0x20) return false;
    this.pos++;
    return true;
  }
  expect(ch: string): void {
    if (this.peek() !== ch.charCodeAt(0)) this.fail(`"${ch}"`);
    this.pos++;
  }
  end(): void {
    if (!this.done) this.fail('end of command');
  }

  /** Octets while `ok` holds (at least one). */
  private run(ok: (c: number) => boolean, what: string): string {
    const start = this.pos;
    while (this.pos < this.buf.length && ok(this.buf[this.pos])) this.pos++;
    if (this.pos === start) this.fail(what);
    return this.buf.toString('latin1', start, this.pos);
  }

  atom(): string {
    return this.run(isAtomChar, 'atom');
  }
  /** An atom that may hold "]" (ASTRING-CHAR) or also "[" "]" "<" ">" "." for FETCH items. */
  astringChars(): string {
    return this.run((c) => isAtomChar(c) || c === 0x5d, 'astring');
  }
  /** RFC 9051 §9 tag: ASTRING-CHAR except "+". */
  tag(): string {
    return this.run((c) => (isAtomChar(c) || c === 0x5d) && c !== 0x2b, 'tag');
  }
  number(): number {
    const s = this.run((c) => c >= 0x30 && c <= 0x39, 'number');
    if (s.length > 10 || Number(s) > 0xffffffff) this.fail('32-bit number');
    return Number(s);
  }
  /**
   * RFC 7162 §7 mod-sequence-value (up to 2^63-1); values beyond what a double holds exactly
   * are clamped (MODSEQs given out here never come near them).
   */
  modseq(): number {
    const s = this.run((c) => c >= 0x30 && c <= 0x39, 'mod-sequence value');
    if (s.length > 19 || BigInt(s) > 0x7fffffffffffffffn) this.fail('63-bit mod-sequence value');
    return Math.min(Number(s), Number.MAX_SAFE_INTEGER);
  }
  nzNumber(): number {
    const n = this.number();
    if (n === 0) this.fail('non-zero number');
    return n;
  }

  /** A quoted string or a literal, as octets. */
  string(): Buffer {
    const c = this.peek();
    if (c === 0x22) return this.quoted();
    if (c === 0x7b) return this.literal();
    return this.fail('string');
  }
  private quoted(): Buffer {
    this.pos++;
    const out: number[] = [];
    for (;;) {
      if (this.done) this.fail('closing quote');
      const c = this.buf[this.pos++];
      if (c === 0x22) break;
      if (c === CR || c === LF || c === 0) this.fail('quoted character');
      if (c === 0x5c) {
        const d = this.buf[this.pos++];
        if (d !== 0x22 && d !== 0x5c) this.fail('\\" or \\\\');
        out.push(d);
      } else out.push(c);
    }
    return Buffer.from(out);
  }
  /** "{n}" or "{n+}" CRLF and n octets (the session already read them in). */
  literal(binary = false): Buffer {
    if (binary && this.peek() === 0x7e) this.pos++;
    this.expect('{');
    const n = this.number();
    if (this.peek() === 0x2b) this.pos++;
    this.expect('}');
    if (this.buf[this.pos] !== CR || this.buf[this.pos + 1] !== LF) this.fail('CRLF after literal count');
    this.pos += 2;
    if (this.pos + n > this.buf.length) this.fail('literal octets');
    const data = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    if (!binary && data.includes(0)) this.fail('literal without NUL');
    return data;
  }
  astring(): Buffer {
    const c = this.peek();
    if (c === 0x22 || c === 0x7b) return this.string();
    return Buffer.from(this.astringChars(), 'latin1');
  }
  /** NIL or a string */
  nstring(): Buffer | null {
    if (this.peekWord('NIL')) {
      this.pos += 3;
      return null;
    }
    return this.string();
  }
  /** Whether the next octets are `word` (case-insensitive) followed by a non-atom octet. */
  peekWord(word: string): boolean {
    const s = this.buf.toString('latin1', this.pos, this.pos + word.length);
    if (s.toUpperCase() !== word) return false;
    const next = this.buf[this.pos + word.length];
    return next === undefined || !isAtomChar(next);
  }
  /** A flag: "\" atom or a keyword atom. */
  flag(): string {
    if (this.peek() === 0x5c) {
      this.pos++;
      if (this.peek() === 0x2a) {
        this.pos++;
        return '\\*';
      }
      return `\\${this.atom()}`;
    }
    return this.atom();
  }
  /** "(" [flag *(SP flag)] ")" */
  flagList(): string[] {
    this.expect('(');
    const out: string[] = [];
    while (this.peek() !== 0x29) {
      if (out.length > 0) this.sp();
      out.push(this.flag());
      if (out.length > 100) this.fail('fewer flags');
    }
    this.pos++;
    return out;
  }
  /** A LIST pattern: list-char atoms (with % and *) or a string. */
  listMailbox(): Buffer {
    const c = this.peek();
    if (c === 0x22 || c === 0x7b) return this.string();
    return Buffer.from(this.run((x) => isAtomChar(x) || x === 0x25 || x === 0x2a || x === 0x5d, 'list-mailbox'), 'latin1');
  }
  /** The raw text of a sequence set ([0-9:*,] and "$"), parsed by parseSequenceSet. */
  seqSetText(): string {
    return this.run((c) => (c >= 0x30 && c <= 0x39) || c === 0x3a || c === 0x2a || c === 0x2c || c === 0x24, 'sequence set');
  }
}
