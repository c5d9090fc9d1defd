/**
 * @module smtp-session
 * The server side of one SMTP connection: greeting, command dispatch, EHLO, STARTTLS, and the
 * session state that transactions and AUTH read. It runs over any Duplex (a socket, or
 * stdin/stdout for `sendmail -bs`); framing, buffering, backpressure, whole-line timeouts and the
 * TLS upgrade are server/connection's; the command line's limits and decoding command-line.ts's;
 * MAIL/RCPT/DATA/BDAT are mail-transaction.ts's and the AUTH exchange smtp-auth.ts's.
 * Standards: RFC 5321 §4.1 (commands), §3.3 (transactions), §4.5.3 (limits), §4.5.3.2 (timeouts),
 *   §4.2.5 (reply after end of data); RFC 1869/5321 EHLO; RFC 2920 (PIPELINING: replies are
 *   buffered and flushed when the input is drained); RFC 3030 (CHUNKING); RFC 1870 (SIZE);
 *   RFC 6152 (8BITMIME); RFC 6531 (SMTPUTF8); RFC 2034/3463 (enhanced status codes, only after
 *   EHLO); RFC 3461 (DSN parameters); RFC 3207 (STARTTLS); RFC 4954 (AUTH PLAIN, LOGIN);
 *   RFC 4616 (PLAIN); RFC 6409 (submission: AUTH required); RFC 2033 (LMTP, the `lmtp` mode:
 *   LHLO instead of HELO/EHLO, and after the final dot or last BDAT one reply per accepted
 *   recipient, in RCPT order).
 * Security: everything the client sends is hostile. Command lines over 512 octets, text lines
 *   over 1000 octets, bare LF and bare CR in DATA are refused; a lone "<LF>.<LF>" never ends DATA
 *   (SMTP smuggling). Input pipelined after STARTTLS is discarded before the handshake
 *   (CVE-2011-0411). A command line must arrive whole within command_timeout, and a DATA
 *   body or BDAT chunk within data_timeout plus size / min_data_rate, whatever the gaps
 *   between its octets. AUTH only over TLS (unless configured for loopback tests); SASL decoding
 *   and its rules are protocol/sasl's, and every attempt is counted by the shared
 *   policy/auth-throttle (per address and per account) before its password is checked;
 *   failures are delayed. A body is held whole only up to 64 KB; past that it is
 *   streamed to the intake with backpressure.
 * Limitations: an LMTP reply after the data says the message is in the durable spool (RFC 2033
 *   §4.2 lets the server accept responsibility); the spool then delivers into the mailbox, and a
 *   mailbox that fails later gets a DSN like any delivery. No BINARYMIME, no AUTH mechanisms beyond PLAIN and LOGIN, no TURN/ETRN; VRFY and
 *   EXPN answer through the server's hooks (252 / 502 without them).
 */
import type { Duplex } from 'node:stream';
import diagnostics from 'node:diagnostics_channel';
import type { SessionInfo } from '../../core/intake.js';
import { MailError, replyForError, type SmtpReply } from '../../core/smtp-reply.js';
import { replies } from '../../core/replies.js';
import { channels } from '../../core/events.js';
import type { ListenMode } from '../../core/policy.js';
import { buildSmtpPolicy, type StagePolicy } from '../../policy/index.js';
import { encodeReply, parseCommandLine } from '../../protocol/smtp/index.js';
import { authExchange, type AuthExchangeIo } from './smtp-auth.js';
import { MAX_AUTH_LINE, MAX_COMMAND_LINE, decodeCommandLine, lmtpVerb } from './command-line.js';
import { SmtpSessionInfo } from './smtp-session-info.js';
import { MailTransaction, refuseIf, type TransactionHost } from './mail-transaction.js';
import type { BodyReadEnd } from './body-reader.js';
import { CloseSession, closeSession, type SessionContext } from './session-types.js';
import { CLOSED, INTERRUPTED, LONG, TIMEOUT, LineConnection, type LineEnd } from '../connection/index.js';

export type { ListenMode, SessionContext };

let sessionCounter = 0;
/** what command() returns once QUIT was answered: run() ends the session */
const QUIT_ANSWERED = 1;

export class SmtpSession {
  readonly id: string;
  readonly remoteAddress: string;
  /** framing, buffering, backpressure and TLS upgrade: the session only dispatches */
  private readonly conn: LineConnection;
  private closing = false;
  private killed = false;
  private trustedPeer: boolean | undefined;
  private localAddress: string | undefined;

  // session state
  private heloName: string | undefined;
  private esmtp = false;
  private tls: { protocol: string; cipher: string } | undefined;
  private authUser: string | undefined;
  private errors = 0;
  private readonly policy: StagePolicy;
  /** the mail transaction (RFC 5321 §3.3): MAIL, RCPT, DATA/BDAT */
  private readonly tx: MailTransaction;
  /** what the transaction (and the policy refusals) use of this session */
  private readonly host: TransactionHost;

  /** `stream`: a TCP socket, or any Duplex (stdin/stdout for `sendmail -bs`) */
  constructor(
    stream: Duplex,
    private readonly ctx: SessionContext,
  ) {
    this.policy =
      ctx.policy ??
      buildSmtpPolicy({ hostname: ctx.hostname, maxMessageSize: ctx.maxMessageSize, maxRecipients: ctx.maxRecipients, authRequired: ctx.authRequired })[ctx.mode];
    this.id = `${Date.now().toString(36)}.${(++sessionCounter).toString(36)}`;
    this.conn = new LineConnection(stream);
    this.remoteAddress = this.conn.remoteAddress;
    this.host = {
      ctx,
      conn: this.conn,
      policy: this.policy,
      remoteAddress: this.remoteAddress,
      esmtp: () => this.esmtp,
      info: () => this.info(),
      reply: (r) => this.reply(r),
      publish: (name, message) => this.publish(name, message),
      readEnded: (how) => this.readEnded(how),
    };
    this.tx = new MailTransaction(this.host);
  }

  /** Queues a reply; replies are written when the input is drained (RFC 2920 §3.1). */
  private reply(r: SmtpReply, opts: { enhanced?: boolean } = {}): void {
    if (r.code >= 500) this.errors++;
    this.conn.queue(encodeReply(r, opts.enhanced ?? this.esmtp));
  }
  /**
   * Sends `r` (if given) and closes. `now` (after QUIT): closes at once once the reply is with
   * the kernel; otherwise waits (up to 2 s) for the client to close, because closing while its
   * input is still unread would send a reset that can discard the reply (see LineConnection.end).
   */
  private async end(r?: SmtpReply, opts: { enhanced?: boolean; now?: boolean } = {}): Promise<void> {
    if (r) this.reply(r, { enhanced: opts.enhanced });
    await this.conn.end(opts.now);
  }

  private publish(name: string, message: object): void {
    const ch = diagnostics.channel(name);
    if (ch.hasSubscribers) ch.publish(message);
  }

  /** Asks the session to finish: idle sessions get 421 now, busy ones after their transaction. */
  shutdown(): void {
    this.closing = true;
    this.conn.interrupt();
  }
  /** Deadline passed: 421 and close whatever the session is doing. */
  kill(): void {
    if (this.conn.closed || this.killed) return;
    this.killed = true;
    this.conn.kill(encodeReply(replies.serviceUnavailable(this.ctx.hostname), this.esmtp));
  }

  // ---- session info ----
  /** what info() answers until the session state it reports changes (noted by changed()) */
  private infoCache: SessionInfo | undefined;
  /** The HELO name, TLS or login changed: info() is made again (policy and intake ask it for every command). */
  private changed(): void {
    this.infoCache = undefined;
  }

  info(): SessionInfo {
    return (this.infoCache ??= this.makeInfo());
  }

  private makeInfo(): SessionInfo {
    // the peer and local addresses do not change during a session: look them up once (the
    // local one only when asked: a getsockname(2) per connection that nothing on the accept path reads)
    this.trustedPeer ??= this.ctx.localSocket === true || this.ctx.trusted.contains(this.remoteAddress);
    const lmtp = this.ctx.mode === 'lmtp';
    // LMTP hands over mail for local mailboxes only: its clients never relay (RFC 2033 §1)
    const trusted = this.trustedPeer && !lmtp;
    const base = this.esmtp ? 'ESMTP' : 'SMTP';
    const protocol = lmtp ? 'LMTP' : this.esmtp ? `${base}${this.tls ? 'S' : ''}${this.authUser !== undefined ? 'A' : ''}` : base;
    return new SmtpSessionInfo({
      protocol,
      heloName: this.heloName,
      // a UNIX socket's peer has no address: Received then says only "from <helo>"
      remoteAddress: this.ctx.localSocket ? undefined : this.remoteAddress,
      remotePort: this.conn.remotePort,
      tls: this.tls,
      authUser: this.authUser,
      mayRelay: trusted || this.authUser !== undefined,
      submission: this.ctx.mode === 'submission' || this.ctx.mode === 'submissions',
    }, this.lookUpLocal);
  }

  /** the local address, looked up once, when first read (SmtpSessionInfo.localAddress) */
  private readonly lookUpLocal = (): string | undefined => (this.localAddress ??= this.conn.localAddress);

  // ---- main loop ----
  /** Runs the session to its end; never rejects. `refuse` answers 421 in place of the greeting. */
  async run(refuse?: SmtpReply): Promise<void> {
    this.publish(channels.connection, { session: this.id, remoteAddress: this.remoteAddress, mode: this.ctx.mode });
    try {
      if (this.ctx.mode === 'submissions' && !(await this.upgradeTls())) return;
      if (refuse) {
        await this.end(refuse, { enhanced: true });
        return;
      }
      this.reply(this.ctx.mode === 'lmtp' ? replies.lmtpGreeting(this.ctx.hostname) : replies.greeting(this.ctx.hostname));
      for (;;) {
        if (this.errors >= this.ctx.maxErrors) {
          await this.end(replies.tooManyErrors(this.ctx.hostname));
          return;
        }
        const line = await this.readLine(MAX_AUTH_LINE, this.ctx.commandTimeoutMs);
        if (line === CLOSED) return;
        if (line === TIMEOUT) {
          await this.end(replies.commandTimeout(this.ctx.hostname));
          return;
        }
        if (line === INTERRUPTED) {
          // close() was called: an idle session ends now, one inside a transaction goes on
          if (!this.tx.open && this.conn.buffered === 0) {
            await this.end(replies.serviceUnavailable(this.ctx.hostname));
            return;
          }
          continue;
        }
        if (line === LONG) {
          this.reply(replies.lineTooLong());
          continue;
        }
        if ((await this.command(line)) === QUIT_ANSWERED) return;
        if (this.closing && !this.tx.open && this.conn.buffered === 0) {
          await this.end(replies.serviceUnavailable(this.ctx.hostname));
          return;
        }
      }
    } catch (err) {
      if (!(err instanceof CloseSession)) {
        this.publish(channels.error, { error: err, where: 'smtp-session' });
        if (!this.conn.closed) await this.end(replies.localError()).catch(() => undefined);
      }
    } finally {
      await this.tx.reset();
      this.conn.destroy();
    }
  }

  /**
   * Reads one command line, decoded as UTF-8 (invalid UTF-8 becomes a line no command matches).
   * The whole line must arrive within `timeoutMs` (issue 12 item 5: not renewed by each octet).
   */
  private readLine(limit: number, timeoutMs: number): Promise<string | LineEnd> {
    return this.conn.readLine(limit, timeoutMs, decodeCommandLine);
  }

  /** Runs one command; QUIT_ANSWERED once QUIT was answered and the connection closed. */
  private async command(line: string): Promise<void | typeof QUIT_ANSWERED> {
    const { verb, args } = parseCommandLine(line);
    // RFC 5321 §4.5.3.1.4: 512 octets for a command line; AUTH lines may be longer (RFC 4954 §4)
    if (verb !== 'AUTH' && Buffer.byteLength(line) + 2 > MAX_COMMAND_LINE) {
      this.reply(replies.lineTooLong());
      return;
    }
    try {
      switch (this.ctx.mode === 'lmtp' ? lmtpVerb(verb) : verb) {
        case 'EHLO':
        case 'HELO':
          return await this.hello(verb === 'LHLO' ? 'EHLO' : (verb as 'EHLO' | 'HELO'), args);
        case 'MAIL':
          if (this.heloName === undefined) throw new MailError(replies.badSequence('Send HELO/EHLO first'));
          return await this.tx.mail(args);
        case 'RCPT':
          return await this.tx.rcpt(args);
        case 'DATA':
          return await this.tx.data(args);
        case 'BDAT':
          return await this.tx.bdatCommand(args);
        case 'RSET':
          if (args !== '') throw new MailError(replies.syntaxError());
          await this.tx.reset();
          return this.reply(replies.resetOk());
        case 'NOOP':
          return this.reply(replies.noopOk());
        case 'QUIT':
          // returned, not thrown: unwinding two async frames was 0.37 % of the acceptor's main-thread
          // samples, once per connection (docs/performance.md, session 15)
          await this.end(replies.closing(this.ctx.hostname), { now: true });
          return QUIT_ANSWERED;
        case 'VRFY':
          return await this.vrfy(args);
        case 'HELP':
          return this.reply(replies.help());
        case 'STARTTLS':
          return await this.startTls(args);
        case 'AUTH':
          return await this.auth(args);
        case 'EXPN':
          return await this.expn(args);
        case 'TURN':
        case 'ETRN':
          return this.reply(replies.notImplemented());
        default:
          return this.reply(replies.unknownCommand());
      }
    } catch (err) {
      if (err instanceof CloseSession) throw err;
      if (!(err instanceof MailError)) this.publish(channels.error, { error: err, where: `smtp ${verb}` });
      this.reply(replyForError(err));
    }
  }

  private async hello(verb: 'EHLO' | 'HELO', args: string): Promise<void> {
    // RFC 5321 §4.1.1.1: a domain or address literal is required
    const name = this.ctx.mode === 'lmtp' ? 'LHLO' : verb;
    if (args === '' || /\s/.test(args)) throw new MailError(replies.syntaxError('Syntax: ' + name + ' hostname'));
    refuseIf(this.host, 'helo', await this.policy.helo({ session: this.info(), name: args }));
    void this.tx.reset();
    this.heloName = args;
    this.esmtp = verb === 'EHLO';
    this.changed();
    if (!this.esmtp) {
      this.reply(replies.helo(this.ctx.hostname));
      return;
    }
    const ext = ['PIPELINING', `SIZE ${this.ctx.maxMessageSize}`, '8BITMIME', 'SMTPUTF8', 'ENHANCEDSTATUSCODES', 'CHUNKING', 'DSN'];
    if (this.ctx.secureContext && !this.tls) ext.push('STARTTLS');
    if (this.authOffered()) ext.push('AUTH PLAIN LOGIN');
    ext.push('HELP');
    this.reply(replies.ehlo(this.ctx.hostname, ext));
  }

  private authOffered(): boolean {
    return this.ctx.authenticate !== undefined && this.authUser === undefined && (this.tls !== undefined || this.ctx.allowPlainAuthWithoutTls);
  }

  // RFC 5321 §3.5, §7.3: VRFY and EXPN as the policy allows (252 / 502 for strangers).
  private async vrfy(args: string): Promise<void> {
    this.reply(await this.policy.vrfy(this.info(), args));
  }
  private async expn(args: string): Promise<void> {
    this.reply(await this.policy.expn(this.info(), args));
  }

  /** A body or chunk was not read to its end: the client is gone, or 421 4.4.2 and close. */
  private async readEnded(how: BodyReadEnd): Promise<never> {
    if (how === 'timeout') await this.end(replies.commandTimeout(this.ctx.hostname));
    throw closeSession;
  }

  // ---- STARTTLS (RFC 3207) ----
  private async startTls(args: string): Promise<void> {
    if (args !== '') throw new MailError(replies.syntaxError());
    if (!this.ctx.secureContext) throw new MailError(replies.notImplemented());
    if (this.tls) throw new MailError(replies.badSequence('TLS already active'));
    if (this.tx.open) throw new MailError(replies.badSequence('STARTTLS during a transaction'));
    this.reply(replies.readyForTls());
    // CVE-2011-0411: anything pipelined after STARTTLS was sent in clear text: the upgrade
    // discards it
    if (!(await this.upgradeTls())) throw closeSession;
    // RFC 3207 §4.2: forget everything learnt before TLS
    this.heloName = undefined;
    this.esmtp = false;
    this.authUser = undefined;
    this.changed();
    await this.tx.reset();
  }

  private async upgradeTls(): Promise<boolean> {
    const ctx = this.ctx.secureContext;
    if (!ctx) return false;
    this.tls = await this.conn.upgradeTls(ctx, this.ctx.commandTimeoutMs);
    this.changed();
    return this.tls !== undefined;
  }

  // ---- AUTH (RFC 4954) ----
  private async auth(args: string): Promise<void> {
    if (this.ctx.authenticate === undefined) throw new MailError(replies.notImplemented());
    if (!this.esmtp) throw new MailError(replies.badSequence('Send EHLO first'));
    if (this.authUser !== undefined) throw new MailError(replies.badSequence('Already authenticated'));
    if (this.tx.open) throw new MailError(replies.badSequence('AUTH during a transaction'));
    // RFC 4954 §4: plain-text mechanisms only under TLS (538 5.7.11)
    if (!this.tls && !this.ctx.allowPlainAuthWithoutTls) throw new MailError(replies.encryptionRequired());
    const user = await authExchange(args, this.authIo());
    if (user === undefined) return;
    this.authUser = user;
    this.changed();
  }

  private authIo(): AuthExchangeIo {
    const { hostname, authThrottle, authFailureDelayMs } = this.ctx;
    const authenticate = this.ctx.authenticate;
    if (authenticate === undefined) throw new MailError(replies.notImplemented());
    return {
      remoteAddress: this.remoteAddress,
      hostname,
      authenticate,
      authThrottle,
      authFailureDelayMs,
      reply: (r) => this.reply(r),
      challenge: (c) => this.challenge(c),
      close: async (r) => {
        await this.end(r);
        throw closeSession;
      },
      publish: (name, message) => this.publish(name, message),
    };
  }

  /** Sends a 334 challenge and reads the client's response line; "*" cancels (RFC 4954 §4). */
  private async challenge(base64: string): Promise<string> {
    this.reply(replies.saslChallenge(base64));
    let line = await this.readLine(MAX_AUTH_LINE, this.ctx.commandTimeoutMs);
    // a server shutting down lets an exchange in progress finish
    while (line === INTERRUPTED) line = await this.readLine(MAX_AUTH_LINE, this.ctx.commandTimeoutMs);
    if (line === CLOSED) throw closeSession;
    if (line === TIMEOUT) {
      await this.end(replies.commandTimeout(this.ctx.hostname));
      throw closeSession;
    }
    if (line === LONG) throw new MailError(replies.lineTooLong());
    return line;
  }
}
