/**
 * @module sasl-plain
 * Decoding the SASL PLAIN message carried base64-encoded in a POP3 AUTH exchange.
 * Standards: RFC 4616 §2 (message = [authzid] NUL authcid NUL passwd); RFC 4648 §4 (base64);
 *   RFC 5034 §4 ("=" is an empty initial response, "*" cancels).
 * Security: strict base64 (no whitespace, correct padding) so that garbage is refused rather
 *   than silently decoded; a NUL inside a field is refused.
 * Limitations: none.
 */

export interface SaslPlainCredentials {
  /** authorization identity; "" when absent */
  readonly authzid: string;
  readonly authcid: string;
  readonly password: string;
}

/** Strict base64 to octets; undefined when the text is not canonical base64. */
export function decodeBase64Strict(text: string): Buffer | undefined {
  if (text === '=') return Buffer.alloc(0); // RFC 5034 §4: "=" stands for an empty response
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined;
  const buf = Buffer.from(text, 'base64');
  // Reject non-canonical encodings (non-zero padding bits): round-trip must be identical.
  return buf.toString('base64') === text ? buf : undefined;
}

export type SaslPlainResult =
  | { readonly ok: true; readonly credentials: SaslPlainCredentials }
  | { readonly ok: false; readonly reason: 'base64' | 'syntax' };

/** Decodes a PLAIN response (base64 text as the client sent it). */
export function decodeSaslPlain(base64: string): SaslPlainResult {
  const raw = decodeBase64Strict(base64);
  if (raw === undefined) return { ok: false, reason: 'base64' };
  const first = raw.indexOf(0);
  const second = first < 0 ? -1 : raw.indexOf(0, first + 1);
  if (first < 0 || second < 0 || raw.indexOf(0, second + 1) >= 0) return { ok: false, reason: 'syntax' };
  const authzid = raw.subarray(0, first).toString('utf8');
  const authcid = raw.subarray(first + 1, second).toString('utf8');
  const password = raw.subarray(second + 1).toString('utf8');
  if (authcid === '' || password === '') return { ok: false, reason: 'syntax' };
  return { ok: true, credentials: { authzid, authcid, password } };
}
