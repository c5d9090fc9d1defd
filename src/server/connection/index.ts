/**
 * @module server/connection
 * The framing layer shared by the line-protocol sessions (SMTP, POP3, the coming IMAP): one
 * LineConnection over any Duplex (socket, TLS socket, stdio); and the listeners of the
 * mailbox-access servers (listenAll).
 * Standards, Security, Limitations: see line-connection.ts.
 */
export {
  LineConnection,
  normalizeIp,
  TIMEOUT,
  CLOSED,
  LONG,
  INTERRUPTED,
  type LineResult,
  type LineEnd,
  type WaitResult,
  type LineConnectionOptions,
} from './line-connection.js';
export { listenAll, renewListenerTls, type ListenSpec, type BoundListener } from './listeners.js';
