/**
 * @module smtp-path
 * RFC 5321 paths: the argument of MAIL FROM (reverse path) and RCPT TO (forward path).
 * Standards: RFC 5321 §4.1.2 (Path, Mailbox, Local-part, Domain, address-literal),
 *   §4.1.3 (address literals), §4.1.1.3 and appendix C (source routes: accepted, route dropped),
 *   §4.5.1 (<postmaster> without domain), §4.5.3.1 (length limits); RFC 6531 §3.3 (UTF-8 local
 *   parts and U-label domains only with SMTPUTF8); RFC 5890 (IDNA: U-labels become A-labels).
 * Security: everything is hostile input: control characters, NUL, over-long parts are refused;
 *   the domain is normalised (lower case, A-labels) so that relay decisions compare like with like.
 * Limitations: General-address-literals other than IPv6 are refused (no other tag is
 *   registered); no obsolete syntax
 *   (comments, folding whitespace, obs-local-part) — that is RFC 5322's, see addr-spec.ts.
 */
import { domainToASCII } from 'node:url';
import { isIPv4, isIPv6 } from 'node:net';
import type { Address, ReversePath } from '../core/address.js';
import { MailError } from '../core/smtp-reply.js';
import { replies } from '../core/replies.js';

export interface PathOptions {
  /** RFC 6531: the MAIL command carried SMTPUTF8, so UTF-8 local parts and domains are allowed. */
  readonly smtpUtf8?: boolean;
}

/** Why an address was refused (for tests and logs; the client sees only the reply). */
export class AddressSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AddressSyntaxError';
  }
}

// RFC 5321 §4.5.3.1.1-3 size limits
const MAX_LOCAL = 64;
const MAX_DOMAIN = 255;
const MAX_PATH = 256;

/** atext (RFC 5322 §3.2.3), which RFC 5321's Atom uses. */
const ATEXT = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]$/;

function isAtext(ch: string, utf8: boolean): boolean {
  if (ATEXT.test(ch)) return true;
  // RFC 6531 §3.3: atext =/ UTF8-non-ascii
  return utf8 && ch.codePointAt(0)! > 0x7f;
}

function fail(why: string): never {
  throw new AddressSyntaxError(why);
}

/** A Dot-string: Atom *("." Atom). */
export function isDotString(s: string, utf8 = false): boolean {
  if (s === '') return false;
  for (const atom of s.split('.')) {
    if (atom === '') return false;
    for (const ch of atom) if (!isAtext(ch, utf8)) return false;
  }
  return true;
}

/** Quotes a local part only when it is not a Dot-string (RFC 5321 §4.1.2: SHOULD NOT quote needlessly). */
export function quoteLocalPart(content: string): string {
  if (isDotString(content, true)) return content;
  return `"${content.replace(/(["\\])/g, '\\$1')}"`;
}

/**
 * Parses a Local-part at the start of s; returns the unquoted content form (quotes kept only
 * when needed) and the rest of s (beginning with "@" or the end).
 */
function parseLocalPart(s: string, utf8: boolean): { local: string; rest: string } {
  if (s.startsWith('"')) {
    let content = '';
    let i = 1;
    for (;;) {
      if (i >= s.length) fail('unterminated quoted string');
      const cp = s.codePointAt(i)!;
      const ch = String.fromCodePoint(cp);
      if (ch === '"') break;
      if (ch === '\\') {
        // quoted-pairSMTP = %d92 %d32-126
        const next = s[i + 1];
        if (next === undefined) fail('backslash at end');
        const ncp = next.codePointAt(0)!;
        if (ncp < 32 || ncp > 126) fail('invalid quoted pair');
        content += next;
        i += 2;
        continue;
      }
      // qtextSMTP = %d32-33 / %d35-91 / %d93-126 (RFC 6531: / UTF8-non-ascii)
      if (cp >= 32 && cp <= 126) content += ch;
      else if (utf8 && cp > 0x7f) content += ch;
      else fail('invalid character in quoted string');
      i += cp > 0xffff ? 2 : 1;
    }
    return { local: quoteLocalPart(content), rest: s.slice(i + 1) };
  }
  const at = s.lastIndexOf('@');
  const local = at < 0 ? s : s.slice(0, at);
  if (!isDotString(local, utf8)) fail('local part is not a dot-string');
  return { local, rest: at < 0 ? '' : s.slice(at) };
}

/** Validates and normalises a Domain (lower case; U-labels to A-labels). */
export function normalizeDomain(d: string, utf8 = false): string {
  if (d === '' || d.length > MAX_DOMAIN) fail('empty or long domain');
  let ascii = d;
  if (/[^\x00-\x7f]/.test(d)) {
    // RFC 6531 §3.3: sub-domain =/ U-label, only with SMTPUTF8
    if (!utf8) fail('non-ASCII domain without SMTPUTF8');
    ascii = domainToASCII(d);
    if (ascii === '') fail('invalid internationalised domain');
  }
  ascii = ascii.toLowerCase();
  for (const label of ascii.split('.')) {
    // sub-domain = Let-dig [Ldh-str]; Ldh-str ends in Let-dig
    if (!/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/.test(label)) fail(`bad domain label "${label}"`);
    if (label.length > 63) fail('domain label over 63 octets');
  }
  if (ascii.length > MAX_DOMAIN) fail('domain too long');
  return ascii;
}

/** Validates an address-literal "[...]" (RFC 5321 §4.1.3) and returns its canonical form. */
export function normalizeAddressLiteral(lit: string): string {
  if (!lit.startsWith('[') || !lit.endsWith(']')) fail('address literal without brackets');
  const inner = lit.slice(1, -1);
  if (isIPv4(inner)) {
    // Snum = 1*3DIGIT; node's isIPv4 already refuses leading zeros and values > 255
    return `[${inner}]`;
  }
  const colon = inner.indexOf(':');
  if (colon <= 0) fail('bad address literal');
  const tag = inner.slice(0, colon);
  const value = inner.slice(colon + 1);
  if (tag.toLowerCase() === 'ipv6') {
    if (!isIPv6(value) || value.includes('%')) fail('bad IPv6 address literal');
    if (value.includes('::')) {
      // RFC 5321 §4.1.3 IPv6-comp: "::" stands for at least 2 groups; at most 6 groups besides it
      // (IPv6v4-comp: at most 4, the IPv4 part counting as 2)
      const groups = value.split(':').filter((g) => g !== '');
      const n = groups.reduce((k, g) => k + (g.includes('.') ? 2 : 1), 0);
      if (n > 6) fail('"::" standing for a single group');
    }
    return `[IPv6:${value.toLowerCase()}]`;
  }
  // General-address-literal = Standardized-tag ":" 1*dcontent. Standardized-tag must be
  // registered with IANA (§4.1.3) and only "IPv6" is, so any other tag is refused.
  fail('unregistered address literal tag');
}

/**
 * Parses a Mailbox (local-part@domain, no angle brackets). Throws AddressSyntaxError.
 */
export function parseMailbox(s: string, opts: PathOptions = {}): Address {
  const utf8 = opts.smtpUtf8 === true;
  if (/[\x00-\x1f\x7f]/.test(s)) fail('control character');
  // RFC 5321 §4.5.3.1.3: a path is at most 256 octets with its "<" ">"
  if (Buffer.byteLength(s) > MAX_PATH - 2) fail('address over 254 octets');
  const { local, rest } = parseLocalPart(s, utf8);
  if (!rest.startsWith('@')) fail('missing @domain');
  const dom = rest.slice(1);
  const domain = dom.startsWith('[') ? normalizeAddressLiteral(dom) : normalizeDomain(dom, utf8);
  // RFC 5321 §4.5.3.1.1: local part at most 64 octets, as sent (quotes and escapes included)
  if (Buffer.byteLength(s) - Buffer.byteLength(rest) > MAX_LOCAL) fail('local part over 64 octets');
  return { local, domain };
}

/** Strips "<" ">" and a source route (RFC 5321 §4.1.1.3, appendix C: the route is ignored). */
function unwrapPath(s: string): string {
  if (Buffer.byteLength(s) > MAX_PATH + 2) fail('path too long');
  if (!s.startsWith('<') || !s.endsWith('>')) fail('path without angle brackets');
  let inner = s.slice(1, -1);
  if (inner.startsWith('@')) {
    // A-d-l = At-domain *( "," At-domain ) ":"; each At-domain must still be a valid domain
    const colon = inner.indexOf(':');
    if (colon < 0) fail('source route without ":"');
    for (const hop of inner.slice(0, colon).split(',')) {
      if (!hop.startsWith('@')) fail('bad source route');
      const d = hop.slice(1);
      if (d.startsWith('[')) normalizeAddressLiteral(d);
      else normalizeDomain(d, false);
    }
    inner = inner.slice(colon + 1);
  }
  return inner;
}

function syntaxCheck<T>(f: () => T, reply: () => MailError): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof AddressSyntaxError) throw reply();
    throw err;
  }
}

/**
 * Parses the MAIL FROM argument: "<>" (null sender) or "<mailbox>", optionally with a source
 * route. A single leading space is tolerated (the seed writes "MAIL FROM: <helvecio@dsc.ufpb.br>").
 * Throws MailError 501 5.1.7 on bad syntax, 553 5.6.7 for UTF-8 without SMTPUTF8.
 */
export function parseReversePath(s: string, opts: PathOptions = {}): ReversePath {
  const t = s.replace(/^ +/, '');
  if (t === '<>') return null;
  return syntaxCheck(
    () => {
      utf8Check(t, opts);
      return parseMailbox(unwrapPath(t), opts);
    },
    () => new MailError(replies.badSenderSyntax(), 'MAIL_ERR_SENDER_SYNTAX'),
  );
}

/**
 * Parses the RCPT TO argument: "<mailbox>" or "<postmaster>" (any case, no domain, RFC 5321
 * §4.1.1.3); postmaster is returned as { local: 'postmaster', domain: '' }.
 * Throws MailError 501 5.1.3 on bad syntax, 553 5.6.7 for UTF-8 without SMTPUTF8.
 */
export function parseForwardPath(s: string, opts: PathOptions = {}): Address {
  const t = s.replace(/^ +/, '');
  if (/^<postmaster>$/i.test(t)) return { local: 'postmaster', domain: '' };
  return syntaxCheck(
    () => {
      utf8Check(t, opts);
      return parseMailbox(unwrapPath(t), opts);
    },
    () => new MailError(replies.badRecipientSyntax(), 'MAIL_ERR_RECIPIENT_SYNTAX'),
  );
}

/** RFC 6531 §3.4: a UTF-8 address without SMTPUTF8 gets 553 5.6.7. */
function utf8Check(s: string, opts: PathOptions): void {
  if (opts.smtpUtf8 !== true && /[^\x00-\x7f]/.test(s)) {
    throw new MailError(replies.utf8NotPermitted(), 'MAIL_ERR_UTF8');
  }
}

/** Whether an address is the postmaster role (RFC 5321 §4.5.1), with or without domain. */
export function isPostmaster(a: Address): boolean {
  return a.local.toLowerCase() === 'postmaster';
}
