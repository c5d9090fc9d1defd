/**
 * @module from-addresses
 * What a From field names: its mailboxes (each parsed strictly as an addr-spec) and every other
 * address-like text written in it (display names, comments, encoded words), for the sender
 * rules (sender-rules.ts).
 * Standards: RFC 5322 §3.4 (mailbox, name-addr, group), §3.2.2 (comments), §3.6.2 (From);
 *   RFC 2047 §2, §4 (encoded words: B and Q); RFC 6532 (UTF-8 in headers); Unicode UAX #15
 *   (NFKC folds compatibility forms such as the fullwidth "＠").
 * Security: the mailboxes come from address/'s one address-list parser, strict where an address
 *   is concerned ("a@x b@y", "John Doe@x" are bad elements, not one plausible address a mail
 *   reader might show otherwise): an element that is not a proper mailbox counts as one that
 *   does not parse. Display text is decoded (encoded words, NFKC) before it
 *   is searched for addresses, so `=?utf-8?q?bob=40x?=` and `bob＠x` are seen as `bob@x`.
 * Limitations: look-alike characters that NFKC does not fold (Cyrillic "а" for Latin "a") are
 *   not recognised; an encoded word in an unknown charset is read as Latin-1.
 */
import type { Address } from '../core/index.js';
import { parseAddressList } from '../address/index.js';

/**
 * The mailboxes of a From field (RFC 5322 §3.6.2: a mailbox-list; group members included),
 * each parsed as an addr-spec; undefined for one that does not parse.
 */
export function fromAddresses(value: string): (Address | undefined)[] {
  // intake's header split already decoded the field (UTF-8 when valid: RFC 6532)
  return parseAddressList(value).map((i) => (i.kind === 'mailbox' ? i.address : undefined));
}

/**
 * Every address-like text ("local@domain") written in a field value outside its angle
 * brackets and bare addr-specs: in display names, quoted strings, comments and encoded words,
 * after decoding. `"bob@x" <alice@x>` gives ["bob@x"]; `alice@x (bob@y)` gives ["bob@y"].
 */
export function addressesInDisplayText(value: string): string[] {
  const text = decodeEncodedWords(displayText(value)).normalize('NFKC');
  return [...text.matchAll(/[^\s<>()[\]"',;:\\@]+@[^\s<>()[\]"',;:\\@]+/g)].map((m) => m[0].replace(/\.+$/, ''));
}

/** The value with its addresses taken out: display names, quoted strings and comments remain. */
function displayText(value: string): string {
  const parts: string[] = [];
  let cur = '';
  let quoted = false;
  let depth = 0;
  let angle = false;
  let named = false;
  const endElement = (groupName = false): void => {
    // a bare addr-spec element ("a@x", no angle brackets) is the mailbox itself; the rest of a
    // name-addr, and a group's name, are display text
    const bare = cur.trim();
    if (groupName || named || !(bare.includes('@') && !/\s/.test(bare) && !bare.startsWith('"'))) parts.push(cur, ' ');
    cur = '';
    named = false;
  };
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (quoted) {
      if (c === '\\') cur += value[++i] ?? '';
      else if (c === '"') {
        quoted = false;
        cur += c;
      } else cur += c;
      continue;
    }
    if (depth > 0) {
      // RFC 5322 §3.2.2: a comment, kept as display text (a reader may show it)
      if (c === '\\') parts.push(value[++i] ?? '');
      else if (c === '(') depth++;
      else if (c === ')') {
        depth--;
        parts.push(' ');
      } else parts.push(c);
      continue;
    }
    if (angle) {
      if (c === '>') angle = false;
      continue;
    }
    if (c === '(') {
      depth++;
      parts.push(' ');
    } else if (c === '"') {
      quoted = true;
      cur += c;
    } else if (c === '<') {
      angle = true;
      named = true;
    } else if (c === ',' || c === ';' || c === ':') {
      endElement(c === ':');
      parts.push(' ');
    } else cur += c;
  }
  endElement();
  return parts.join('');
}

/**
 * RFC 2047 §2: =?charset?B|Q?text?= words decoded; anything else left as it is. RFC 2047 §6.2:
 * whitespace between two encoded words is not shown, so "=?…?q?bob?= =?…?q?=40x?=" reads "bob@x".
 */
function decodeEncodedWords(text: string): string {
  return text.replace(/(\?=)\s+(?==\?[^?\s]+\?[BbQq]\?)/g, '$1').replace(/=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=/g, (_m, charset: string, enc: string, data: string) => {
    const bytes = enc.toUpperCase() === 'B'
      ? Buffer.from(data, 'base64')
      // RFC 2047 §4.2: "_" is a space, "=XX" an octet
      : Buffer.from(data.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_x, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1');
    try {
      // RFC 2231 §5: a language after "*" ("utf-8*en")
      return new TextDecoder(charset.replace(/\*.*$/, '')).decode(bytes);
    } catch {
      return bytes.toString('latin1');
    }
  });
}
