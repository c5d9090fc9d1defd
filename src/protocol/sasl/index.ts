/**
 * @module protocol/sasl
 * SASL for every protocol (SMTP AUTH, POP3 AUTH, the coming IMAP AUTHENTICATE and web login):
 * strict base64, the PLAIN and LOGIN mechanisms, and one server-side exchange with one set of
 * rules. Pure: no sockets; the session sends challenges in its own framing.
 * Standards: RFC 4422, RFC 4616, RFC 4648, RFC 4954 §4, RFC 5034 §4.
 * Security: see each module. Limitations: PLAIN and LOGIN only (see sasl-exchange).
 */
export { decodeSaslBase64, encodeSaslBase64 } from './sasl-base64.js';
export { decodeSaslPlain, authzidAllowed, type SaslCredentials, type SaslPlainResult, type SaslDecodeFailure } from './sasl-plain.js';
export { runSaslExchange, saslMechanisms, type SaslMechanism, type SaslOutcome, type SaslAsk } from './sasl-exchange.js';
