/**
 * @module smtp-client-types
 * The SMTP client's vocabulary: timeouts, options, the transaction it is given and the result it
 * returns, and its one error type.
 * Standards: RFC 5321 §4.5.3.2 (client timeouts); RFC 3461 (DSN parameters); RFC 2033 (LMTP).
 * Security: see smtp-client.ts. Limitations: none of its own (types only).
 */
import type tls from 'node:tls';
import type { Readable } from 'node:stream';
import type { DsnParams, SmtpReply } from '../core/index.js';

/** Client timeouts in ms (RFC 5321 §4.5.3.2 gives the minutes in the defaults). */
export interface SmtpTimeouts {
  /** TCP connect (not in the RFC); default 30 s */
  connect: number;
  /** initial 220: 5 min */
  greeting: number;
  /** EHLO, HELO, STARTTLS, AUTH, RSET, NOOP: 5 min */
  command: number;
  /** MAIL: 5 min */
  mail: number;
  /** RCPT: 5 min */
  rcpt: number;
  /** DATA initiation (354): 2 min */
  dataInit: number;
  /** each data block written (no progress for this long): 3 min */
  dataBlock: number;
  /** the reply to the final ".": 10 min */
  dataTerm: number;
  /** QUIT (not in the RFC; we do not wait long for a goodbye): 10 s */
  quit: number;
}

export const defaultSmtpTimeouts: Readonly<SmtpTimeouts> = {
  connect: 30_000,
  greeting: 300_000,
  command: 300_000,
  mail: 300_000,
  rcpt: 300_000,
  dataInit: 120_000,
  dataBlock: 180_000,
  dataTerm: 600_000,
  quit: 10_000,
};

export type SmtpClientErrorKind = 'connect' | 'timeout' | 'closed' | 'tls' | 'protocol' | 'aborted' | 'reply' | 'body';

/**
 * A session-level failure: no connection, a timeout, a dropped connection, a TLS failure, a
 * malformed reply, a refused greeting/EHLO (kind 'reply', with the reply), or a failure reading
 * the message body (kind 'body', the transaction was abandoned without the final ".").
 */
export class SmtpClientError extends Error {
  constructor(
    readonly kind: SmtpClientErrorKind,
    message: string,
    readonly reply?: SmtpReply,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SmtpClientError';
  }
}

export interface SmtpClientOptions {
  host: string;
  port: number;
  /** a UNIX-domain socket to connect to instead of host and port (LMTP to a local store) */
  path?: string;
  /** the name to connect to when host is an IP: used for TLS SNI and in messages */
  hostname?: string;
  localAddress?: string;
  /** our name for EHLO/HELO/LHLO */
  helo: string;
  /** speak LMTP (RFC 2033): LHLO, and one reply per accepted recipient after DATA */
  lmtp?: boolean;
  /** 'opportunistic' (default): STARTTLS when offered, plain when it fails to be offered;
   * 'required': fail without it; 'none': never */
  tls?: 'opportunistic' | 'required' | 'none';
  /** extra TLS options; rejectUnauthorized defaults to false (opportunistic, RFC 7435) */
  tlsOptions?: tls.ConnectionOptions;
  /** a check of the TLS session after the handshake (DANE): a reason ends the session as a 'tls' failure */
  verifyTls?: (socket: tls.TLSSocket) => string | undefined;
  timeouts?: Partial<SmtpTimeouts>;
  signal?: AbortSignal;
}

export interface ClientRecipient {
  /** "local@domain", no angle brackets */
  readonly address: string;
  /** passed as NOTIFY/ORCPT only when the server offers DSN */
  readonly dsn?: DsnParams;
}

export interface ClientMailParams {
  /** message size in octets: SIZE= when the server offers SIZE */
  readonly size?: number;
  /** BODY=8BITMIME when the server offers 8BITMIME (the caller converts otherwise) */
  readonly body?: '7BIT' | '8BITMIME';
  readonly smtpUtf8?: boolean;
  /** RET= and ENVID= when the server offers DSN */
  readonly ret?: 'FULL' | 'HDRS';
  readonly envid?: string;
}

export interface ClientTransaction {
  /** reverse path without brackets; "" for the null sender */
  readonly sender: string;
  readonly recipients: readonly ClientRecipient[];
  readonly params?: ClientMailParams;
  /** opens the message (CRLF line ends, not dot-stuffed); called once, only if DATA is sent */
  readonly body: () => Readable | Promise<Readable>;
}

export interface TransactionResult {
  readonly mail: SmtpReply;
  /** RCPT replies in recipient order (MAIL's reply for all when MAIL was refused) */
  readonly recipients: readonly SmtpReply[];
  /** the DATA (354) reply, when DATA was sent */
  readonly data?: SmtpReply;
  /** per recipient, the reply that decided it: MAIL, RCPT, DATA or the end-of-data reply
   * (LMTP: that recipient's own reply) */
  readonly final: readonly SmtpReply[];
  /** octets sent after DATA, terminator included */
  readonly bytesSent: number;
}
