/**
 * @module server/connection
 * The framing layer shared by the line-protocol sessions (SMTP, POP3, IMAP): one
 * LineConnection over any Duplex (socket, TLS socket, stdio); and the listeners of the
 * mailbox-access servers (listenAll), any server's TCP or UNIX-socket bind (bindServer),
 * listening sockets bound here and accepted on by other processes (bindShared, acceptOn), and
 * the per-client connection counts of every server (ClientCounts), and the sessions a POP3 or
 * IMAP server holds within its limits (SessionRoster).
 * Standards, Security, Limitations: see line-connection.ts, input-buffer.ts and output-queue.ts.
 */
export { LineConnection, type LineConnectionOptions } from './line-connection.js';
export { TIMEOUT, CLOSED, LONG, INTERRUPTED, type LineResult, type LineEnd, type WaitResult } from './read-results.js';
export { normalizeIp } from './peer-address.js';
export { ClientCounts } from './client-counts.js';
export { SessionRoster, type RosterSession } from './session-roster.js';
export { bindShared, acceptOn, handleAddress, type ListenHandle } from './shared-listeners.js';
export { listenAll, bindServer, renewListenerTls, type ListenSpec, type BoundListener, type BindAddress } from './listeners.js';
