/**
 * @module smtp-server
 * The SMTP front end: listeners for the MX service (25), submission (587, STARTTLS then AUTH),
 * submissions (465, implicit TLS) and LMTP (RFC 2033); each on TCP or a UNIX-domain socket
 * ("unix:/path"); connection limits; graceful close.
 * Standards: RFC 5321 (SMTP), RFC 6409 (message submission), RFC 8314 (implicit TLS, port 465),
 *   RFC 3207 (STARTTLS), RFC 4954 (AUTH), RFC 2033 (LMTP); see smtp-session.ts for the
 *   per-command rules.
 * Security: each listener runs its mode's policy (policy/): total and per-IP connection limits
 *   (421 4.7.0 past them), AUTH before MAIL on submission, sender rules for every authenticated
 *   session, relay control; AUTH is not offered on the MX port unless `authOnMx`. AUTH attempts
 *   counted per client address and per account by the shared policy/auth-throttle, then 421
 *   (address) or 454 (account).
 *   A UNIX socket's file mode (socketMode, default 0660) is its access rule: whoever may
 *   connect is a local process and is trusted as trusted_networks' clients are (may relay);
 *   submission listeners there still want AUTH.
 * Limitations: no PROXY protocol, no per-IP rate limits beyond connections and AUTH failures;
 *   a UNIX socket's connections all count as one client for the per-IP limit.
 *
 * Usage:
 *   const server = new SmtpServer({ intake, hostname: 'mx.example.org', tls: { key, cert } });
 *   await server.listen([{ host: '127.0.0.1', port: 2525, mode: 'mx' }]);
 *   server.addresses();  // [{ host, port, mode }] with the ports actually bound
 *   await server.close(); // stop listening, let sessions finish (closeTimeoutMs), then 421
 */
import net from 'node:net';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { Intake, SessionInfo } from '../../core/intake.js';
import type { ListenMode } from '../../core/policy.js';
import type { SmtpReply } from '../../core/smtp-reply.js';
import { replies } from '../../core/replies.js';
import { AuthThrottle } from '../../policy/auth-throttle.js';
import { buildSmtpPolicy, type StagePolicy } from '../../policy/index.js';
import { SmtpSession, type SessionContext } from './smtp-session.js';
import { LiveList } from '../../util/index.js';
import { acceptOn, bindServer, bindShared, ClientCounts, handleAddress, type ListenHandle } from '../connection/index.js';

export type { ListenMode };

export interface ListenAddress {
  readonly host: string;
  /** 0 picks a free port; see addresses() */
  readonly port: number;
  /** a UNIX-domain socket instead of host and port */
  readonly path?: string;
  readonly mode: ListenMode;
}

export interface SmtpServerOptions {
  /** where accepted messages go (the one way into the spool) */
  readonly intake: Intake;
  /** our name in the greeting, EHLO reply and 221/421 replies */
  readonly hostname: string;
  /** octets; advertised as SIZE and enforced at MAIL and while streaming. Default 25 MB. */
  readonly maxMessageSize?: number;
  /** recipients per transaction, then 452 4.5.3. Default 1000 (RFC 5321 requires ≥ 100). */
  readonly maxRecipients?: number;
  /** concurrent connections in total. Default 1000. */
  readonly maxConnections?: number;
  /** concurrent connections per client IP. Default 20. */
  readonly maxConnectionsPerIp?: number;
  /**
   * a whole command line, from when the server starts waiting for it to its end (RFC 5321
   * §4.5.3.2.7: 5 min); not renewed by each octet. Default 300000.
   */
  readonly commandTimeoutMs?: number;
  /**
   * a whole DATA body or BDAT chunk (RFC 5321 §4.5.3.2.6: 3 min), plus one second per
   * minDataRate octets received. Default 180000.
   */
  readonly dataTimeoutMs?: number;
  /** octets per second that extend dataTimeoutMs (see there). Default 500 (Postfix's smtpd_min_data_rate). */
  readonly minDataRate?: number;
  /** 5xx replies in a session before 421 and close. Default 20. */
  readonly maxErrors?: number;
  /** CIDR list whose clients may relay without AUTH, e.g. ["127.0.0.0/8", "::1/128"]. Default []. */
  readonly trustedNetworks?: readonly string[];
  /** PEM key and certificate; enables STARTTLS and the 'submissions' mode */
  readonly tls?: { readonly key: string | Buffer; readonly cert: string | Buffer };
  /** verifies AUTH PLAIN/LOGIN credentials; without it AUTH is not offered */
  readonly authenticate?: (user: string, password: string) => Promise<boolean>;
  /** on submission/submissions listeners, MAIL needs AUTH first (530 5.7.0). Default true. */
  readonly authRequired?: boolean;
  /** offer AUTH on the MX listeners too (`smtp.auth_on_mx`). Default false. */
  readonly authOnMx?: boolean;
  /** offer AUTH without TLS (loopback tests only). Default false. */
  readonly allowPlainAuthWithoutTls?: boolean;
  /** VRFY handler; default 252 2.5.0 (cannot verify, will attempt delivery) */
  readonly vrfy?: (session: SessionInfo, argument: string) => Promise<SmtpReply>;
  /**
   * EXPN handler (RFC 5321 §3.5.2): a multi-line 250 with a list's members, or a refusal.
   * Default 502 5.5.1 (RFC 5321 §7.3: EXPN may be disabled).
   */
  readonly expn?: (session: SessionInfo, argument: string) => Promise<SmtpReply>;
  /** delay before answering a failed AUTH. Default 1000. */
  readonly authFailureDelayMs?: number;
  /**
   * the authentication throttle shared with the other protocols (app/ makes one for all);
   * without it the server makes its own from maxAuthFailures and authFailureWindowMs
   */
  readonly authThrottle?: AuthThrottle;
  /** failed AUTHs per client IP within authFailureWindowMs before 421. Default 5. */
  readonly maxAuthFailures?: number;
  /** Default 15 minutes. */
  readonly authFailureWindowMs?: number;
  /** permission bits of UNIX-socket listeners' files. Default 0o660. */
  readonly socketMode?: number;
  /** LMTP listeners' socket files, when they differ from socketMode. Default socketMode. */
  readonly lmtpSocketMode?: number;
  /** how long close() lets sessions finish before 421. Default 30000. */
  readonly closeTimeoutMs?: number;
  /**
   * which domains are ours: enables relay control at RCPT (policy/ relay-control) in the
   * policies built from these options; ignored when `policies` is given (they carry their own)
   */
  readonly isLocalDomain?: (domain: string) => Promise<boolean>;
  /**
   * The checks of each listener mode (policy/smtpPolicyFromConfig). Absent: built by
   * buildSmtpPolicy from the options above (limits, trustedNetworks, authRequired, authOnMx,
   * isLocalDomain, vrfy, expn), with no sender rules; without isLocalDomain there is no relay
   * control (servers in tests, whose intake decides). Given, it replaces those options.
   */
  readonly policies?: Readonly<Record<ListenMode, StagePolicy>>;
  /**
   * The listening sockets are bound here but accepted on by other processes (`[smtp]
   * processes`): listen() binds without listening, sharedListeners() gives the handles to pass
   * to them, and each of them serves its own with acceptOn(). Default false.
   */
  readonly acceptElsewhere?: boolean;
}

/** A listening socket bound by one process, accepted on by others (sharedListeners, acceptOn). */
export interface SharedListener {
  readonly handle: ListenHandle;
  readonly mode: ListenMode;
  /** a UNIX socket (its clients are local processes) */
  readonly local: boolean;
}

interface Listener {
  /** accepting here */
  readonly server?: net.Server;
  /** only bound here (acceptElsewhere) */
  readonly handle?: ListenHandle;
  readonly mode: ListenMode;
  readonly path?: string;
}

export class SmtpServer {
  private readonly listeners: Listener[] = [];
  /** not a Set: util/live-list.ts says why (issue 11) */
  private readonly sessions = new LiveList<SmtpSession>();
  private readonly perIp = new ClientCounts();
  private readonly authThrottle: AuthThrottle;
  private secureContext: SecureContext | undefined;
  private policies: Readonly<Record<ListenMode, StagePolicy>>;
  private closing = false;

  /** Throws when trustedNetworks has an invalid entry or the TLS key/cert are unusable. */
  constructor(private options: SmtpServerOptions) {
    this.authThrottle =
      options.authThrottle ??
      new AuthThrottle({ maxFailuresPerAddress: options.maxAuthFailures, windowMs: options.authFailureWindowMs });
    this.secureContext = options.tls ? createSecureContext({ key: options.tls.key, cert: options.tls.cert }) : undefined;
    this.policies = SmtpServer.policiesFor(options);
  }

  private static policiesFor(options: SmtpServerOptions): Readonly<Record<ListenMode, StagePolicy>> {
    return (
      options.policies ??
      buildSmtpPolicy({
        hostname: options.hostname,
        maxMessageSize: options.maxMessageSize ?? 25 * 1024 * 1024,
        maxRecipients: options.maxRecipients ?? 1000,
        maxConnections: options.maxConnections ?? 1000,
        maxConnectionsPerIp: options.maxConnectionsPerIp ?? 20,
        authRequired: options.authRequired ?? true,
        authOnMx: options.authOnMx ?? false,
        trustedNetworks: options.trustedNetworks ?? [],
        ...(options.isLocalDomain ? { isLocalDomain: options.isLocalDomain } : {}),
        answers: { vrfy: options.vrfy, expn: options.expn },
      })
    );
  }

  /**
   * New settings for the sessions that start from now on (a reload); sessions in progress keep
   * theirs. Throws, changing nothing, when the trusted networks or TLS key/cert are unusable.
   */
  reconfigure(patch: Partial<Omit<SmtpServerOptions, 'authThrottle' | 'maxAuthFailures' | 'authFailureWindowMs'>>): void {
    const next = { ...this.options, ...patch };
    const secureContext = next.tls ? createSecureContext({ key: next.tls.key, cert: next.tls.cert }) : undefined;
    const policies = SmtpServer.policiesFor(next);
    this.options = next;
    this.secureContext = secureContext;
    this.policies = policies;
  }

  /**
   * Starts listening on every address (with acceptElsewhere: binds them for other processes);
   * rejects (and listens on none) if one fails.
   */
  async listen(addresses: readonly ListenAddress[]): Promise<void> {
    const started: Listener[] = [];
    try {
      for (const a of addresses) {
        if (a.mode === 'submissions' && !this.secureContext) throw new Error(`submissions on ${a.host}:${a.port} needs tls`);
        const local = a.path !== undefined;
        const socketMode = a.mode === 'lmtp' ? (this.options.lmtpSocketMode ?? this.options.socketMode) : this.options.socketMode;
        const path = local ? { path: a.path } : {};
        if (this.options.acceptElsewhere) {
          started.push({ handle: await bindShared(a, socketMode), mode: a.mode, ...path });
        } else {
          const server = net.createServer((socket) => this.accept(socket, a.mode, local));
          await bindServer(server, a, socketMode);
          started.push({ server: quiet(server), mode: a.mode, ...path });
        }
      }
    } catch (err) {
      for (const l of started) void closeListener(l);
      throw err;
    }
    for (const l of started) this.addListener(l);
  }

  /** The sockets listen() bound for other processes (acceptElsewhere), to pass to each of them. */
  sharedListeners(): SharedListener[] {
    return this.listeners.flatMap((l) => (l.handle ? [{ handle: l.handle, mode: l.mode, local: l.path !== undefined }] : []));
  }

  /**
   * Accepts and serves connections on sockets another process bound and sent here (its
   * sharedListeners()); resolves once each listens.
   */
  async acceptOn(shared: readonly SharedListener[]): Promise<void> {
    for (const s of shared) {
      const server = net.createServer((socket) => this.accept(socket, s.mode, s.local));
      await acceptOn(server, s.handle);
      this.addListener({ server: quiet(server), mode: s.mode });
    }
  }

  private addListener(l: Listener): void {
    this.listeners.push(l);
    if (!this.perMode.has(l.mode)) this.perMode.set(l.mode, 0);
  }

  /** The addresses actually bound (useful with port 0); a UNIX socket as host "unix", port 0 and its path. */
  addresses(): { host: string; port: number; mode: ListenMode; path?: string }[] {
    return this.listeners.flatMap(({ server, handle, mode, path }) => {
      if (path !== undefined) return [{ host: 'unix', port: 0, mode, path }];
      const a = handle ? handleAddress(handle) : server?.address();
      if (!a || typeof a !== 'object') return [];
      return [{ host: 'host' in a ? a.host : a.address, port: a.port, mode }];
    });
  }

  /** Number of open sessions. */
  get connections(): number {
    return this.sessions.size;
  }

  /** Open sessions per listener mode, every listening mode included (metrics). */
  connectionsByMode(): { mode: ListenMode; count: number }[] {
    return [...this.perMode].map(([mode, count]) => ({ mode, count }));
  }
  private readonly perMode = new Map<ListenMode, number>();

  private context(mode: ListenMode, localSocket: boolean): SessionContext {
    const o = this.options;
    const policy = this.policies[mode];
    return {
      intake: o.intake,
      hostname: o.hostname,
      mode,
      maxMessageSize: o.maxMessageSize ?? 25 * 1024 * 1024,
      maxRecipients: Math.max(100, o.maxRecipients ?? 1000),
      commandTimeoutMs: o.commandTimeoutMs ?? 300_000,
      dataTimeoutMs: o.dataTimeoutMs ?? 180_000,
      minDataRate: o.minDataRate ?? 500,
      maxErrors: o.maxErrors ?? 20,
      trusted: policy.trusted,
      localSocket,
      secureContext: this.secureContext,
      // RFC 4954: AUTH only where the policy offers it (the MX port only with authOnMx)
      authenticate: policy.offersAuth ? o.authenticate : undefined,
      authRequired: o.authRequired ?? true,
      allowPlainAuthWithoutTls: o.allowPlainAuthWithoutTls ?? false,
      policy,
      authFailureDelayMs: o.authFailureDelayMs ?? 1000,
      authThrottle: this.authThrottle,
    };
  }

  private accept(socket: net.Socket, mode: ListenMode, localSocket: boolean): void {
    const session = new SmtpSession(socket, this.context(mode, localSocket));
    const ip = session.remoteAddress;
    const perIp = this.perIp.add(ip);
    const entry = this.sessions.add(session);
    this.perMode.set(mode, (this.perMode.get(mode) ?? 0) + 1);
    const connections = this.sessions.size;
    // the connect stage (connection limits) answers in place of the greeting
    const refusal = async (): Promise<SmtpReply | undefined> =>
      this.closing
        ? replies.serviceUnavailable(this.options.hostname)
        : this.policies[mode].connect({ session: session.info(), connections, fromClient: perIp });
    const done = (): void => {
      this.sessions.delete(entry);
      this.perMode.set(mode, Math.max(0, (this.perMode.get(mode) ?? 1) - 1));
      this.perIp.remove(ip);
      this.wakeClose?.();
    };
    void refusal()
      .then((refuse) => session.run(refuse), () => session.run(replies.localError()))
      .finally(done);
  }

  private wakeClose: (() => void) | undefined;

  /**
   * Stops listening and leaves the open sessions to their clients (an SMTP acceptor process
   * replaced at a reload: Postfix's smtpd likewise ends after its client); then sessionsEnded().
   * A close() meanwhile drains them as usual.
   */
  async stopListening(): Promise<void> {
    const closed = this.listeners.map((l) => closeListener(l));
    this.listeners.length = 0;
    await Promise.all(closed);
  }

  /** Resolves once no session is open (looked at every 200 ms). */
  async sessionsEnded(): Promise<void> {
    while (this.sessions.size > 0) await new Promise((r) => setTimeout(r, 200));
  }

  /** Stops listening, lets sessions finish for closeTimeoutMs, then sends 421 to the rest. */
  async close(): Promise<void> {
    this.closing = true;
    const closed = this.listeners.map((l) => closeListener(l));
    this.listeners.length = 0;
    for (const s of this.sessions) s.shutdown();
    const deadline = Date.now() + (this.options.closeTimeoutMs ?? 30_000);
    while (this.sessions.size > 0) {
      const left = deadline - Date.now();
      if (left <= 0) {
        for (const s of this.sessions) s.kill();
        await new Promise((r) => setTimeout(r, 50));
        if (Date.now() - deadline > 3000) break;
        continue;
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wakeClose = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wakeClose = undefined;
    }
    await Promise.all(closed);
  }
}

/** accept errors (EMFILE ...) must not crash the process */
function quiet(server: net.Server): net.Server {
  return server.on('error', () => undefined);
}

/** Stops a listener: resolves once a server has closed (a bound-only handle at once). */
function closeListener(l: Listener): Promise<void> {
  l.handle?.close();
  const server = l.server;
  return server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
}
