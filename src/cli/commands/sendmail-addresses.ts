/**
 * @module sendmail-addresses
 * The addresses of `correio sendmail`: recipient arguments and To/Cc/Bcc (or Resent-*) values
 * as RFC 5322 address lists (through address/'s one parser), the -f sender, a name without
 * @domain qualified with the primary local domain, each checked as an SMTP path before it goes
 * into the envelope; and the display name of a From: field made from -F.
 * Standards: RFC 5322 §3.4 (address lists, groups), §3.6.3 (Bcc), §3.6.6 (Resent-*);
 *   RFC 5321 §4.1.2 and §4.5.3.1 (path syntax and limits); RFC 2047 §2 (encoded words).
 * Security: a bad element refuses the whole list (exit 65) rather than being skipped; source
 *   routes are dropped.
 * Limitations: none.
 */
import { MailError, addressToString, type Address, type ReversePath } from '../../core/index.js';
import { parseAddrSpec, parseAddressList, parseForwardPath, parseReversePath, quoteLocalPart } from '../../address/index.js';
import { CliError, exitCodes } from '../cli-context.js';
import { fieldValue, type RawField } from './sendmail-input.js';

function badAddress(text: string, why: string, what = 'recipient'): CliError {
  return new CliError(`invalid ${what} address "${text}": ${why}`, exitCodes.dataErr);
}

/** One address as an envelope address: qualified with the primary domain, checked as an SMTP path. */
export function envelopeAddress(text: string, primaryDomain: string, what = 'recipient'): Address {
  const t = text.trim();
  if (t === '') throw badAddress(text, 'empty', what);
  const qualified = t.includes('@') ? t : `${t}@${primaryDomain}`;
  let a: Address;
  try {
    a = parseAddrSpec(qualified);
  } catch (err) {
    throw badAddress(text, err instanceof Error ? err.message : String(err), what);
  }
  try {
    // RFC 5321 §4.1.2 and §4.5.3.1 limits apply to what goes into the envelope
    return parseForwardPath(`<${addressToString(a)}>`, { smtpUtf8: true });
  } catch (err) {
    throw badAddress(text, err instanceof MailError ? err.reply.lines.join(' ') : String(err), what);
  }
}

/**
 * Splits an RFC 5322 address-list (§3.4) into its mailboxes with address/'s parser (the one
 * policy's From check uses): groups dropped, comments removed, an angle-addr ("Name <a@b>")
 * gives its address (a source route dropped), a lone local part stays unqualified. A bad
 * element refuses the whole list (65).
 */
export function splitAddressList(text: string): string[] {
  return parseAddressList(text, { bareLocalParts: true, closeOpenComment: false }).map((i) => {
    if (i.kind === 'bad') throw badAddress(text, i.text === text.trim() ? i.reason : `"${i.text}": ${i.reason}`);
    return i.kind === 'local' ? quoteLocalPart(i.local) : addressToString(i.address);
  });
}

/**
 * The addresses in one address list (an argument, or a To/Cc/Bcc value): "Name <a@b>", groups,
 * comma lists; a lone word is an unqualified local name.
 */
export function addressesIn(text: string, primaryDomain: string): Address[] {
  return splitAddressList(text).map((item) => envelopeAddress(item, primaryDomain));
}

export function parseSender(text: string | undefined, login: string, primaryDomain: string): ReversePath {
  if (text === undefined) return envelopeAddress(`${quoteLocalPart(login)}@${primaryDomain}`, primaryDomain, 'sender');
  const t = text.trim();
  if (t === '' || t === '<>') return null;
  if (t.startsWith('<') && t.endsWith('>')) {
    const inner = t.slice(1, -1);
    try {
      return parseReversePath(`<${inner.includes('@') ? inner : `${inner}@${primaryDomain}`}>`, { smtpUtf8: true });
    } catch (err) {
      throw badAddress(text, err instanceof MailError ? err.reply.lines.join(' ') : String(err), 'sender');
    }
  }
  return envelopeAddress(t, primaryDomain, 'sender');
}

/** RFC 5322 display-name: atoms as they are, specials quoted, non-ASCII as RFC 2047 words. */
export function displayName(name: string): string {
  const clean = name.replace(/[\r\n\t]+/g, ' ').trim();
  if (/[^\x20-\x7e]/.test(clean)) {
    // RFC 2047 §2: encoded words at most 75 characters; split on code points
    const words: string[] = [];
    let part = '';
    for (const ch of clean) {
      if (Buffer.byteLength(part + ch) > 45) {
        words.push(part);
        part = '';
      }
      part += ch;
    }
    if (part !== '') words.push(part);
    return words.map((w) => `=?UTF-8?B?${Buffer.from(w).toString('base64')}?=`).join(' ');
  }
  if (/^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~ ]+$/.test(clean)) return clean;
  return `"${clean.replace(/(["\\])/g, '\\$1')}"`;
}

/** The recipients a header names, for -t: Resent-To/Cc/Bcc when present, else To/Cc/Bcc. */
export function headerRecipients(fields: readonly RawField[], primaryDomain: string): Address[] {
  const resent = fields.filter((f) => f.name === 'resent-to' || f.name === 'resent-cc' || f.name === 'resent-bcc');
  const use = resent.length > 0 ? resent : fields.filter((f) => f.name === 'to' || f.name === 'cc' || f.name === 'bcc');
  return use.flatMap((f) => addressesIn(fieldValue(f), primaryDomain));
}

export function dedupe(list: readonly Address[]): Address[] {
  const seen = new Set<string>();
  return list.filter((a) => {
    const k = addressToString(a).toLowerCase();
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
