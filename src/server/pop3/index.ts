/**
 * @module server/pop3
 * The POP3 server: listeners, sessions, maildrop locks.
 * Standards: RFC 1939, RFC 2449, RFC 2595, RFC 3206, RFC 5034, RFC 8314.
 * Security: see pop3-session and pop3-server. Limitations: see each module.
 */
export { Pop3Server, type Pop3ServerOptions, type Pop3ListenOptions, type Pop3BoundAddress } from './pop3-server.js';
export { Pop3Session, normalizeUser, type Pop3SessionContext } from './pop3-session.js';
export { uidForKey } from './maildrop-snapshot.js';
export { MaildropLocks } from './maildrop-locks.js';
