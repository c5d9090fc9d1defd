/**
 * @module parse-arf
 * Reads a feedback report in the Abuse Reporting Format: the fields of its
 * message/feedback-report part and the header fields of the reported message (its
 * text/rfc822-headers or message/rfc822 part). DMARC failure reports come in this format.
 * Standards: RFC 5965 §2 (multipart/report; report-type=feedback-report: the human part, the
 *   message/feedback-report part, the original as message/rfc822 or text/rfc822-headers), §3.1
 *   (Feedback-Type, User-Agent, Version), §3.2 (Arrival-Date, Original-Mail-From,
 *   Original-Rcpt-To, Reported-Domain, Source-IP, Authentication-Results …); RFC 6591 §3
 *   (Feedback-Type: auth-failure; Auth-Failure, Delivery-Result, DKIM-Domain, SPF-DNS …);
 *   RFC 7489 §7.3.1 (Identity-Alignment); RFC 6522 (multipart/report).
 * Security: untrusted input: parsed by parse-dsn.ts's bounded walk (nesting depth 8, nothing
 *   inside the original message is searched for the report); no exception for a message that
 *   is not a feedback report (undefined).
 * Limitations: repeated fields (Original-Rcpt-To may be) keep the first value only.
 */
import { findHeader, parseHeaderFields, type HeaderField } from './header-block.js';
import { findReportPart } from './parse-dsn.js';

export interface ParsedArf {
  /** the fields of the message/feedback-report part, names lower case, values unfolded (first wins) */
  readonly fields: Readonly<Record<string, string>>;
  /** lower case: abuse, auth-failure, fraud, not-spam, other, virus */
  readonly feedbackType: string;
  /** the reported message's header fields, when the report carries them */
  readonly original: readonly HeaderField[];
}

/** Parses a feedback report (a whole message, CRLF or LF line ends); undefined when it is none. */
export function parseArf(input: string | Buffer): ParsedArf | undefined {
  const text = typeof input === 'string' ? input : input.toString('utf8');
  const report = findReportPart(text, ['message/feedback-report']);
  if (!report) return undefined;
  const fields: Record<string, string> = {};
  for (const f of parseHeaderFields(report.text)) {
    const name = f.name.toLowerCase();
    if (!(name in fields)) fields[name] = f.value.trim();
  }
  const orig = findReportPart(text, ['text/rfc822-headers', 'message/rfc822']);
  const end = orig ? /\r?\n\r?\n/.exec(orig.text) : null;
  const original = orig ? parseHeaderFields(end ? orig.text.slice(0, end.index) : orig.text) : [];
  return { fields, feedbackType: (fields['feedback-type'] ?? '').toLowerCase(), original };
}

/** The first value of a field of the reported message, or "". */
export function originalField(arf: ParsedArf, name: string): string {
  return findHeader(arf.original, name)?.trim() ?? '';
}
