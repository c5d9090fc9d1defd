/**
 * @module command-line
 * An SMTP or LMTP command line as the session reads it: its length limits, its octets decoded
 * as UTF-8, and the verbs LMTP takes in place of SMTP's.
 * Standards: RFC 5321 §4.5.3.1.4 (a command line is at most 512 octets with its CRLF);
 *   RFC 4954 §4 (AUTH lines up to 12,288 octets); RFC 6531 (SMTPUTF8: UTF-8 in commands);
 *   RFC 2033 §4.1 (LMTP: LHLO, not HELO or EHLO).
 * Security: invalid UTF-8 becomes a line no command matches (answered as unknown), never a
 *   replacement character that a later check could read as something else.
 * Limitations: none.
 */

// RFC 5321 §4.5.3.1.4: command line at most 512 octets with CRLF; RFC 4954 §4: AUTH lines 12288
export const MAX_COMMAND_LINE = 512;
export const MAX_AUTH_LINE = 12288;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A command line's octets as text; invalid UTF-8 becomes a line no command matches. */
export function decodeCommandLine(bytes: Buffer): string {
  try {
    return utf8.decode(bytes);
  } catch {
    return '\u0000invalid';
  }
}

/**
 * RFC 2033 §4.1: an LMTP server takes LHLO (answered as EHLO) and refuses HELO and EHLO with
 * 500, as it does any command it does not know.
 */
export function lmtpVerb(verb: string): string {
  if (verb === 'LHLO') return 'EHLO';
  return verb === 'HELO' || verb === 'EHLO' ? 'unknown' : verb;
}
