/**
 * @module sasl-plain
 * The PLAIN mechanism's message: decoding and the authorization-identity rule.
 * Standards: RFC 4616 §2 (message = [authzid] UTF8NUL authcid UTF8NUL passwd; each field
 *   1..255 octets of UTF-8 without NUL, authzid optional), §2 last paragraphs (the server
 *   verifies authcid/passwd, then whether authcid may act as authzid).
 * Security: strict base64 and strict UTF-8: a malformed message is refused, never guessed at.
 *   No proxy authorization: an authzid must name the authcid itself (domain compared without
 *   case), otherwise the attempt fails as a bad password would.
 * Limitations: no SASLprep (RFC 4013) of the fields; passwords are compared as sent.
 */
import { decodeSaslBase64 } from './sasl-base64.js';

export interface SaslCredentials {
  /** authorization identity; "" when absent */
  readonly authzid: string;
  /** authentication identity (the login name) */
  readonly authcid: string;
  readonly password: string;
}

/** 'base64': not canonical base64; 'syntax': not a well-formed message of the mechanism. */
export type SaslDecodeFailure = 'base64' | 'syntax';

export type SaslPlainResult =
  | { readonly ok: true; readonly credentials: SaslCredentials }
  | { readonly ok: false; readonly reason: SaslDecodeFailure };

/** RFC 4616 §2: a field is at most 255 octets. */
const maxField = 255;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Strict UTF-8 to a string; undefined for invalid sequences. */
export function decodeUtf8(b: Uint8Array): string | undefined {
  try {
    return utf8.decode(b);
  } catch {
    return undefined;
  }
}

/** Decodes a PLAIN response (base64 text as the client sent it). */
export function decodeSaslPlain(base64: string): SaslPlainResult {
  const raw = decodeSaslBase64(base64);
  if (raw === undefined) return { ok: false, reason: 'base64' };
  const first = raw.indexOf(0);
  const second = first < 0 ? -1 : raw.indexOf(0, first + 1);
  if (first < 0 || second < 0 || raw.indexOf(0, second + 1) >= 0) return { ok: false, reason: 'syntax' };
  const z = raw.subarray(0, first);
  const c = raw.subarray(first + 1, second);
  const p = raw.subarray(second + 1);
  if (c.length === 0 || p.length === 0 || z.length > maxField || c.length > maxField || p.length > maxField) {
    return { ok: false, reason: 'syntax' };
  }
  const authzid = decodeUtf8(z);
  const authcid = decodeUtf8(c);
  const password = decodeUtf8(p);
  if (authzid === undefined || authcid === undefined || password === undefined) return { ok: false, reason: 'syntax' };
  return { ok: true, credentials: { authzid, authcid, password } };
}

/**
 * RFC 4616 §2: without proxy authorization, an authzid may only name the authcid itself.
 * Logins are full addresses whose domain is case-insensitive (RFC 5321 §2.4).
 */
export function authzidAllowed(c: SaslCredentials): boolean {
  return c.authzid === '' || sameLogin(c.authzid, c.authcid);
}

function sameLogin(a: string, b: string): boolean {
  const ia = a.lastIndexOf('@');
  const ib = b.lastIndexOf('@');
  if (ia < 0 || ib < 0) return a === b;
  return a.slice(0, ia) === b.slice(0, ib) && a.slice(ia + 1).toLowerCase() === b.slice(ib + 1).toLowerCase();
}
