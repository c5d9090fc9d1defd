/**
 * @module smtp-commands
 * What the SMTP client says and hears outside the session's flow: the extensions an EHLO reply
 * offers, and the MAIL and RCPT lines composed from a transaction and those extensions. Pure.
 * Standards: RFC 5321 §4.1.1.1 (EHLO reply), §4.1.1.2–3 (MAIL, RCPT); RFC 1870 (SIZE); RFC 6152
 *   (BODY=8BITMIME); RFC 6531 (SMTPUTF8); RFC 3461 §4 (NOTIFY, ORCPT, RET, ENVID, xtext).
 * Security: a path with CR, LF, "<", ">" or NUL is never written (no command injection): the
 *   sender throws, a recipient becomes a local 501 reply that is never sent.
 * Limitations: parameters are sent only for the extensions the server offered; others are
 *   dropped silently (the caller converts 8-bit bodies itself).
 */
import { reply, type SmtpReply } from '../core/index.js';
import { encodeXtext } from '../protocol/smtp/index.js';
import { SmtpClientError, type ClientRecipient, type ClientMailParams } from './smtp-client-types.js';

/** What the server's EHLO reply offered (RFC 5321 §4.1.1.1). */
export interface SmtpExtensions {
  readonly esmtp: boolean;
  readonly pipelining: boolean;
  /** SIZE: the declared maximum (0 = no fixed maximum); undefined when SIZE is not offered */
  readonly size?: number;
  readonly eightBitMime: boolean;
  readonly smtpUtf8: boolean;
  readonly dsn: boolean;
  readonly starttls: boolean;
  readonly chunking: boolean;
  readonly enhancedStatusCodes: boolean;
  /** AUTH mechanisms, upper case */
  readonly auth: readonly string[];
  /** every keyword (upper case) → its parameters as given */
  readonly keywords: ReadonlyMap<string, string>;
}

/** Parses the lines of a 250 EHLO reply; the first line is the server's greeting text. */
export function parseExtensions(ehlo: SmtpReply): SmtpExtensions {
  const keywords = new Map<string, string>();
  for (const line of ehlo.lines.slice(1)) {
    const m = /^([A-Za-z0-9][A-Za-z0-9-]*)(?:[ =](.*))?$/.exec(line.trim());
    if (m && !keywords.has(m[1].toUpperCase())) keywords.set(m[1].toUpperCase(), (m[2] ?? '').trim());
  }
  const sizeParam = keywords.get('SIZE');
  const size = sizeParam === undefined ? undefined : /^\d+$/.test(sizeParam) ? Number(sizeParam) : 0;
  return {
    esmtp: true,
    pipelining: keywords.has('PIPELINING'),
    size,
    eightBitMime: keywords.has('8BITMIME'),
    smtpUtf8: keywords.has('SMTPUTF8'),
    dsn: keywords.has('DSN'),
    starttls: keywords.has('STARTTLS'),
    chunking: keywords.has('CHUNKING'),
    enhancedStatusCodes: keywords.has('ENHANCEDSTATUSCODES'),
    auth: (keywords.get('AUTH') ?? '').split(/\s+/).filter(Boolean).map((s) => s.toUpperCase()),
    keywords,
  };
}

export const noExtensions: SmtpExtensions = {
  esmtp: false,
  pipelining: false,
  eightBitMime: false,
  smtpUtf8: false,
  dsn: false,
  starttls: false,
  chunking: false,
  enhancedStatusCodes: false,
  auth: [],
  keywords: new Map(),
};

const unsafePath = /[\r\n<>\0]/;

/** The MAIL FROM line for `sender` with the parameters the server's extensions allow. */
export function mailCommand(sender: string, p: ClientMailParams, ext: SmtpExtensions): string {
  if (unsafePath.test(sender)) throw new SmtpClientError('protocol', 'unsafe characters in sender');
  let cmd = `MAIL FROM:<${sender}>`;
  if (ext.size !== undefined && p.size !== undefined) cmd += ` SIZE=${p.size}`;
  if (ext.eightBitMime && p.body) cmd += ` BODY=${p.body}`;
  if (ext.smtpUtf8 && p.smtpUtf8) cmd += ' SMTPUTF8';
  if (ext.dsn && p.ret) cmd += ` RET=${p.ret}`;
  if (ext.dsn && p.envid) cmd += ` ENVID=${encodeXtext(p.envid)}`;
  return cmd;
}

/** The RCPT TO line for `r`, or the local 501 reply that stands for it when it cannot be sent. */
export function rcptCommand(r: ClientRecipient, ext: SmtpExtensions): string | SmtpReply {
  if (unsafePath.test(r.address)) return reply(501, '5.1.3', 'Bad recipient address syntax (not sent)');
  let cmd = `RCPT TO:<${r.address}>`;
  if (ext.dsn && r.dsn) {
    if (r.dsn.notify && r.dsn.notify.length > 0) cmd += ` NOTIFY=${r.dsn.notify.join(',')}`;
    if (r.dsn.orcpt) {
      const i = r.dsn.orcpt.indexOf(';');
      if (i > 0) cmd += ` ORCPT=${r.dsn.orcpt.slice(0, i)};${encodeXtext(r.dsn.orcpt.slice(i + 1))}`;
    }
  }
  return cmd;
}
