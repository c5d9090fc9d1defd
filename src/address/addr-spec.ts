/**
 * @module addr-spec
 * RFC 5322 addr-spec parsing for header addresses (From, To, Sender ...): more permissive than
 * an SMTP path: comments, folding whitespace and the obsolete forms are accepted and dropped.
 * Standards: RFC 5322 §3.4.1 (addr-spec), §3.2.2 (CFWS), §3.2.4 (quoted-string), §4.4 (obs-local-part,
 *   obs-domain), RFC 6532 §3.2 (UTF-8 in atext, qtext, ctext, dtext).
 * Security: bounded recursion for nested comments (depth 32); CR must be followed by LF and WSP.
 * Limitations: no length limits (RFC 5322 has none; use parseMailbox for envelope use); the
 *   result's domain is lower-cased but not validated against DNS label syntax.
 */
import { domainToASCII } from 'node:url';
import type { Address } from '../core/address.js';
import { AddressSyntaxError, quoteLocalPart } from './smtp-path.js';

const ATEXT = /[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]/;
const MAX_COMMENT_DEPTH = 32;

function isWsp(c: string | undefined): boolean {
  return c === ' ' || c === '\t';
}

/** obs-NO-WS-CTL = %d1-8 / %d11 / %d12 / %d14-31 / %d127 */
function isObsCtl(cp: number): boolean {
  return (cp >= 1 && cp <= 8) || cp === 11 || cp === 12 || (cp >= 14 && cp <= 31) || cp === 127;
}

/** The RFC 5322 lexical parser over one string; address-list.ts builds on it. */
export class Parser {
  pos = 0;
  constructor(readonly s: string) {}

  fail(why: string): never {
    throw new AddressSyntaxError(`${why} at offset ${this.pos}`);
  }
  peek(): string | undefined {
    return this.s[this.pos];
  }
  /** FWS = ([*WSP CRLF] 1*WSP) / obs-FWS; returns whether any was consumed */
  fws(): boolean {
    const start = this.pos;
    for (;;) {
      const c = this.peek();
      if (isWsp(c)) this.pos++;
      else if (c === '\r') {
        if (this.s[this.pos + 1] !== '\n') this.fail('CR without LF');
        if (!isWsp(this.s[this.pos + 2])) this.fail('CRLF not followed by whitespace');
        this.pos += 3;
      } else if (c === '\n') this.fail('bare LF');
      else break;
    }
    return this.pos > start;
  }
  cfws(): void {
    for (;;) {
      this.fws();
      if (this.peek() === '(') this.comment(0);
      else break;
    }
  }
  comment(depth: number): void {
    if (depth > MAX_COMMENT_DEPTH) this.fail('comments nested too deep');
    this.pos++; // "("
    for (;;) {
      this.fws();
      const c = this.peek();
      if (c === undefined) this.fail('unclosed comment');
      if (c === ')') {
        this.pos++;
        return;
      }
      if (c === '(') this.comment(depth + 1);
      else if (c === '\\') this.quotedPair();
      else {
        const cp = this.s.codePointAt(this.pos)!;
        // ctext = %d33-39 / %d42-91 / %d93-126 / obs-ctext / UTF8-non-ascii
        if ((cp >= 33 && cp <= 126) || isObsCtl(cp) || cp > 0x7f) this.pos += cp > 0xffff ? 2 : 1;
        else this.fail('invalid character in comment');
      }
    }
  }
  /** quoted-pair = "\" (VCHAR / WSP) / obs-qp; returns the quoted character */
  quotedPair(): string {
    this.pos++;
    const cp = this.s.codePointAt(this.pos);
    if (cp === undefined) this.fail('backslash at end');
    if (cp === 10 || cp === 13) this.fail('quoted CR or LF');
    if (!((cp >= 32 && cp <= 126) || cp === 9 || cp === 0 || isObsCtl(cp) || cp > 0x7f)) this.fail('invalid quoted pair');
    const ch = String.fromCodePoint(cp);
    this.pos += ch.length;
    return ch;
  }
  atom(): string {
    const start = this.pos;
    for (;;) {
      const c = this.peek();
      if (c !== undefined && (ATEXT.test(c) || c.charCodeAt(0) > 0x7f)) this.pos++;
      else break;
    }
    return this.s.slice(start, this.pos);
  }
  quotedString(): string {
    this.pos++; // DQUOTE
    let out = '';
    for (;;) {
      if (this.fws()) out += ' ';
      const c = this.peek();
      if (c === undefined) this.fail('unclosed quoted string');
      if (c === '"') {
        this.pos++;
        return out;
      }
      if (c === '\\') out += this.quotedPair();
      else {
        const cp = this.s.codePointAt(this.pos)!;
        // qtext = %d33 / %d35-91 / %d93-126 / obs-qtext / UTF8-non-ascii
        if ((cp >= 33 && cp <= 126) || isObsCtl(cp) || cp > 0x7f) {
          const ch = String.fromCodePoint(cp);
          out += ch;
          this.pos += ch.length;
        } else this.fail('invalid character in quoted string');
      }
    }
  }
  /** word = atom / quoted-string, with CFWS around */
  word(): string {
    this.cfws();
    let w: string;
    if (this.peek() === '"') w = this.quotedString();
    else {
      w = this.atom();
      if (w === '') this.fail('expected atom');
    }
    this.cfws();
    return w;
  }
  localPart(): string {
    const parts = [this.word()];
    while (this.peek() === '.') {
      this.pos++;
      parts.push(this.word());
    }
    return parts.join('.');
  }
  domain(): string {
    this.cfws();
    if (this.peek() === '[') {
      this.pos++;
      let out = '';
      for (;;) {
        this.fws();
        const c = this.peek();
        if (c === undefined) this.fail('unclosed domain literal');
        if (c === ']') {
          this.pos++;
          break;
        }
        if (c === '[') this.fail('"[" in domain literal');
        if (c === '\\') out += this.quotedPair();
        else {
          const cp = this.s.codePointAt(this.pos)!;
          // dtext = %d33-90 / %d94-126 / obs-dtext
          if ((cp >= 33 && cp <= 126) || isObsCtl(cp) || cp > 0x7f) {
            out += String.fromCodePoint(cp);
            this.pos += cp > 0xffff ? 2 : 1;
          } else this.fail('invalid character in domain literal');
        }
      }
      this.cfws();
      return `[${out}]`;
    }
    const labels: string[] = [];
    for (;;) {
      this.cfws();
      const a = this.atom();
      if (a === '') this.fail('expected domain label');
      labels.push(a);
      this.cfws();
      if (this.peek() !== '.') break;
      this.pos++;
    }
    return labels.join('.');
  }
}

/**
 * Parses an RFC 5322 addr-spec ("local@domain", comments and FWS allowed and dropped).
 * Throws AddressSyntaxError. The local part comes back unquoted when quoting was unnecessary;
 * the domain lower-cased, U-labels converted to A-labels where valid.
 */
export function parseAddrSpec(s: string): Address {
  const p = new Parser(s);
  const local = p.localPart();
  if (p.peek() !== '@') p.fail('expected "@"');
  p.pos++;
  const domain = p.domain();
  if (p.pos !== s.length) p.fail('unexpected text after address');
  return toAddress(p, local, domain);
}

/**
 * A parsed local part and domain as an Address: U-labels to A-labels where valid, no label
 * starting or ending with "-", the domain lower-cased, the local part quoted only when needed.
 */
export function toAddress(p: Parser, local: string, domain: string): Address {
  let d = domain;
  if (!d.startsWith('[') && /[^\x00-\x7f]/.test(d)) d = domainToASCII(d) || d;
  const hyphenBad = !d.startsWith('[') && d.split('.').some((l) => l.startsWith('-') || l.endsWith('-'));
  if (hyphenBad) p.fail('domain label starts or ends with "-"');
  return { local: quoteLocalPart(local), domain: d.toLowerCase() };
}
