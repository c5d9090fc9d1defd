/**
 * @module imap-server
 * The IMAP front end: listeners (plain with STARTTLS, or implicit TLS as on port 993),
 * connection limits, the hub that tells sessions on one mailbox about each other's changes,
 * and a clean close.
 * Standards: RFC 9051 / RFC 3501 (IMAP), RFC 8314 §3.3 (implicit TLS on 993), RFC 9051 §5.4
 *   (autologout timer of at least 30 minutes; IDLE sessions are not idle).
 * Security: passwords only over TLS, or from loopback clients unless configured otherwise;
 *   beyond maxConnections in total or maxConnectionsPerIp from one address a client gets
 *   "* BYE [UNAVAILABLE]" and is disconnected; logins are counted by the authentication
 *   throttle shared with SMTP and POP3 (policy/auth-throttle). See imap-session for the rest.
 * Limitations: the hub is per process (another process's changes are seen through the file
 *   system watch and the periodic check).
 */
import { channel } from 'node:diagnostics_channel';
import net from 'node:net';
import tls from 'node:tls';
import { channels, type MailFolderStore, type QuotaGate } from '../../core/index.js';
import { AuthThrottle } from '../../policy/auth-throttle.js';
import { FetchCache } from './fetch-cache.js';
import { FetchCacheDisk } from './fetch-cache-disk.js';
import { MailboxHub } from './mailbox-hub.js';
import type { ImapSession } from './imap-session.js';
import type { ImapSessionContext } from './session-types.js';
import { SessionRoster, listenAll, renewListenerTls, type BoundListener, type ListenSpec } from '../connection/index.js';

export interface ImapServerOptions {
  readonly hostname: string;
  readonly folders: MailFolderStore;
  /** verifies a full address (domain lower-cased) and password */
  readonly authenticate: (user: string, password: string) => Promise<boolean>;
  readonly tls?: { readonly key: string | Buffer; readonly cert: string | Buffer };
  /** where passwords are accepted without TLS; default "loopback" */
  readonly plaintextAuth?: 'never' | 'loopback' | 'always';
  /** RFC 9051 §5.4: at least 30 minutes; default 1800000 */
  readonly idleTimeoutMs?: number;
  /** before login; default 60000 */
  readonly loginTimeoutMs?: number;
  readonly maxConnections?: number;
  readonly maxConnectionsPerIp?: number;
  readonly authThrottle?: AuthThrottle;
  readonly authFailureDelayMs?: number;
  readonly maxAuthFailures?: number;
  /** APPENDLIMIT (RFC 7889); default 25 MB */
  readonly appendLimit?: number;
  /** the periodic check of a selected mailbox while IDLE (besides the file system watch); default 1000 */
  readonly idlePollMs?: number;
  /** mailbox quotas: the QUOTA extension (RFC 9208) and OVERQUOTA on APPEND and COPY */
  readonly quota?: QuotaGate;
  /** the fetch cache's file (fetch-cache-disk; serve: `<data_dir>/imap-cache.sqlite`); absent: in memory only */
  readonly fetchCacheFile?: string;
  /** a fetch cache made by the caller (serve: also filled from the text index's reads), instead of one made from fetchCacheFile */
  readonly fetchCache?: FetchCache;
  /** messages from this size on are streamed from their file for RFC822/BODY[]/BINARY[] (fetch-stream); tests and benches set it */
  readonly fetchStreamFrom?: number;
  /** APPEND literals from this size on are streamed to the store as they arrive (append-stream); tests set it */
  readonly appendStreamFrom?: number;
}

export type ImapListenOptions = ListenSpec;

export type ImapBoundAddress = BoundListener;

const connectionChannel = channel(channels.connection);

export class ImapServer {
  private ctx: ImapSessionContext;
  private readonly servers: net.Server[] = [];
  private readonly sessions: SessionRoster<ImapSession>;
  /**
   * The session code (codecs, commands) is loaded at the first connection, not at start: a
   * process that serves no IMAP client keeps a smaller heap (the 100 MB streaming test's RSS
   * budget is sensitive to it).
   */
  private sessionModule: Promise<typeof import('./imap-session.js')> | undefined;

  constructor(private readonly options: ImapServerOptions) {
    const secureContext = options.tls ? tls.createSecureContext({ key: options.tls.key, cert: options.tls.cert }) : undefined;
    this.ctx = {
      hostname: options.hostname,
      folders: options.folders,
      authenticate: options.authenticate,
      secureContext,
      plaintextAuth: options.plaintextAuth ?? 'loopback',
      idleTimeoutMs: options.idleTimeoutMs ?? 30 * 60_000,
      loginTimeoutMs: options.loginTimeoutMs ?? 60_000,
      authFailureDelayMs: options.authFailureDelayMs ?? 1000,
      maxAuthFailures: options.maxAuthFailures ?? 3,
      authThrottle: options.authThrottle ?? new AuthThrottle(),
      appendLimit: options.appendLimit ?? 25 * 1024 * 1024,
      idlePollMs: options.idlePollMs ?? 1000,
      hub: new MailboxHub(),
      fetchCache: options.fetchCache ?? new FetchCache(undefined, options.fetchCacheFile ? new FetchCacheDisk(options.fetchCacheFile) : undefined),
      ...(options.quota ? { quota: options.quota } : {}),
      ...(options.fetchStreamFrom !== undefined && { fetchStreamFrom: options.fetchStreamFrom }),
      ...(options.appendStreamFrom !== undefined && { appendStreamFrom: options.appendStreamFrom }),
    };
    this.sessions = new SessionRoster(options.maxConnections ?? 500, options.maxConnectionsPerIp ?? 50);
  }

  /** A new certificate for the connections that start from now on (reload). */
  setTls(creds: { readonly key: string | Buffer; readonly cert: string | Buffer }): void {
    this.ctx = { ...this.ctx, secureContext: renewListenerTls(this.servers, creds) };
  }

  get connectionCount(): number {
    return this.sessions.size;
  }

  async listen(specs: readonly ImapListenOptions[]): Promise<ImapBoundAddress[]> {
    if (this.sessions.closing) throw new Error('ImapServer is closed');
    return listenAll(specs, this.options.tls, (s, secure) => this.accept(s, secure), this.servers);
  }

  private accept(socket: net.Socket, secure: boolean): void {
    // RFC 9051 §7.1.5: BYE at connection; RFC 5530 UNAVAILABLE
    const ip = this.sessions.admit(socket, '* BYE [UNAVAILABLE] Too many connections, try again later\r\n');
    if (ip === undefined) return;
    this.sessionModule ??= import('./imap-session.js');
    this.sessionModule.then(
      (m) => this.startSession(m.ImapSession, socket, ip, secure),
      () => {
        this.sessions.release(ip);
        socket.destroy();
      },
    );
  }

  private startSession(Session: typeof ImapSession, socket: net.Socket, ip: string, secure: boolean): void {
    if (this.sessions.closing || socket.destroyed) {
      this.sessions.release(ip);
      socket.destroy();
      return;
    }
    const session = new Session(socket, this.ctx, secure);
    this.sessions.add(session, ip);
    if (connectionChannel.hasSubscribers) connectionChannel.publish({ session: 'imap', remoteAddress: socket.remoteAddress, secure });
    session.start();
  }

  /** Stops listening and closes every connection with "* BYE". */
  async close(): Promise<void> {
    const ended = this.sessions.close((s) => s.shutdown());
    const closes = this.servers.map((s) => new Promise<void>((r) => s.close(() => r())));
    this.servers.length = 0;
    await Promise.all([...closes, ended]);
    this.ctx.fetchCache?.close();
  }
}
