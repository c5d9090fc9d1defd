/**
 * @module imap-value
 * IMAP response values and their encoding: NIL, numbers, atoms, strings (quoted when safe,
 * otherwise a literal), and parenthesized lists.
 * Standards: RFC 9051 §4.3 (strings: a quoted string holds no CR, LF or NUL, and only 7-bit
 *   text unless UTF8=ACCEPT is enabled; anything else goes as a literal "{n}" CRLF octets),
 *   §4.4 (lists), §4.5 (NIL); RFC 3516 §4.3 (literal8 for BINARY data holding NUL).
 * Security: server data (message headers, folder names) is never written raw into a response
 *   line: whatever could break the framing goes as a counted literal.
 * Limitations: none.
 */

/** An atom written as is (flags, keywords, response keywords): the caller vouches for its syntax. */
export class ImapAtom {
  constructor(readonly text: string) {}
}
export const atom = (s: string): ImapAtom => new ImapAtom(s);

/**
 * A string always sent as a literal (message data); `binary`: BINARY[] data, sent as literal8
 * ("~{n}") when it holds a NUL (RFC 3516 §4.3).
 */
export class ImapLiteral {
  constructor(
    readonly data: Buffer,
    readonly binary = false,
  ) {}
}

/** Values written back to back without spaces (RFC 9051 §9 body-type-mpart: 1*body). */
export class ImapRun {
  constructor(readonly items: readonly ImapValue[]) {}
}

/** Octets already encoded (a value encoded once and kept: fetch-cache), written as they are. */
export class ImapEncoded {
  constructor(readonly data: Buffer) {}
}

export type ImapValue = null | number | bigint | string | Buffer | ImapAtom | ImapLiteral | ImapRun | ImapEncoded | readonly ImapValue[];

/** Whether the octets may be sent as a quoted string (RFC 9051 §4.3). */
function quotable(b: Buffer, utf8: boolean): boolean {
  if (b.length > 1000) return false;
  for (const c of b) {
    if (c === 0x00 || c === 0x0a || c === 0x0d) return false;
    if (c >= 0x80 && !utf8) return false;
  }
  if (utf8 && !Buffer.from(b.toString('utf8'), 'utf8').equals(b)) return false;
  return true;
}

function quote(b: Buffer): Buffer {
  const s = b.toString('latin1').replace(/[\\"]/g, (c) => `\\${c}`);
  return Buffer.from(`"${s}"`, 'latin1');
}

// the octets every value list repeats, made once (pushed, never written to)
const NIL = Buffer.from('NIL');
const OPEN = Buffer.from('(');
const CLOSE = Buffer.from(')');
const SPACE = Buffer.from(' ');

/**
 * Encodes a value into chunks (a literal's octets are kept as their own Buffer, not copied).
 * `utf8`: the client enabled UTF8=ACCEPT (8-bit text may be quoted).
 */
export function encodeValue(v: ImapValue, out: Buffer[], utf8 = false): void {
  if (v === null) out.push(NIL);
  else if (typeof v === 'number' || typeof v === 'bigint') out.push(Buffer.from(String(v)));
  else if (v instanceof ImapAtom) out.push(Buffer.from(v.text, 'utf8'));
  else if (v instanceof ImapEncoded) out.push(v.data);
  else if (v instanceof ImapRun) {
    for (const x of v.items) encodeValue(x, out, utf8);
  } else if (v instanceof ImapLiteral) {
    out.push(Buffer.from(`${v.binary && v.data.includes(0) ? '~' : ''}{${v.data.length}}\r\n`), v.data);
  } else if (typeof v === 'string' || Buffer.isBuffer(v)) {
    const b = typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
    if (quotable(b, utf8)) out.push(quote(b));
    else out.push(Buffer.from(`{${b.length}}\r\n`), b);
  } else {
    out.push(OPEN);
    v.forEach((x, i) => {
      if (i > 0) out.push(SPACE);
      encodeValue(x, out, utf8);
    });
    out.push(CLOSE);
  }
}

/** One value as a single Buffer. */
export function encodeValueBuffer(v: ImapValue, utf8 = false): Buffer {
  const out: Buffer[] = [];
  encodeValue(v, out, utf8);
  return Buffer.concat(out);
}

/** An astring for names (folder names in LIST, STATUS): an atom when it is one, else a string. */
export function astring(s: string): ImapValue {
  return /^[\x21-\x7e]+$/.test(s) && !/[(){ %*"\\\]]/.test(s) && s.toUpperCase() !== 'NIL' ? atom(s) : s;
}
