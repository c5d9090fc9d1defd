/**
 * @module sasl-base64
 * The base64 carried in SASL exchanges (SMTP AUTH, POP3 AUTH, IMAP AUTHENTICATE).
 * Standards: RFC 4648 §4 (base64); RFC 4954 §4 and RFC 5034 §4 ("=" is an empty initial
 *   response; "*" cancels, handled by the exchange).
 * Security: strict and canonical (no whitespace, correct padding, zero pad bits), so garbage
 *   is refused rather than silently decoded into something else.
 * Limitations: none.
 */

const base64Re = /^[A-Za-z0-9+/]*={0,2}$/;

/** Strict base64 to octets; undefined when the text is not canonical base64. "=" is empty. */
export function decodeSaslBase64(text: string): Buffer | undefined {
  if (text === '=') return Buffer.alloc(0);
  if (text.length % 4 !== 0 || !base64Re.test(text)) return undefined;
  const buf = Buffer.from(text, 'base64');
  // Non-canonical encodings (non-zero padding bits) do not survive the round trip.
  return buf.toString('base64') === text ? buf : undefined;
}

/** Octets to base64, as a challenge is sent ("" stays "" for an empty challenge). */
export function encodeSaslBase64(data: string | Buffer): string {
  return Buffer.from(data).toString('base64');
}
