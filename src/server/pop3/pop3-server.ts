/**
 * @module pop3-server
 * The POP3 front end: listeners (plain with STLS, or implicit TLS as on port 995), connection
 * limits, the shared maildrop locks, and a clean close.
 * Standards: RFC 1939 (POP3; §3 autologout timer of at least 10 minutes), RFC 2595 §4 (STLS),
 *   RFC 8314 §3.3 (implicit TLS on 995), RFC 2449 (CAPA), RFC 5034 (AUTH).
 * Security: passwords only over TLS unless allowPlainWithoutTls (loopback tests); beyond
 *   maxConnections in total or maxConnectionsPerIp from one address a client gets
 *   "-ERR [SYS/TEMP]" and is disconnected; logins are counted by the authentication throttle
 *   shared with SMTP (policy/auth-throttle); each session is bound by an idle timer. See pop3-session for the per-command rules.
 * Limitations: locks are per process (see maildrop-locks).
 */
import { channel } from 'node:diagnostics_channel';
import net from 'node:net';
import tls from 'node:tls';
import { channels, type MailboxStore } from '../../core/index.js';
import { formatPop3Response, pop3Responses } from '../../protocol/pop3/index.js';
import { AuthThrottle } from '../../policy/auth-throttle.js';
import { MaildropLocks } from './maildrop-locks.js';
import { Pop3Session, type Pop3SessionContext } from './pop3-session.js';
import { SessionRoster, listenAll, renewListenerTls, type BoundListener, type ListenSpec } from '../connection/index.js';

export interface Pop3ServerOptions {
  /** the name in the greeting and sign-off */
  readonly hostname: string;
  readonly mailboxes: MailboxStore;
  /** verifies a full address (domain lower-cased) and password; false for unknown users too */
  readonly authenticate: (user: string, password: string) => Promise<boolean>;
  /** certificate and key: enables STLS on plain listeners and implicit TLS listeners */
  readonly tls?: { readonly key: string | Buffer; readonly cert: string | Buffer };
  /** accept USER/PASS and AUTH PLAIN without TLS (loopback tests only); default false */
  readonly allowPlainWithoutTls?: boolean;
  /** RFC 1939 §3: autologout after at least 10 minutes of inactivity; default 600000 */
  readonly idleTimeoutMs?: number;
  /** concurrent connections over all listeners; default 200 */
  readonly maxConnections?: number;
  /** concurrent connections from one client address; default 20 */
  readonly maxConnectionsPerIp?: number;
  /** the authentication throttle shared with the other protocols (app/ makes one for all); default: the server's own */
  readonly authThrottle?: AuthThrottle;
  /** delay before answering a failed login; default 1000 */
  readonly authFailureDelayMs?: number;
  /** failed logins in one session before it is closed; default 3 */
  readonly maxAuthFailures?: number;
}

export type Pop3ListenOptions = ListenSpec;

export type Pop3BoundAddress = BoundListener;

const connectionChannel = channel(channels.connection);

export class Pop3Server {
  private ctx: Pop3SessionContext;
  private readonly servers: net.Server[] = [];
  private readonly sessions: SessionRoster<Pop3Session>;

  constructor(private readonly options: Pop3ServerOptions) {
    const secureContext = options.tls ? tls.createSecureContext({ key: options.tls.key, cert: options.tls.cert }) : undefined;
    this.ctx = {
      hostname: options.hostname,
      mailboxes: options.mailboxes,
      authenticate: options.authenticate,
      secureContext,
      allowPlainWithoutTls: options.allowPlainWithoutTls ?? false,
      idleTimeoutMs: options.idleTimeoutMs ?? 600_000,
      authFailureDelayMs: options.authFailureDelayMs ?? 1000,
      maxAuthFailures: options.maxAuthFailures ?? 3,
      authThrottle: options.authThrottle ?? new AuthThrottle(),
      locks: new MaildropLocks(),
    };
    this.sessions = new SessionRoster(options.maxConnections ?? 200, options.maxConnectionsPerIp ?? 20);
  }

  /**
   * A new certificate and key (a reload) for the connections that start from now on, STLS and
   * implicit TLS alike. Throws, changing nothing, when they are unusable.
   */
  setTls(creds: { readonly key: string | Buffer; readonly cert: string | Buffer }): void {
    this.ctx = { ...this.ctx, secureContext: renewListenerTls(this.servers, creds) };
  }

  /** Number of open connections. */
  get connectionCount(): number {
    return this.sessions.size;
  }

  /** Starts the listeners; resolves with the bound addresses once all listen. */
  async listen(specs: readonly Pop3ListenOptions[]): Promise<Pop3BoundAddress[]> {
    if (this.sessions.closing) throw new Error('Pop3Server is closed');
    return listenAll(specs, this.options.tls, (s, secure) => this.accept(s, secure), this.servers);
  }

  private accept(socket: net.Socket, secure: boolean): void {
    const ip = this.sessions.admit(socket, formatPop3Response(pop3Responses.tooManyConnections()));
    if (ip === undefined) return;
    const session = new Pop3Session(socket, this.ctx, secure);
    this.sessions.add(session, ip);
    if (connectionChannel.hasSubscribers) {
      connectionChannel.publish({ session: 'pop3', remoteAddress: socket.remoteAddress, secure });
    }
    session.start();
  }

  /**
   * Stops listening and closes every connection. Sessions are dropped without UPDATE
   * (RFC 1939 §6: only QUIT removes messages).
   */
  async close(): Promise<void> {
    const ended = this.sessions.close((s) => s.destroy());
    const closes = this.servers.map((s) => new Promise<void>((r) => s.close(() => r())));
    this.servers.length = 0;
    await Promise.all([...closes, ended]);
  }
}
