/**
 * @module pop3-response
 * POP3 responses as values: a status (+OK / -ERR), an optional RFC 2449 response code, a text
 * and, for multi-line responses, the lines that follow; plus the formatting to wire octets.
 * Standards: RFC 1939 §3 (status indicators, multi-line responses, byte-stuffing);
 *   RFC 2449 §3-§4 (grammar, 512-octet response lines), §8 (response codes: IN-USE, LOGIN-DELAY);
 *   RFC 3206 (SYS/TEMP, SYS/PERM, AUTH); RFC 5034 §4 (the "+ " SASL continuation).
 * Security: response text is public; callers must not put configuration or internal error text
 *   in it. CR and LF in a text are replaced so a value can never inject a second response line.
 * Limitations: a status line longer than 512 octets is truncated (RFC 2449 §4).
 */

/** RFC 2449 §8 and RFC 3206 response codes, sent as "-ERR [CODE] text". */
export type Pop3ResponseCode = 'IN-USE' | 'LOGIN-DELAY' | 'SYS/TEMP' | 'SYS/PERM' | 'AUTH';

export interface Pop3Response {
  /** true for "+OK", false for "-ERR" */
  readonly ok: boolean;
  readonly code?: Pop3ResponseCode;
  readonly text: string;
  /** present for a multi-line response: the lines after the status line, not yet dot-stuffed */
  readonly lines?: readonly string[];
}

export const pop3Limits = {
  /** RFC 2449 §4: a command line is at most 255 octets including the CRLF. */
  commandLine: 255,
  /** RFC 2449 §4: a response status line is at most 512 octets including the CRLF. */
  responseLine: 512,
  /** RFC 2449 §4 (AUTH): SASL continuation lines are not bound by the 255-octet limit. */
  saslLine: 8192,
} as const;

function clean(text: string): string {
  return text.replace(/[\r\n]+/g, ' ');
}

/** The status line, without CRLF: "+OK text", "-ERR [IN-USE] text". */
export function formatPop3StatusLine(r: Pop3Response): string {
  const parts = [r.ok ? '+OK' : '-ERR'];
  if (r.code !== undefined) parts.push(`[${r.code}]`);
  const text = clean(r.text);
  if (text !== '') parts.push(text);
  let line = parts.join(' ');
  // RFC 2449 §4: 512 octets including CRLF. Texts are ASCII in practice; cut on octets anyway.
  if (Buffer.byteLength(line) > pop3Limits.responseLine - 2) {
    line = Buffer.from(line).subarray(0, pop3Limits.responseLine - 2).toString('latin1');
  }
  return line;
}

/** RFC 1939 §3: a line that begins with "." gets one more "." in front. */
export function dotStuffLine(line: string): string {
  return line.startsWith('.') ? `.${line}` : line;
}

/** The full wire form: status line, and for multi-line responses the stuffed lines and ".". */
export function formatPop3Response(r: Pop3Response): string {
  let out = `${formatPop3StatusLine(r)}\r\n`;
  if (r.lines !== undefined) {
    for (const l of r.lines) out += `${dotStuffLine(clean(l))}\r\n`;
    out += '.\r\n';
  }
  return out;
}

/** RFC 5034 §4: a server challenge, "+ " followed by base64 (possibly empty). */
export function formatSaslChallenge(base64: string): string {
  return `+ ${base64}\r\n`;
}

export function ok(text: string, lines?: readonly string[]): Pop3Response {
  return lines === undefined ? { ok: true, text } : { ok: true, text, lines };
}

export function err(text: string, code?: Pop3ResponseCode): Pop3Response {
  return code === undefined ? { ok: false, text } : { ok: false, code, text };
}
