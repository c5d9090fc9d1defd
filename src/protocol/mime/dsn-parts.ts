/**
 * @module dsn-parts
 * The two text parts of a delivery status notification: the explanation for people and the
 * machine-readable message/delivery-status fields, from one DsnInput. dsn.ts puts them in the
 * multipart/report with the original.
 * Standards: RFC 3464 §2.2-§2.3 (per-message and per-recipient fields, their order),
 *   RFC 3461 §4.2-§4.4 (ENVID, ORCPT), RFC 6533 §3 (utf-8 address type, \x{HEX} in 7-bit form),
 *   RFC 6522 §3 (the first part is for people), RFC 5322 §2.1.1 (line limits).
 * Security: remote reply text is untrusted: control characters are removed and, outside
 *   SMTPUTF8, non-ASCII is replaced, so it cannot add fields or lines.
 * Limitations: the explanation is English only.
 */
import type { Readable } from 'node:stream';
import type { EnhancedStatus, SmtpReply } from '../../core/smtp-reply.js';
import { formatReply } from '../../core/smtp-reply.js';
import { enhancedStatusTitles } from '../../core/enhanced-status.js';
import { foldHeader } from './header-block.js';
import { formatDate } from './trace-headers.js';

export interface DsnRecipient {
  /** the recipient the report is about (after alias expansion): "user@domain" */
  finalRecipient: string;
  /** ORCPT as "addr-type;address" (xtext decoded), or a plain address (then rfc822) */
  originalRecipient?: string;
  action: 'failed' | 'delayed' | 'delivered' | 'relayed' | 'expanded';
  status: EnhancedStatus;
  /** the host that answered or was tried */
  remoteMta?: string;
  /** the remote reply, or a local failure text ("connection refused") */
  diagnostic?: SmtpReply | string;
  /** ms since epoch */
  lastAttemptAt?: number;
  /** ms since epoch; for delayed recipients */
  willRetryUntil?: number;
}

export interface DsnInput {
  kind: 'failure' | 'delay' | 'success';
  /** our host name */
  reportingMta: string;
  /** e.g. MAILER-DAEMON@host */
  from: string;
  /** the original envelope sender, or postmaster */
  to: string;
  /** ms since epoch when the original arrived */
  arrivalDate?: number;
  /** ENVID (xtext decoded) */
  envid?: string;
  /** the original's Message-ID, with angle brackets */
  originalMessageId?: string;
  recipients: DsnRecipient[];
  /** FULL: the whole original; HDRS: its header block */
  ret: 'FULL' | 'HDRS';
  /** opens the stored message, CRLF line ends */
  original: () => Promise<Readable>;
  /** ms since epoch: the report's Date */
  date: number;
  /** the report's own Message-ID, with angle brackets */
  messageId: string;
  /** the original came with SMTPUTF8: use the RFC 6533 global types */
  smtpUtf8?: boolean;
  /** the original's BODY= (RFC 6152, RFC 3030); default 7BIT */
  originalBody?: '7BIT' | '8BITMIME' | 'BINARYMIME';
  /** zone for the dates, minutes east of UTC; default the machine's zone */
  zoneOffset?: number;
}

// ---------------------------------------------------------------------------------------------
// text helpers

export const isAscii = (s: string): boolean => /^[\x00-\x7f]*$/.test(s);

/** Untrusted one-line text: no control characters; non-ASCII kept only where 8-bit is allowed. */
function cleanText(s: string, utf8: boolean): string {
  const noCtl = s.replace(/[\x00-\x1f\x7f]+/g, ' ');
  return utf8 ? noCtl.replace(/[\u0080-\u009f]/g, ' ') : noCtl.replace(/[^\x20-\x7e]/g, '?');
}

/** RFC 6533 §3 utf-8-addr-xtext: QCHAR kept, everything else as \x{HEX}. */
export function encodeUtf8AddrXtext(addr: string): string {
  let out = '';
  for (const ch of addr) {
    const c = ch.codePointAt(0) ?? 0;
    const qchar = c >= 0x21 && c <= 0x7e && ch !== '+' && ch !== '=' && ch !== '\\';
    out += qchar ? ch : `\\x{${c.toString(16).toUpperCase()}}`;
  }
  return out;
}

/**
 * An address-type;address value for Final-Recipient / Original-Recipient (RFC 3464 §2.3.1-2).
 * ASCII addresses are "rfc822;", others "utf-8;" (RFC 6533 §3), raw in the global form and
 * \x{HEX}-encoded in the 7-bit form.
 */
function typedAddress(value: string, global: boolean): string {
  let type = 'rfc822';
  let addr = value;
  const m = /^([A-Za-z0-9][A-Za-z0-9-]*)[ \t]*;[ \t]*(.*)$/s.exec(value);
  if (m) {
    type = m[1].toLowerCase();
    addr = m[2];
  }
  addr = addr.replace(/[\x00-\x1f\x7f]/g, '');
  if (isAscii(addr)) return `${type};${addr}`;
  if (type === 'rfc822' || type === 'utf-8') return global ? `utf-8;${addr}` : `utf-8;${encodeUtf8AddrXtext(addr)}`;
  return `${type};${global ? addr : encodeUtf8AddrXtext(addr)}`;
}

/** One-line form of a diagnostic, and its RFC 3464 §2.3.6 diagnostic-type. */
function diagnosticOf(d: SmtpReply | string): { type: string; text: string } {
  if (typeof d !== 'string') return { type: 'smtp', text: formatReply(d) };
  // a reply kept as text ("550 5.1.1 ...") is still an SMTP diagnostic
  if (/^[2-5]\d\d(?:[ -]|$)/.test(d)) return { type: 'smtp', text: d };
  return { type: 'X-Correio', text: d };
}

/** Wraps plain text at spaces to lines of at most `width` characters; a longer word is cut. */
function wrap(text: string, width = 76): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/ +/)) {
    if (line !== '' && line.length + 1 + word.length > width) {
      out.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') out.push(line);
  // RFC 5322 §2.1.1: never a line over 998 octets, whatever the remote said
  return out.flatMap((l) => {
    const parts: string[] = [];
    for (let i = 0; i < l.length; i += 240) parts.push(l.slice(i, i + 240));
    return parts;
  });
}

const indented = (text: string): string[] => wrap(text, 72).map((l) => `    ${l}`);

// ---------------------------------------------------------------------------------------------
// the parts

function statusTitle(status: string): string {
  const title = enhancedStatusTitles[status.split('.').slice(1).join('.')];
  return title ? ` (${title})` : '';
}

const actionWords: Record<DsnRecipient['action'], string> = {
  failed: 'delivery failed permanently',
  delayed: 'delivery is delayed; the mail system is still trying',
  delivered: 'delivered',
  relayed: 'relayed to a mail system that does not send delivery reports',
  expanded: 'delivered to an alias or list, which passed it on to its members',
};

/** Part 1: the explanation for people (RFC 6522 §3: the first part of a report). */
export function formatHumanText(input: DsnInput, returned: 'full' | 'headers'): string {
  // UTF-8 is kept in this part: it is sent 8bit or quoted-printable as the report allows
  const clean = (s: string): string => cleanText(s, true);
  const date = (ms: number): string => formatDate(ms, input.zoneOffset);
  const lines: string[] = [`This is the mail system at ${cleanText(input.reportingMta, false)}.`, ''];
  const what = returned === 'full' ? 'Your message is attached.' : 'The headers of your message are attached.';
  if (input.kind === 'failure') {
    lines.push(...wrap(`Your message could not be delivered to one or more recipients. ${what}`));
  } else if (input.kind === 'delay') {
    lines.push(
      ...wrap(
        `Your message has not yet been delivered to one or more recipients. The mail system ` +
          `will keep trying; you do not need to send it again. You will get another report ` +
          `only if delivery finally fails. ${what}`,
      ),
    );
  } else {
    lines.push(...wrap(`Your message was delivered as requested to the recipients below. ${what}`));
  }
  for (const r of input.recipients) {
    lines.push('', ...wrap(`<${clean(r.finalRecipient)}>: ${actionWords[r.action]}.`));
    if (r.originalRecipient) {
      const orig = r.originalRecipient.replace(/^[A-Za-z0-9-]+;[ \t]*/, '');
      if (orig.toLowerCase() !== r.finalRecipient.toLowerCase()) {
        lines.push(...indented(`(you sent it to <${clean(orig)}>)`));
      }
    }
    lines.push(`    Status: ${r.status}${statusTitle(r.status)}`);
    if (r.diagnostic !== undefined) {
      const d = diagnosticOf(r.diagnostic);
      const said =
        d.type === 'smtp'
          ? r.remoteMta
            ? `The mail server ${cleanText(r.remoteMta, false)} said: ${clean(d.text)}`
            : `The reply was: ${clean(d.text)}`
          : r.remoteMta
            ? `While talking to ${cleanText(r.remoteMta, false)}: ${clean(d.text)}`
            : `Reason: ${clean(d.text)}`;
      lines.push(...indented(said));
    }
    if (r.lastAttemptAt !== undefined) lines.push(`    Last attempt: ${date(r.lastAttemptAt)}`);
    if (r.action === 'delayed' && r.willRetryUntil !== undefined) {
      lines.push(`    Will keep trying until: ${date(r.willRetryUntil)}`);
    }
  }
  lines.push('');
  if (input.kind === 'failure') {
    lines.push(
      ...wrap(
        'What to do: check each address above for typing mistakes. If an address is right, ' +
          'the reply from the receiving mail server says why it refused the message; sending ' +
          'it again will not help until that is fixed. If you need help, forward this report ' +
          'to your mail administrator.',
      ),
    );
  } else if (input.kind === 'delay') {
    lines.push(
      ...wrap(
        'What to do: nothing for now. If the recipient is expecting the message urgently, ' +
          'you may tell them another way that it is on its way.',
      ),
    );
  } else {
    lines.push(...wrap('Nothing more needs to be done.'));
  }
  return lines.join('\r\n') + '\r\n';
}

/** Part 2: the message/delivery-status (or global) body, CRLF line ends (RFC 3464 §2.1.3). */
export function formatDeliveryStatus(input: DsnInput): string {
  const global = input.smtpUtf8 === true;
  const date = (ms: number): string => formatDate(ms, input.zoneOffset);
  const field = (name: string, value: string): string => foldHeader(name, value) + '\r\n';
  // RFC 3464 §2.2: per-message-fields, in the ABNF's order
  let out = '';
  if (input.envid !== undefined && input.envid !== '') {
    // RFC 3464 §2.2.1: the ENVID as given (xtext decoded); anything unprintable re-encoded
    const envid = input.envid.replace(
      /[^\x21-\x7e]|[+=]/g,
      (c) => `+${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`,
    );
    out += field('Original-Envelope-Id', envid);
  }
  out += field('Reporting-MTA', `dns; ${cleanText(input.reportingMta, false)}`);
  if (input.arrivalDate !== undefined) out += field('Arrival-Date', date(input.arrivalDate));
  // RFC 3464 §2.3: one group per recipient, each preceded by a blank line
  for (const r of input.recipients) {
    out += '\r\n';
    if (r.originalRecipient) out += field('Original-Recipient', typedAddress(r.originalRecipient, global));
    out += field('Final-Recipient', typedAddress(r.finalRecipient, global));
    out += field('Action', r.action);
    out += field('Status', r.status);
    if (r.remoteMta) out += field('Remote-MTA', `dns; ${cleanText(r.remoteMta, false)}`);
    if (r.diagnostic !== undefined) {
      const d = diagnosticOf(r.diagnostic);
      out += field('Diagnostic-Code', `${d.type}; ${cleanText(d.text, global)}`);
    }
    if (r.lastAttemptAt !== undefined) out += field('Last-Attempt-Date', date(r.lastAttemptAt));
    // RFC 3464 §2.3.9: Will-Retry-Until only in "delayed" reports
    if (r.action === 'delayed' && r.willRetryUntil !== undefined) {
      out += field('Will-Retry-Until', date(r.willRetryUntil));
    }
  }
  return out;
}
