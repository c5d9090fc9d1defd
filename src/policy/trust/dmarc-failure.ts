/**
 * @module dmarc-failure
 * DMARC failure reports (`ruf`): which evaluations the domain's `fo` asks a report for, and the
 * report itself in the Abuse Reporting Format with the header of the failed message.
 * Standards: RFC 7489 §6.3 (fo: 0 all mechanisms failed to give an aligned pass, 1 any did,
 *   d a DKIM signature failed, s SPF failed), §7.3 (failure reports, RFC 6591 format; the
 *   Identity-Alignment field, §7.3.1), §7.1 (external destinations are checked by the caller);
 *   RFC 6591 §3.1-§3.2 (Feedback-Type: auth-failure; Auth-Failure: dmarc; Delivery-Result;
 *   Reported-Domain, Source-IP, Original-Mail-From, Arrival-Date, Authentication-Results);
 *   RFC 5965 §2 (multipart/report; report-type=feedback-report: a human part, the
 *   message/feedback-report part, the original as text/rfc822-headers); RFC 6522.
 * Security: only the header of the failed message is sent, never its body (RFC 7489 §7.3 leaves
 *   redaction to the reporter; a header is enough to find the source). Field values from the
 *   message are reduced to one line. Rate limits are the caller's (app/dmarc-failures.ts).
 * Limitations: one report per message and policy domain; no `rf` other than afrf.
 */
import { randomBytes } from 'node:crypto';

/** What the inbound check hands over for one failed (or, with fo=1/d/s, partly failed) evaluation. */
export interface DmarcFailure {
  /** the domain whose record asked (the policy domain) */
  readonly domain: string;
  readonly headerFrom: string;
  readonly ruf: readonly string[];
  readonly sourceIp: string;
  /** the envelope sender ("" for the null sender) */
  readonly mailFrom: string;
  /** our Authentication-Results field's value for the message */
  readonly authResults: string;
  /** RFC 6591 §3.2 Delivery-Result: what we did */
  readonly delivery: 'delivered' | 'spam' | 'reject';
  /** RFC 7489 §7.3.1: the identifiers that did not align ("dkim", "spf") */
  readonly unaligned: readonly ('dkim' | 'spf')[];
  /** the failed message's header, as received (CRLF line ends) */
  readonly header: string;
  readonly at: number;
}

/**
 * RFC 7489 §6.3 fo: does this evaluation call for a failure report? `dmarcFailed` is the DMARC
 * result; the aligned flags and the raw results say which mechanism failed.
 */
export function failureWanted(fo: readonly string[], e: { dmarcFailed: boolean; dkimAligned: boolean; spfAligned: boolean; dkimFailed: boolean; spfFailed: boolean }): boolean {
  return (
    (fo.includes('0') && e.dmarcFailed) ||
    (fo.includes('1') && (!e.dkimAligned || !e.spfAligned)) ||
    (fo.includes('d') && e.dkimFailed) ||
    (fo.includes('s') && e.spfFailed)
  );
}

const line = (s: string): string => s.replace(/[\r\n]+\s*/g, ' ').replace(/[^\x20-\x7e\t]/g, '?').trim();

/** RFC 5965 / RFC 6591: the failure report as a message from `from` to `to` (CRLF line ends). */
export function dmarcFailureMessage(f: DmarcFailure, reporter: string, from: string, to: string): Buffer {
  const boundary = `=_correio_afrf_${randomBytes(12).toString('hex')}`;
  const date = new Date(f.at).toUTCString().replace('GMT', '+0000');
  const feedback = [
    'Feedback-Type: auth-failure',
    'User-Agent: correio',
    'Version: 1',
    `Original-Mail-From: <${line(f.mailFrom)}>`,
    `Arrival-Date: ${date}`,
    `Source-IP: ${line(f.sourceIp)}`,
    `Reported-Domain: ${line(f.headerFrom)}`,
    `Authentication-Results: ${line(f.authResults)}`,
    'Auth-Failure: dmarc',
    `Delivery-Result: ${f.delivery}`,
    `Identity-Alignment: ${f.unaligned.length > 0 ? f.unaligned.join(', ') : 'none'}`,
  ].join('\r\n');
  // the header as received; a line of bare 8-bit octets is kept (8bit part), folded lines too
  const header = f.header.replace(/\r?\n/g, '\r\n').replace(/(\r\n)+$/, '');
  const eightBit = /[^\x00-\x7f]/.test(header);
  return Buffer.from(
    [
      `From: <${from}>`,
      `To: <${to}>`,
      `Subject: DMARC failure report for ${line(f.headerFrom)} from ${line(f.sourceIp)}`,
      `Date: ${date}`,
      `Message-ID: <${randomBytes(12).toString('hex')}@${reporter}>`,
      'MIME-Version: 1.0',
      `Content-Type: multipart/report; report-type=feedback-report; boundary="${boundary}"`,
      '',
      `--${boundary}`,
      'Content-Type: text/plain; charset=us-ascii',
      '',
      `A message claiming to be from ${line(f.headerFrom)} failed DMARC at ${reporter} (RFC 7489 section 7.3).`,
      `It came from ${line(f.sourceIp)}; it was ${f.delivery === 'reject' ? 'refused' : f.delivery === 'spam' ? 'delivered to Junk' : 'delivered'}.`,
      '',
      `--${boundary}`,
      'Content-Type: message/feedback-report',
      '',
      feedback,
      '',
      `--${boundary}`,
      'Content-Type: text/rfc822-headers',
      ...(eightBit ? ['Content-Transfer-Encoding: 8bit'] : []),
      '',
      header,
      '',
      `--${boundary}--`,
      '',
    ].join('\r\n'),
    'utf8',
  );
}
