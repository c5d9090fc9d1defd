/**
 * @module server/connection
 * The framing layer shared by the line-protocol sessions (SMTP, POP3, the coming IMAP): one
 * LineConnection over any Duplex (socket, TLS socket, stdio); and the listeners of the
 * mailbox-access servers (listenAll) and any server's TCP or UNIX-socket bind (bindServer).
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
export { listenAll, bindServer, renewListenerTls, type ListenSpec, type BoundListener, type BindAddress } from './listeners.js';
