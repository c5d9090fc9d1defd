/**
 * @module pop3-responses
 * Named POP3 response factories, so each decision picks its response by name where it is made.
 * Standards: RFC 1939 §4-§7 (texts follow its examples), RFC 2449 §8 (IN-USE),
 *   RFC 3206 §4-§5 (SYS/TEMP, SYS/PERM, AUTH), RFC 2595 §4 (STLS), RFC 5034 §4 (AUTH).
 * Security: texts are plain protocol wording; none reveals whether a user exists, or any
 *   configuration or internal error.
 * Limitations: no LOGIN-DELAY or EXPIRE policy responses (never announced).
 */
import { err, ok, type Pop3Response } from './pop3-response.js';

export const pop3Responses = {
  // RFC 1939 §4: the greeting. No APOP timestamp: APOP is not offered.
  greeting: (host: string): Pop3Response => ok(`${host} POP3 server ready`),
  signingOff: (host: string): Pop3Response => ok(`${host} POP3 server signing off`),
  signingOffWithCount: (host: string, left: number): Pop3Response =>
    ok(`${host} POP3 server signing off (${left} message${left === 1 ? '' : 's'} left)`),
  userAccepted: (): Pop3Response => ok('send PASS'),
  loggedIn: (count: number, size: number): Pop3Response =>
    ok(`maildrop locked and ready, ${count} message${count === 1 ? '' : 's'} (${size} octets)`),
  stat: (count: number, size: number): Pop3Response => ok(`${count} ${size}`),
  scanListing: (n: number, size: number): Pop3Response => ok(`${n} ${size}`),
  scanListings: (count: number, size: number, lines: readonly string[]): Pop3Response =>
    ok(`${count} message${count === 1 ? '' : 's'} (${size} octets)`, lines),
  uidListing: (n: number, uid: string): Pop3Response => ok(`${n} ${uid}`),
  uidListings: (lines: readonly string[]): Pop3Response => ok('unique-id listing follows', lines),
  retrieving: (size: number): Pop3Response => ok(`${size} octets`),
  topFollows: (): Pop3Response => ok('top of message follows'),
  deleted: (n: number): Pop3Response => ok(`message ${n} deleted`),
  noop: (): Pop3Response => ok(''),
  reset: (count: number, size: number): Pop3Response =>
    ok(`maildrop has ${count} message${count === 1 ? '' : 's'} (${size} octets)`),
  capabilities: (caps: readonly string[]): Pop3Response => ok('Capability list follows', caps),
  mechanisms: (mechs: readonly string[]): Pop3Response => ok('SASL mechanisms follow', mechs),
  beginTls: (): Pop3Response => ok('Begin TLS negotiation'),

  // -ERR: syntax and sequence
  unknownCommand: (): Pop3Response => err('unknown command'),
  lineTooLong: (): Pop3Response => err('command line too long'),
  syntaxError: (what = 'syntax error'): Pop3Response => err(what),
  badState: (): Pop3Response => err('command not valid in this state'),
  noSuchMessage: (): Pop3Response => err('no such message'),
  alreadyDeleted: (n: number): Pop3Response => err(`message ${n} already deleted`),
  userFirst: (): Pop3Response => err('send USER first'),

  // -ERR: authentication (RFC 3206 §5: [AUTH] means the credentials were refused)
  authFailed: (): Pop3Response => err('authentication failed', 'AUTH'),
  plaintextNeedsTls: (): Pop3Response => err('plaintext authentication disallowed without TLS; use STLS', 'AUTH'),
  tooManyAuthFailures: (): Pop3Response => err('too many authentication failures', 'AUTH'),
  authCancelled: (): Pop3Response => err('authentication cancelled'),
  badBase64: (): Pop3Response => err('invalid base64 in SASL response'),
  badSaslMessage: (): Pop3Response => err('malformed SASL response'),
  // the account's failures from every address reached the limit (policy/auth-throttle)
  authThrottled: (): Pop3Response => err('authentication temporarily refused, try again later', 'SYS/TEMP'),
  // the login waited too long behind others from its address or for its account (policy/auth-throttle)
  authBusy: (): Pop3Response => err('too many logins in progress, try again later', 'SYS/TEMP'),
  unsupportedMechanism: (): Pop3Response => err('unsupported authentication mechanism'),
  // RFC 2449 §8.1.2: authenticated, but another session holds the maildrop.
  inUse: (): Pop3Response => err('maildrop already locked by another session', 'IN-USE'),

  // -ERR: TLS (RFC 2595 §4)
  tlsActive: (): Pop3Response => err('command not permitted when TLS active'),
  tlsUnavailable: (): Pop3Response => err('STLS not available'),

  // -ERR: system (RFC 3206 §4)
  maildropUnavailable: (): Pop3Response => err('unable to open maildrop, try again later', 'SYS/TEMP'),
  localError: (): Pop3Response => err('local error in processing, try again later', 'SYS/TEMP'),
  notAllRemoved: (): Pop3Response => err('some deleted messages not removed', 'SYS/TEMP'),
  tooManyConnections: (): Pop3Response => err('too many connections, try again later', 'SYS/TEMP'),
  shuttingDown: (): Pop3Response => err('server shutting down', 'SYS/TEMP'),
} as const;
