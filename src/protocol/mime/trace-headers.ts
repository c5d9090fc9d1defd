/**
 * @module trace-headers
 * The header fields an MTA writes itself: Received (the trace of each hop), Date and Message-ID.
 * Standards: RFC 5321 §4.4 (Time-stamp-line: From-domain, By-domain, With, ID, For, ";" date),
 *   RFC 5322 §3.3 (date-time), §3.6.4 (msg-id), §3.6.7 (trace fields), RFC 3848 (ESMTPS,
 *   ESMTPA, ESMTPSA "with" values), RFC 6531 §4.4 (UTF8SMTP* values), RFC 5321 §4.1.3
 *   (address literals, "IPv6:" tag).
 * Security: the HELO name and host names come from the network: they are reduced to printable
 *   ASCII without parentheses or backslashes, so they can neither open a comment nor break
 *   the field; the TLS description goes in a comment the same way.
 * Limitations: the "for" clause names at most one recipient (naming more would leak Bcc).
 */
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { foldHeader } from './header-block.js';

export interface ReceivedInfo {
  /** the HELO/EHLO argument; undefined for local submission */
  readonly from?: string;
  /** the client's name from reverse DNS, when verified */
  readonly remoteHostname?: string;
  /** the client's IP address; undefined for local submission */
  readonly remoteAddress?: string;
  /** our host name (By-domain) */
  readonly by: string;
  /** "SMTP", "ESMTP", "ESMTPS", "ESMTPSA", "LMTP", "local", "internal" ... */
  readonly protocol: string;
  /** the queue id of the message */
  readonly id: string;
  /** the single recipient, when there is exactly one */
  readonly for?: string;
  readonly tls?: { readonly protocol: string; readonly cipher: string };
  /** ms since epoch */
  readonly date: number;
  /** zone offset in minutes east of UTC for the date; default the machine's own */
  readonly zoneOffset?: number;
}

/** printable ASCII other than "(", ")" and "\\": what sanitizeToken keeps as it is */
const plainToken = /^[\x21-\x27\x2a-\x5b\x5d-\x7e]*$/;

/** Keeps printable ASCII other than comment delimiters; "?" for anything else. */
function sanitizeToken(s: string, max = 255): string {
  // the usual HELO name, host name or queue id: nothing to replace (one test, no loop)
  const head = s.length > max ? s.slice(0, max) : s;
  if (plainToken.test(head)) return head;
  let out = '';
  for (const ch of s.slice(0, max)) {
    const c = ch.codePointAt(0) ?? 0;
    out += c > 0x20 && c < 0x7f && ch !== '(' && ch !== ')' && ch !== '\\' ? ch : '?';
  }
  return out;
}

/** Text safe inside a comment: printable ASCII and spaces, parentheses and backslash dropped. */
function commentText(s: string): string {
  return s.replace(/[^\x20-\x7e]|[()\\]/g, '').slice(0, 200);
}

/** An IP address as an RFC 5321 §4.1.3 address literal ("[192.0.2.1]", "[IPv6:2001:db8::1]"). */
export function addressLiteral(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return `[${mapped[1]}]`;
  const kind = isIP(ip);
  if (kind === 4) return `[${ip}]`;
  if (kind === 6) return `[IPv6:${ip}]`;
  return `[${sanitizeToken(ip, 64)}]`;
}

/**
 * A Received field (RFC 5321 §4.4), folded, without the final CRLF:
 * ```
 * Received: from helo (rdns [192.0.2.1])
 *         (using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384)
 *         by mx.example.org (correio) with ESMTPS id 01ABC
 *         for <x@example.org>; Tue, 1 Jul 2025 10:52:37 +0200
 * ```
 */
export function formatReceived(info: ReceivedInfo): string {
  const clauses: string[] = [];
  if (info.from !== undefined || info.remoteAddress !== undefined) {
    // From-domain = "FROM" FWS Extended-Domain; TCP-info = address-literal / Domain FWS address-literal
    const helo = info.from !== undefined && info.from !== '' ? sanitizeToken(info.from) : 'unknown';
    let clause = `from ${helo}`;
    if (info.remoteAddress !== undefined) {
      const rdns = info.remoteHostname ? sanitizeToken(info.remoteHostname) : 'unknown';
      clause += ` (${rdns} ${addressLiteral(info.remoteAddress)})`;
    }
    clauses.push(clause);
  }
  if (info.tls) {
    clauses.push(`(using ${commentText(info.tls.protocol)} with cipher ${commentText(info.tls.cipher)})`);
  }
  const protocol = sanitizeToken(info.protocol, 32).replace(/[^A-Za-z0-9-]/g, '') || 'SMTP';
  clauses.push(`by ${sanitizeToken(info.by)} (correio) with ${protocol} id ${sanitizeToken(info.id, 64)}`);
  const date = formatDate(info.date, info.zoneOffset);
  if (info.for !== undefined) {
    // For = CFWS "FOR" FWS ( Path / Mailbox ); the address may be UTF-8 (RFC 6531 §3.7.3).
    const rcpt = info.for.replace(/[\x00-\x1f\x7f<>]/g, '');
    clauses.push(`for <${rcpt}>; ${date}`);
  } else {
    clauses[clauses.length - 1] += `; ${date}`;
  }
  // One clause per line, like Postfix: folding at FWS keeps each line short. A clause that is
  // itself long (a long HELO) is folded further at its own spaces.
  return clauses
    .map((c, i) => (i === 0 ? foldHeader('Received', c) : foldHeader('X', c).slice(3).replace(/^/, '\t')))
    .join('\r\n');
}

const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * An RFC 5322 §3.3 date-time with a numeric zone, e.g. "Tue, 1 Jul 2003 10:52:37 +0200".
 * `zoneOffset` is minutes east of UTC; default the machine's zone at that instant.
 */
export function formatDate(ms: number, zoneOffset?: number): string {
  // every message of the same second in the machine's zone has the same date (one per message
  // in intake's Received field): the zone lookup and formatting are done once per second
  const second = Math.floor(ms / 1000);
  if (zoneOffset === undefined && second === lastDate.second) return lastDate.text;
  const text = formatDateIn(ms, zoneOffset ?? -new Date(ms).getTimezoneOffset());
  if (zoneOffset === undefined) lastDate = { second, text };
  return text;
}
let lastDate = { second: Number.NaN, text: '' };

function formatDateIn(ms: number, offset: number): string {
  const d = new Date(ms + offset * 60_000);
  const pad = (n: number): string => String(n).padStart(2, '0');
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset);
  const zone = `${sign}${pad(Math.floor(abs / 60))}${pad(abs % 60)}`;
  return (
    `${days[d.getUTCDay()]}, ${d.getUTCDate()} ${months[d.getUTCMonth()]} ${d.getUTCFullYear()} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} ${zone}`
  );
}

/**
 * A new globally unique msg-id with its angle brackets, e.g. "<m5x2k1.q3V9s0bX@mx.example.org>"
 * (RFC 5322 §3.6.4: id-left is dot-atom-text; time and 72 random bits make it unique).
 */
export function makeMessageId(hostname: string): string {
  const right = hostname.replace(/[^A-Za-z0-9.-]/g, '') || 'localhost';
  const left = `${Date.now().toString(36)}.${randomBytes(9).toString('base64url')}`;
  return `<${left}@${right}>`;
}
