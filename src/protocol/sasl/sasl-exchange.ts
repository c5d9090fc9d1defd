/**
 * @module sasl-exchange
 * The server side of one SASL exchange, the same for every protocol: the session names the
 * mechanism and the initial response, sends each challenge in its own framing (SMTP "334 ",
 * POP3 and IMAP "+ ") and hands back each response line; the exchange ends with credentials
 * to verify or with a refusal.
 * Standards: RFC 4422 §3 (exchanges, "*" aborts: RFC 4954 §4, RFC 5034 §4, RFC 9051 §6.2.2);
 *   RFC 4616 (PLAIN: one message, an empty challenge when no initial response);
 *   draft-murchison-sasl-login (LOGIN: "Username:" then "Password:" challenges).
 * Security: every response is strictly decoded (sasl-base64, sasl-plain); the rules (authzid,
 *   empty fields) live here once. Verifying the password, throttling and delays are the
 *   caller's (policy/auth-throttle), so no protocol can skip them by taking another path.
 * Limitations: PLAIN and LOGIN only; SCRAM (RFC 5802/7677) would add a mechanism that keeps
 *   state across several challenges and verifies a proof instead of returning a password.
 */
import { decodeSaslBase64, encodeSaslBase64 } from './sasl-base64.js';
import { authzidAllowed, decodeSaslPlain, decodeUtf8, type SaslCredentials, type SaslDecodeFailure } from './sasl-plain.js';

export type SaslMechanism = 'PLAIN' | 'LOGIN';
export const saslMechanisms: readonly SaslMechanism[] = ['PLAIN', 'LOGIN'];

/** How an exchange ended. */
export type SaslOutcome =
  /** credentials to verify (the authzid rule already held) */
  | { readonly kind: 'credentials'; readonly credentials: SaslCredentials }
  /** the authzid names someone else: a failed login, counted as one */
  | { readonly kind: 'refused'; readonly authcid: string }
  /** the client sent "*" (RFC 4422 §3.5) */
  | { readonly kind: 'cancelled' }
  /** undecodable response: base64 or the mechanism's syntax */
  | { readonly kind: 'malformed'; readonly reason: SaslDecodeFailure }
  /** the mechanism is not offered */
  | { readonly kind: 'unsupported' };

/**
 * Sends a base64 challenge and resolves with the client's response line; it rejects when the
 * connection ends (the session unwinds as it does for any read).
 */
export type SaslAsk = (challenge: string) => Promise<string>;

const usernameChallenge = encodeSaslBase64('Username:');
const passwordChallenge = encodeSaslBase64('Password:');

/**
 * Runs one exchange. `offered` is the protocol's list (POP3 offers PLAIN only); the mechanism
 * name is compared without case (RFC 4422 §3.1).
 */
export async function runSaslExchange(
  mechanism: string,
  initial: string | undefined,
  ask: SaslAsk,
  offered: readonly SaslMechanism[] = saslMechanisms,
): Promise<SaslOutcome> {
  const mech = mechanism.toUpperCase();
  if (!(offered as readonly string[]).includes(mech)) return { kind: 'unsupported' };
  if (mech === 'PLAIN') {
    // RFC 4616 §2 / RFC 4954 §4: without an initial response the server sends an empty challenge
    const resp = initial ?? (await ask(''));
    if (resp === '*') return { kind: 'cancelled' };
    const r = decodeSaslPlain(resp);
    if (!r.ok) return { kind: 'malformed', reason: r.reason };
    if (!authzidAllowed(r.credentials)) return { kind: 'refused', authcid: r.credentials.authcid };
    return { kind: 'credentials', credentials: r.credentials };
  }
  const userResp = initial ?? (await ask(usernameChallenge));
  if (userResp === '*') return { kind: 'cancelled' };
  const user = decodeField(userResp);
  if (typeof user !== 'string') return user;
  const passResp = await ask(passwordChallenge);
  if (passResp === '*') return { kind: 'cancelled' };
  const password = decodeField(passResp);
  if (typeof password !== 'string') return password;
  if (user === '' || password === '') return { kind: 'malformed', reason: 'syntax' };
  return { kind: 'credentials', credentials: { authzid: '', authcid: user, password } };
}

function decodeField(text: string): string | { kind: 'malformed'; reason: SaslDecodeFailure } {
  const raw = decodeSaslBase64(text);
  if (raw === undefined) return { kind: 'malformed', reason: 'base64' };
  const s = decodeUtf8(raw);
  if (s === undefined || s.includes('\u0000')) return { kind: 'malformed', reason: 'syntax' };
  return s;
}
