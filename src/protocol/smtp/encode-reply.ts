/**
 * @module encode-reply
 * SmtpReply values to wire text: "250-first", "250 last", with the enhanced status code on every
 * line when the session negotiated ENHANCEDSTATUSCODES (it said EHLO).
 * Standards: RFC 5321 §4.2 (reply lines, multi-line replies), §4.2.1; RFC 2034 §3 (enhanced codes
 *   on every line; none in the greeting and EHLO/HELO replies — callers omit the status there).
 * Security: CR and LF inside reply text are replaced by spaces so text can never forge a reply line.
 * Limitations: none.
 */
import type { SmtpReply } from '../../core/smtp-reply.js';

/** Encodes a reply with CRLF line ends. `enhanced` adds the RFC 3463 code when the reply has one. */
export function encodeReply(r: SmtpReply, enhanced: boolean): string {
  const prefix = enhanced && r.status !== undefined ? `${r.status} ` : '';
  // the usual reply: one line of text with no line break and no trailing space (as the loop below makes it)
  if (r.lines.length === 1) {
    const text = r.lines[0];
    if (text !== '' && text.charCodeAt(text.length - 1) !== 0x20 && !text.includes('\r') && !text.includes('\n')) return `${r.code} ${prefix}${text}\r\n`;
  }
  const lines = r.lines.length === 0 ? [''] : r.lines;
  let out = '';
  lines.forEach((text, i) => {
    const sep = i < lines.length - 1 ? '-' : ' ';
    const clean = text.replace(/[\r\n]+/g, ' ');
    out += `${r.code}${sep}${prefix}${clean}`.replace(/ +$/, '') + '\r\n';
  });
  return out;
}
